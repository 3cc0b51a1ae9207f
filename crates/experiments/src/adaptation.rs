//! The adaptation experiment (`shift experiment dann`): the configured methods over seeds on MNIST -> MNIST-M or
//! an Office-31 pair, one run folder per run, then the table beside the published numbers, results.json and the
//! accuracy plot.

use crate::config::{self, ExperimentConfig, Task};
use crate::run_folder::RunResult;
use crate::table::Table;
use crate::{amazon, anchors, digits, office, page, report, session, Invocation};
use anyhow::Result;
use shift_strategies::TrainConfig;
use std::time::Instant;

/// A finished experiment: the table (also in results.md) and how long the whole experiment took.
#[derive(Debug, Clone)]
pub struct Finished {
    pub table: String,
    pub seconds: f64,
    /// What the output folder holds.
    pub files: &'static str,
}

/// Where `cfg` leaves the paper's schedule (`train.epochs (paper 20, now 2)`, a source or target limit): the
/// published numbers stand beside runs of the paper's schedule only.
pub fn off_schedule(cfg: &ExperimentConfig) -> Result<Vec<String>> {
    let paper = if Task::parse(&cfg.task)?.is_amazon() {
        config::amazon(ExperimentConfig {
            features: cfg.features,
            ..Default::default()
        })
        .train
    } else {
        TrainConfig::default()
    };
    let paper = serde_json::to_value(paper)?;
    let mut off: Vec<String> = config::differences(&paper, &serde_json::to_value(&cfg.train)?, &[])
        .into_iter()
        .map(|d| format!("train.{d}").replace("(saved ", "(paper "))
        .collect();
    for (key, limit) in [("source_limit", cfg.source_limit), ("target_limit", cfg.target_limit)] {
        if let Some(n) = limit {
            off.push(format!("{key} ({n} examples)"));
        }
    }
    Ok(off)
}

/// The results of `runs` (of `methods`, in that order) on `task` under `cfg`: the summaries and the table, with
/// the notes that qualify it (the runs' marks, and where the schedule differs from the paper's).
pub fn results(
    task: &Task,
    cfg: &ExperimentConfig,
    methods: &[shift_strategies::MethodName],
    runs: &[RunResult],
) -> Result<(Vec<report::Summary>, Table)> {
    let off = off_schedule(cfg)?;
    let summaries = report::summarise(
        methods,
        runs,
        |m| anchors::anchors_on(task, m, cfg.features),
        off.is_empty(),
        &cfg.validation.select,
    );
    let mut table = report::table(&task.slug(), &summaries);
    table.notes.extend(report::run_notes(runs));
    if summaries.iter().any(|s| s.published_withheld) {
        table.notes.push(format!(
            "published numbers are set beside runs of the paper's schedule only; this one differs in {}",
            off.join(", ")
        ));
    }
    if *task == Task::MnistToMnistM && cfg.mnist_m == config::MnistMTrain::Rebuilt {
        table.notes.push(
            "MNIST-M: the train split rebuilt from MNIST + BSDS500 with the paper's recipe, seed 0 (mnist_m = \
             rebuilt); the released test set"
                .into(),
        );
    }
    // Runs that held out the split have validator scores (a config.json written before the split existed reads
    // back with it enabled, so the scores, not the setting, say whether it was held out).
    let held_out = cfg.validation.enabled() && runs.iter().any(|r| !r.validators_per_epoch.is_empty());
    if held_out && *task == Task::MnistToMnistM && summaries.iter().any(|s| s.published.is_some()) {
        table.notes.push(format!(
            "the runs held out {:.0}% of the MNIST training images for the validators (validation.source_split = {}); \
             the published numbers trained on all of them",
            cfg.validation.source_split * 100.0,
            cfg.validation.source_split
        ));
    }
    Ok((summaries, table))
}

