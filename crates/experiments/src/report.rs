//! The experiment's report: a table (method, mean +- std of target accuracy over seeds, the published number
//! with its source, wall time, the epoch a validator picks, the oracle, the proxy A-distance), written as
//! results.md and results.json, and a plot of target accuracy per epoch (PNG and SVG, [`crate::plot`]).

use crate::anchors::Anchors;
use crate::plot::{LineChart, Series, XAxis};
use crate::run_folder::{write_atomic, RunResult};
use crate::table::Table;
use anyhow::{Context, Result};
use serde::Serialize;
use shift_strategies::methods::{Protocol, Published};
use shift_strategies::MethodName;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub method: String,
    pub runs: usize,
    pub target_acc_mean: f64,
    pub target_acc_std: f64,
    /// Each run's last-epoch accuracy, in the runs' order (seed order).
    pub per_seed: Vec<f64>,
    /// The runs' seeds, in the same order.
    pub seeds: Vec<u64>,
    pub oracle_best_acc_mean: f64,
    /// The validator that picks an epoch of each run (`validation.select`), and the mean target accuracy of its
    /// picks; None where the runs have no scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected: Option<Selected>,
    /// The mean proxy A-distance of the runs' final features (digit runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_a_distance_mean: Option<f64>,
    /// The published number and its source, where one exists under this protocol.
    pub published: Option<Published>,
    /// A published number exists but is not set beside this run: it ran another schedule than the paper's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub published_withheld: bool,
    /// A number printed for the method under another protocol (its own network or schedule), with what
    /// differs: shown beside the row as not comparable, never as its published number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_elsewhere: Option<Published>,
    pub wall_s_mean: f64,
}

/// The epochs a validator picks, one per run, and their target accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct Selected {
    pub validator: String,
    pub target_acc_mean: f64,
    /// The picked epoch (1-based) of each run, in seed order (None: the run has no scores).
    pub epochs: Vec<Option<usize>>,
}

/// Mean and sample standard deviation (0 for a single value).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, std)
}

/// A table cell for a mean over `runs` runs: "mean +- std" over two or more, "mean (1 run)" for one, where a
/// spread of 0 would claim an agreement that no second run measured.
///
/// ```
/// use shift_experiments::report::mean_std_cell;
/// assert_eq!(mean_std_cell(0.74, 0.0123, 3), "0.7400 +- 0.0123");
/// assert_eq!(mean_std_cell(0.74, 0.0, 1), "0.7400 (1 run)");
/// ```
/// Each seed's mean over the columns `per_column` (one list of per-seed values per column), for the seeds every
/// column has: the "average" column's values, whose mean and spread are over seeds.
pub fn per_seed_mean(per_column: &[Vec<f64>]) -> Vec<f64> {
    let seeds = per_column.iter().map(Vec::len).min().unwrap_or(0);
    (0..seeds)
        .map(|i| per_column.iter().map(|v| v[i]).sum::<f64>() / per_column.len() as f64)
        .collect()
}

/// Says on stderr how long the rest of an experiment of `total` parts will take, `done` of them finished, from
/// the `ran` of them this call trained since `started` (parts reused with `--resume` cost nothing); silent when
/// nothing is left.
pub fn say_time_left(what: &str, (done, total): (usize, usize), ran: usize, started: std::time::Instant) {
    let left = total.saturating_sub(done);
    if left > 0 && ran > 0 {
        let per = started.elapsed().as_secs_f64() / ran as f64;
        eprintln!(
            "shift: {what}: {done} of {total} done, about {:.0} s left",
            per * left as f64
        );
    }
}

pub fn mean_std_cell(mean: f64, std: f64, runs: usize) -> String {
    if runs > 1 {
        format!("{mean:.4} +- {std:.4}")
    } else {
        format!("{mean:.4} ({runs} run)")
    }
}