/// Runs every method and seed of `cfg` (validated first: errors name the key), writes the report into
/// `at.out`. None when a stop was requested (every run's checkpoint is saved; `--resume` continues).
pub fn run(cfg: &ExperimentConfig, at: &Invocation) -> Result<Option<Finished>> {
    let task = cfg.validate()?;
    let (device, stop) = session::prepare(&cfg.device, cfg.deterministic)?;
    let started = Instant::now();
    eprintln!(
        "shift: {} on {device:?}: methods {:?}, seeds {:?}, {} epochs",
        task.slug(),
        cfg.methods,
        cfg.seeds,
        cfg.train.epochs
    );
    let runs = match task {
        Task::MnistToMnistM => digits::run(&at.data, &at.out, cfg, device, &stop, (at.resume, at.quick))?,
        Task::Amazon { source, target } => {
            amazon::run_pair(&at.data, &at.out, cfg, (source, target), device, &stop, at.resume)?
        }
        Task::AmazonAll => return run_amazon_all(cfg, at, device, &stop, started),
        Task::Office31 { .. } | Task::Folders { .. } => {
            if cfg.validation.enabled() {
                eprintln!(
                    "shift: validators score MNIST -> MNIST-M runs only, for now: this run's epochs are not scored \
                     and it trains on every source image (validation.* applies to the digit task)"
                );
            }
            office::run(&at.data, &at.out, cfg, &task, device, &stop, at.resume)?
        }
    };
    let Some(runs) = runs else {
        return Ok(None);
    };
    let config_json = serde_json::to_value(cfg)?;
    let (summaries, mut table) = results(&task, cfg, &cfg.methods, &runs)?;
    if let Task::Folders { source, target } = &task {
        let labelled = runs.iter().any(|r| !r.target_acc.is_nan());
        table.notes.push(format!(
            "source {} (labelled); target {} ({})",
            source.display(),
            target.display(),
            if labelled {
                "labelled: its labels served only the test accuracy"
            } else {
                "unlabelled: no test accuracy"
            }
        ));
    }
    report::write(&at.out, &task.slug(), &config_json, &runs, &summaries, &table)?;
    let figure = match task {
        Task::MnistToMnistM => digits::tsne_figure(&at.data, &at.out, &runs, device)?,
        _ => None,
    };
    page::write(&at.out, &task.slug(), &table, &runs, figure.as_deref())?;
    Ok(Some(Finished {
        table: table.markdown(),
        seconds: started.elapsed().as_secs_f64(),
        files: "results.md, results.json, accuracy.png, accuracy.svg, report.html",
    }))
}

/// `amazon:all`: every pair of Table 1 in turn (each in its own folder, as `amazon:SOURCE:TARGET` runs it), then
/// one table in Table 1's layout, written as results.md and results.json beside them.
fn run_amazon_all(
    cfg: &ExperimentConfig,
    at: &Invocation,
    device: shift_tensor::tch::Device,
    stop: &std::sync::atomic::AtomicBool,
    started: Instant,
) -> Result<Option<Finished>> {
    let mut pairs = Vec::new();
    for pair in shift_data::amazon_reviews::Domain::pairs() {
        let Some(runs) = amazon::run_pair(&at.data, &at.out, cfg, pair, device, stop, at.resume)? else {
            return Ok(None);
        };
        pairs.push((pair, runs));
    }
    let comparable = off_schedule(cfg)?.is_empty();
    let table = amazon::table_1(&cfg.methods, &pairs, &cfg.validation.select, comparable, cfg.features);
    let runs: Vec<&RunResult> = pairs.iter().flat_map(|(_, r)| r).collect();
    let json = serde_json::json!({
        "config": cfg,
        "pairs": pairs.iter().map(|((s, t), runs)| serde_json::json!({
            "source": s.name(), "target": t.name(), "runs": runs,
        })).collect::<Vec<_>>(),
        "runs": runs.len(),
    });
    std::fs::create_dir_all(&at.out)?;
    crate::run_folder::write_atomic(&at.out.join("results.json"), &serde_json::to_string_pretty(&json)?)?;
    crate::run_folder::write_atomic(&at.out.join("results.md"), &table.markdown())?;
    Ok(Some(Finished {
        table: table.markdown(),
        seconds: started.elapsed().as_secs_f64(),
        files: "results.md, results.json; each pair's runs in amazon-<source>-<target>/",
    }))
}