/// One row per method that ran: the mean and spread over seeds, the epochs validator `select` picks, and the
/// published number where there is one and `comparable` (the run followed the paper's schedule); otherwise the
/// number is withheld and the row says so. A number printed under another protocol rides along as such.
pub fn summarise(
    methods: &[MethodName],
    runs: &[RunResult],
    anchors: impl Fn(MethodName) -> Anchors,
    comparable: bool,
    select: &str,
) -> Vec<Summary> {
    methods
        .iter()
        .filter_map(|&m| {
            let rs: Vec<&RunResult> = runs.iter().filter(|r| r.method == m.as_str()).collect();
            if rs.is_empty() {
                return None;
            }
            let anchor = anchors(m);
            let (mean, std) = mean_std(&rs.iter().map(|r| r.target_acc).collect::<Vec<_>>());
            let (oracle, _) = mean_std(&rs.iter().map(|r| r.oracle_best_acc).collect::<Vec<_>>());
            let (wall, _) = mean_std(&rs.iter().map(|r| r.wall_s).collect::<Vec<_>>());
            // Each run's pick (None where a run has no scores for `select`); the mean over the runs picked.
            let picks: Vec<Option<usize>> = rs
                .iter()
                .map(|r| {
                    let scores = r.validators_per_epoch.get(select)?;
                    crate::selection::pick(&scores[..scores.len().min(r.accuracy_per_epoch.len())])
                })
                .collect();
            let picked: Vec<f64> = rs
                .iter()
                .zip(&picks)
                .filter_map(|(r, p)| p.map(|e| r.accuracy_per_epoch[e]))
                .collect();
            let selected = (!picked.is_empty()).then(|| Selected {
                validator: select.to_string(),
                target_acc_mean: mean_std(&picked).0,
                epochs: picks.iter().map(|p| p.map(|e| e + 1)).collect(),
            });
            Some(Summary {
                method: m.as_str().into(),
                runs: rs.len(),
                target_acc_mean: mean,
                target_acc_std: std,
                per_seed: rs.iter().map(|r| r.target_acc).collect(),
                seeds: rs.iter().map(|r| r.seed).collect(),
                oracle_best_acc_mean: oracle,
                selected,
                proxy_a_distance_mean: rs
                    .iter()
                    .map(|r| r.proxy_a_distance)
                    .collect::<Option<Vec<f64>>>()
                    .map(|v| mean_std(&v).0),
                published: anchor.published.copied().filter(|_| comparable),
                published_withheld: !comparable && anchor.published.is_some(),
                reported_elsewhere: anchor.elsewhere.copied(),
                wall_s_mean: wall,
            })
        })
        .collect()
}

/// The table's published cell: the number under this protocol with its source; or why it is withheld; or a
/// number printed under another protocol, marked as not comparable, with what differs.
///
/// ```
/// use shift_experiments::report::published_cell;
/// use shift_strategies::methods::{Protocol, Published};
/// let elsewhere = Published { task: "mnist:mnist-m", accuracy: 0.76, source: "a README", protocol: Protocol::Other("its own network") };
/// assert_eq!(published_cell(None, false, Some(&elsewhere)), "none under this protocol (0.76 in a README: its own network)");
/// assert_eq!(published_cell(None, false, None), "none published");
/// ```
pub fn published_cell(published: Option<&Published>, withheld: bool, elsewhere: Option<&Published>) -> String {
    match (published, withheld, elsewhere) {
        (Some(p), _, _) => format!("{:.4} ({})", p.accuracy, p.source),
        (None, true, _) => "not comparable (another schedule)".to_string(),
        (
            None,
            false,
            Some(Published {
                accuracy,
                source,
                protocol: Protocol::Other(why),
                ..
            }),
        ) => {
            format!("none under this protocol ({accuracy} in {source}: {why})")
        }
        (None, false, _) => "none published".to_string(),
    }
}

/// The results table: one row per method, the notes that qualify its columns.
pub fn table(task: &str, summaries: &[Summary]) -> Table {
    // The validator column, where the runs were scored.
    let validator = summaries
        .iter()
        .find_map(|r| r.selected.as_ref().map(|v| v.validator.clone()));
    let pad = summaries.iter().any(|r| r.proxy_a_distance_mean.is_some());
    let mut headers: Vec<String> = [
        "method",
        "target acc",
        "per seed",
        "published",
        "runs",
        "wall time / run",
    ]
    .map(String::from)
    .to_vec();
    if let Some(v) = &validator {
        headers.push(format!("epoch picked by {v} (label-free)"));
    }
    headers.push("oracle best epoch*".into());
    if pad {
        headers.push("A-distance**".into());
    }
    let rows = summaries
        .iter()
        .map(|r| {
            let paper = published_cell(
                r.published.as_ref(),
                r.published_withheld,
                r.reported_elsewhere.as_ref(),
            );
            let (acc, oracle) = if r.target_acc_mean.is_nan() {
                ("none (target unlabelled)".to_string(), "none".to_string())
            } else {
                (
                    mean_std_cell(r.target_acc_mean, r.target_acc_std, r.per_seed.len()),
                    format!("{:.4}", r.oracle_best_acc_mean),
                )
            };
            // Each run's number by its seed (`0: 0.8064, 1: 0.8112`), as the sweep tables write them.
            let seeds = r
                .seeds
                .iter()
                .zip(&r.per_seed)
                .map(|(s, a)| {
                    if a.is_nan() {
                        format!("{s}: -")
                    } else {
                        format!("{s}: {a:.4}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut row = vec![
                r.method.clone(),
                acc,
                seeds,
                paper,
                r.runs.to_string(),
                format!("{:.1} s", r.wall_s_mean),
            ];
            if validator.is_some() {
                row.push(match &r.selected {
                    None => "not scored".to_string(),
                    Some(v) if v.target_acc_mean.is_nan() => "none (target unlabelled)".to_string(),
                    Some(v) => format!(
                        "{:.4} (epoch{} {})",
                        v.target_acc_mean,
                        if v.epochs.len() == 1 { "" } else { "s" },
                        v.epochs
                            .iter()
                            .map(|e| e.map_or("not scored".to_string(), |e| e.to_string()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            row.push(oracle);
            if pad {
                row.push(r.proxy_a_distance_mean.map_or("-".into(), |d| format!("{d:.3}")));
            }
            row
        })
        .collect();
    let mut notes = vec![
        "*oracle: the best epoch chosen with target test labels; shown only for comparison with code that reports it."
            .to_string(),
    ];
    if pad {
        notes.push(
            "**proxy A-distance, 2 (1 - 2 err) of a linear domain classifier on the final features of 2,000 MNIST and \
             2,000 MNIST-M test images (half to fit, half to score; mean over seeds): lower means domains harder \
             to tell apart."
                .into(),
        );
    }
    if let Some(v) = validator {
        notes.push(format!(
            "epoch picked by {v}: each run's epoch with the highest {v} score (no target label read; \
             `validation.select` names the validator, `shift report validators` ranks them all)."
        ));
    }
    Table {
        title: format!("Target test accuracy, {task} (last epoch; mean +- std over seeds)"),
        headers,
        rows,
        notes,
    }
}

/// Lines under the table: runs whose fast step ran eagerly (one line per reason), runs whose backbone started from random weights.
pub fn run_notes(runs: &[RunResult]) -> Vec<String> {
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for r in runs {
        if let Some(why) = &r.step_fallback {
            let run = format!("{} seed {}", r.method, r.seed);
            match lines.iter_mut().find(|(w, _)| w == why) {
                Some((_, rs)) => rs.push(run),
                None => lines.push((why.clone(), vec![run])),
            }
        }
    }
    let mut out: Vec<String> = lines
        .iter()
        .map(|(why, rs)| format!("fast step ran eagerly ({}): {why}", rs.join(", ")))
        .collect();
    let random: Vec<String> = runs
        .iter()
        .filter(|r| r.random_init_backbone)
        .map(|r| format!("{} seed {}", r.method, r.seed))
        .collect();
    if !random.is_empty() {
        out.push(format!(
            "RANDOM-INIT BACKBONE ({}): the ResNet-50 started from random weights, not ImageNet's",
            random.join(", ")
        ));
    }
    out
}

/// Writes results.md, results.json, accuracy.png and accuracy.svg into `out`.
pub fn write(
    out: &Path,
    task: &str,
    config: &serde_json::Value,
    runs: &[RunResult],
    summaries: &[Summary],
    table: &Table,
) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&out.join("results.md"), &table.markdown())?;
    let json = serde_json::json!({ "task": task, "config": config, "runs": runs, "summary": summaries });
    write_atomic(&out.join("results.json"), &serde_json::to_string_pretty(&json)?)?;
    let chart = plot(task, runs, summaries);
    write_atomic(&out.join("accuracy.svg"), &chart.svg()?)?;
    chart.png(&out.join("accuracy.png"))?;
    Ok(())
}

/// Target accuracy per epoch, mean over seeds, one line per method.
pub fn plot(task: &str, runs: &[RunResult], summaries: &[Summary]) -> LineChart {
    let series = summaries
        .iter()
        .filter(|s| !s.target_acc_mean.is_nan())
        .map(|s| {
            let rs: Vec<&RunResult> = runs.iter().filter(|r| r.method == s.method).collect();
            let epochs = rs.iter().map(|r| r.accuracy_per_epoch.len()).min().unwrap_or(0);
            let points = (0..epochs)
                .map(|e| {
                    let mean = rs.iter().map(|r| r.accuracy_per_epoch[e]).sum::<f64>() / rs.len() as f64;
                    ((e + 1) as f64, mean)
                })
                .collect();
            Series {
                name: s.method.clone(),
                points,
            }
        })
        .collect();
    LineChart {
        title: format!("{task}: target test accuracy per epoch (mean over seeds)"),
        x_label: "epoch".into(),
        y_label: "target accuracy".into(),
        x_axis: XAxis::Numbers,
        series,
    }
}

/// A finished experiment: the table (also in results.md) and how long the whole experiment took.
#[derive(Debug, Clone)]
pub struct Finished {
    pub table: String,
    pub seconds: f64,
    /// What the output folder holds.
    pub files: String,
}

impl Finished {
    /// Writes `table` as results.md and `doc` as results.json into `out` (made if missing): the report of an
    /// experiment started at `started`, whose folder then holds `files`.
    pub fn write(
        out: &Path,
        table: String,
        doc: &serde_json::Value,
        files: impl Into<String>,
        started: std::time::Instant,
    ) -> Result<Self> {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        write_atomic(&out.join("results.md"), &table)?;
        write_atomic(&out.join("results.json"), &serde_json::to_string_pretty(doc)?)?;
        Ok(Self {
            table,
            seconds: started.elapsed().as_secs_f64(),
            files: files.into(),
        })
    }
}
