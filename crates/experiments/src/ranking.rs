//! `shift report validators`: how well each validator ranks the checkpoints of finished runs, as Musgrave,
//! Belongie & Lim (2022) measured it: the weighted Spearman correlation of its scores with target accuracy over
//! every epoch's checkpoint of a task (all methods pooled, and within each method), plain Spearman beside it, and
//! the target accuracy of the checkpoints it picks beside the oracle's.

use crate::run_folder::RunResult;
use crate::selection::pick;
use crate::table::Table;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A finished run found under the given paths, with its task (the folder above its method's).
#[derive(Debug, Clone)]
pub struct FoundRun {
    pub task: String,
    pub path: PathBuf,
    pub result: RunResult,
}

/// Every result.json at or under `paths` (a run folder, an experiment's output folder, or a results tree), in
/// path order. An error names a path that does not exist or a result.json that does not parse.
pub fn find_runs(paths: &[PathBuf]) -> Result<Vec<FoundRun>> {
    let mut files = Vec::new();
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or folder", p.display());
        }
        collect(p, &mut files)?;
    }
    files.sort();
    files.dedup();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
            let result: RunResult =
                serde_json::from_str(&text).with_context(|| format!("{}: not a run's result.json", f.display()))?;
            // <task>/<method>/seed<N>/result.json
            let task = f
                .ancestors()
                .nth(3)
                .and_then(|t| t.file_name())
                .map_or_else(|| "unknown".to_string(), |t| t.to_string_lossy().into_owned());
            Ok(FoundRun { task, path: f, result })
        })
        .collect()
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if p.is_file() {
        if p.file_name().is_some_and(|n| n == "result.json") {
            out.push(p.to_path_buf());
        }
        return Ok(());
    }
    let entries = std::fs::read_dir(p).with_context(|| format!("cannot read {}", p.display()))?;
    for e in entries {
        collect(&e.with_context(|| p.display().to_string())?.path(), out)?;
    }
    Ok(())
}

/// One validator's (or a reference's) standing over a task's runs.
#[derive(Debug, Clone, Serialize)]
pub struct Standing {
    pub validator: String,
    /// Spearman correlation of score with target accuracy over every scored checkpoint (None for references).
    pub spearman: Option<f64>,
    /// [`weighted_spearman`] (power 2) over every scored checkpoint of every method (None for references): the
    /// number the validators are ranked by.
    pub weighted_spearman: Option<f64>,
    /// [`weighted_spearman`] over each method's checkpoints (all its seeds), by method name; empty for
    /// references. It says whether the validator orders a method's own epochs, apart from the order it puts
    /// the methods in.
    pub per_method: BTreeMap<String, f64>,
    /// The mean of `per_method` over the methods where it is defined (None where it is nowhere).
    pub per_method_mean: Option<f64>,
    /// Checkpoints it scored.
    pub checkpoints: usize,
    /// Checkpoints it could not score (NaN; each run's result.json says why in `validator_errors`): left out of
    /// its correlations and picks.
    pub unscored: usize,
    /// Mean over runs of the target accuracy of the epoch it picks in each run.
    pub per_run_pick: f64,
    /// The target accuracy of the one checkpoint it picks over all runs (method, seed and epoch).
    pub overall_pick: f64,
    /// Which run and epoch that is: `method seed N epoch E`.
    pub overall_pick_at: String,
}

/// A task's ranking: every validator, then the last epoch and the oracle as references.
#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    pub task: String,
    pub runs: usize,
    pub validators: Vec<Standing>,
    pub last_epoch: f64,
    pub oracle: Standing,
}

/// The rankings of `runs`, one per task, in task order. Runs whose target is unlabelled, runs of methods that
/// train on target labels (target-only) and runs without validator scores are left out; an error says so when
/// none is left.
pub fn rank(runs: &[FoundRun]) -> Result<Vec<Ranking>> {
    let mut by_task: BTreeMap<&str, Vec<&RunResult>> = BTreeMap::new();
    for r in runs {
        let labelled = r.result.accuracy_per_epoch.iter().all(|a| !a.is_nan());
        // A method that trains on target labels (target-only) is no candidate for a label-free pick.
        let unsupervised = r
            .result
            .method
            .parse::<shift_strategies::MethodName>()
            .is_ok_and(|m| !m.data().labelled_target);
        if labelled && unsupervised && !r.result.validators_per_epoch.is_empty() {
            by_task.entry(&r.task).or_default().push(&r.result);
        }
    }
    if by_task.is_empty() {
        bail!(
            "none of the {} runs found has validator scores and a labelled target (runs from before the \
             validators, or with validation.source_split = 0, have none)",
            runs.len()
        );
    }
    Ok(by_task.into_iter().map(|(task, rs)| rank_task(task, &rs)).collect())
}

/// The weights' power in [`weighted_spearman`], as Musgrave, Belongie & Lim (2022) ranked validators.
pub const WEIGHT_POWER: i32 = 2;

fn rank_task(task: &str, runs: &[&RunResult]) -> Ranking {
    let names: Vec<&String> = {
        let mut n: Vec<&String> = runs.iter().flat_map(|r| r.validators_per_epoch.keys()).collect();
        n.sort();
        n.dedup();
        n
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let standing = |name: &str, score: &dyn Fn(&RunResult) -> Vec<f64>, with_rho: bool| {
        let mut picks = Vec::new();
        // Each method's (score, accuracy) pairs; the pooled correlation reads them all.
        let mut by_method: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        let mut best: Option<(f64, f64, String)> = None;
        let mut unscored = 0;
        for r in runs {
            // Scores past the last epoch's accuracy (a result.json edited by hand) are left out.
            let mut scores = score(r);
            scores.truncate(r.accuracy_per_epoch.len());
            for (e, (&x, &acc)) in scores.iter().zip(&r.accuracy_per_epoch).enumerate() {
                if x.is_nan() {
                    unscored += 1;
                    continue;
                }
                let m = by_method.entry(r.method.as_str()).or_default();
                m.0.push(x);
                m.1.push(acc);
                if best.as_ref().is_none_or(|(b, _, _)| x > *b) {
                    best = Some((x, acc, format!("{} seed {} epoch {}", r.method, r.seed, e + 1)));
                }
            }
            if let Some(e) = pick(&scores) {
                picks.push(r.accuracy_per_epoch[e]);
            }
        }
        let (s, a): (Vec<f64>, Vec<f64>) = by_method
            .values()
            .flat_map(|(s, a)| s.iter().copied().zip(a.iter().copied()))
            .unzip();
        let (overall_pick, overall_pick_at) = best.map_or((f64::NAN, "none".into()), |(_, acc, at)| (acc, at));
        let per_method: BTreeMap<String, f64> = if with_rho {
            by_method
                .iter()
                .map(|(m, (s, a))| (m.to_string(), weighted_spearman(s, a, WEIGHT_POWER)))
                .collect()
        } else {
            BTreeMap::new()
        };
        let defined: Vec<f64> = per_method.values().copied().filter(|r| !r.is_nan()).collect();
        Standing {
            validator: name.to_string(),
            spearman: with_rho.then(|| spearman(&s, &a)),
            weighted_spearman: with_rho.then(|| weighted_spearman(&s, &a, WEIGHT_POWER)),
            per_method_mean: (!defined.is_empty()).then(|| mean(&defined)),
            per_method,
            checkpoints: s.len(),
            unscored,
            per_run_pick: if picks.is_empty() { f64::NAN } else { mean(&picks) },
            overall_pick,
            overall_pick_at,
        }
    };
    let mut validators: Vec<Standing> = names
        .iter()
        .map(|n| {
            standing(
                n,
                &|r: &RunResult| r.validators_per_epoch.get(*n).cloned().unwrap_or_default(),
                true,
            )
        })
        .collect();
    // No correlation (NaN: too few checkpoints, or a constant score) ranks last.
    let rho = |s: &Standing| s.weighted_spearman.filter(|r| !r.is_nan()).unwrap_or(f64::NEG_INFINITY);
    validators.sort_by(|a, b| rho(b).total_cmp(&rho(a)));
    let oracle = standing(
        "oracle (target labels)",
        &|r: &RunResult| r.accuracy_per_epoch.clone(),
        false,
    );
    Ranking {
        task: task.to_string(),
        runs: runs.len(),
        validators,
        last_epoch: mean(&runs.iter().map(|r| r.target_acc).collect::<Vec<_>>()),
        oracle,
    }
}

/// Spearman's rank correlation: Pearson's of the ranks, tied values sharing their mean rank. NaN for fewer than
/// two pairs or a constant side.
///
/// ```
/// use shift_experiments::ranking::spearman;
/// assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 35.0]) - 1.0).abs() < 1e-12);
/// assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
/// assert!((spearman(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]) - 0.9486832980505138).abs() < 1e-12);
/// ```
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    if x.len() != y.len() {
        return f64::NAN;
    }
    let ones = vec![1.0; x.len()];
    weighted_pearson(&weighted_ranks(x, &ones), &weighted_ranks(y, &ones), &ones)
}

/// The weighted Spearman correlation with which Musgrave, Belongie & Lim (2022) rank validators: it counts most
/// the checkpoints that either side ranks near its top, since a validator is used to pick the best checkpoint,
/// not to order the worst ones. NaN for fewer than two pairs or a constant side.
///
/// With `d(v)_i` the dense rank of `v_i` divided by the largest (the top value 1), each pair weighs
/// `w_i = max(d(x)_i, d(y)_i)^power` (the paper: power 2). Each side is ranked with the weights: a value in tie
/// group `g` gets the summed weight of the groups below `g` plus `(n_g + 1) / 2` times the mean weight of `g`
/// (the running sum of the weights where nothing ties). The result is the weighted Pearson correlation of the
/// two weighted-rank vectors, with weighted means. `tests/fixtures/weighted_spearman.py` computes it with NumPy.
///
/// ```
/// use shift_experiments::ranking::{spearman, weighted_spearman};
/// // Right about the bottom four, wrong about the top four: plain Spearman hardly notices, weighted does.
/// let score = [0.0, 1.0, 2.0, 3.0, 7.0, 6.0, 5.0, 4.0];
/// let acc = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
/// assert!(weighted_spearman(&score, &acc, 2) < spearman(&score, &acc) - 0.3);
/// assert!((weighted_spearman(&acc, &acc, 2) - 1.0).abs() < 1e-12);
/// ```
pub fn weighted_spearman(x: &[f64], y: &[f64], power: i32) -> f64 {
    if x.len() != y.len() {
        return f64::NAN;
    }
    let (dx, dy) = (dense_fraction(x), dense_fraction(y));
    let w: Vec<f64> = dx.iter().zip(&dy).map(|(a, b)| a.max(*b).powi(power)).collect();
    weighted_pearson(&weighted_ranks(x, &w), &weighted_ranks(y, &w), &w)
}

/// Pearson's correlation of `x` and `y` with each pair weighted by `w` (weighted means, covariance and
/// variances); NaN for fewer than two pairs, sides of different lengths or a constant side.
fn weighted_pearson(x: &[f64], y: &[f64], w: &[f64]) -> f64 {
    if x.len() != y.len() || x.len() != w.len() || x.len() < 2 {
        return f64::NAN;
    }
    let total: f64 = w.iter().sum();
    let mean = |r: &[f64]| r.iter().zip(w).map(|(v, w)| v * w).sum::<f64>() / total;
    let (mx, my) = (mean(x), mean(y));
    let cov = |a: &[f64], ma: f64, b: &[f64], mb: f64| -> f64 {
        a.iter().zip(b).zip(w).map(|((a, b), w)| w * (a - ma) * (b - mb)).sum()
    };
    let (vx, vy) = (cov(x, mx, x, mx), cov(y, my, y, my));
    if vx == 0.0 || vy == 0.0 {
        return f64::NAN;
    }
    cov(x, mx, y, my) / (vx * vy).sqrt()
}

/// Indices of `v` in ascending order, grouped by equal value.
fn tie_groups(v: &[f64]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match groups.last_mut() {
            Some(g) if v[g[0]] == v[i] => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    groups
}

/// Dense ranks (1 for the smallest value, one more for each larger distinct value) over the largest.
fn dense_fraction(v: &[f64]) -> Vec<f64> {
    let groups = tie_groups(v);
    let mut d = vec![0.0; v.len()];
    for (rank, g) in groups.iter().enumerate() {
        for &i in g {
            d[i] = (rank + 1) as f64 / groups.len() as f64;
        }
    }
    d
}

/// Ranks by summed weight: a tie group's members get the weight of the groups below plus (n + 1) / 2 times
/// their mean weight (with unit weights: 1-based ranks, ties at their mean rank).
fn weighted_ranks(v: &[f64], w: &[f64]) -> Vec<f64> {
    let mut r = vec![0.0; v.len()];
    let mut below = 0.0;
    for g in tie_groups(v) {
        let sum: f64 = g.iter().map(|&i| w[i]).sum();
        let n = g.len() as f64;
        for &i in &g {
            r[i] = below + (n + 1.0) / 2.0 * sum / n;
        }
        below += sum;
    }
    r
}

/// The rankings as tables: per task, the validators by weighted Spearman correlation (all methods pooled), then
/// where the task has runs of more than one method, each validator's weighted Spearman within each method.
pub fn tables(rankings: &[Ranking]) -> Vec<Table> {
    let f = |x: f64| {
        if x.is_nan() {
            "n/a".to_string()
        } else {
            format!("{x:.4}")
        }
    };
    let opt = |x: Option<f64>| x.map_or_else(|| "-".to_string(), f);
    let mut out = Vec::new();
    for r in rankings {
        let mut rows: Vec<Vec<String>> = r
            .validators
            .iter()
            .chain(std::iter::once(&r.oracle))
            .map(|v| {
                vec![
                    v.validator.clone(),
                    opt(v.weighted_spearman),
                    opt(v.per_method_mean),
                    opt(v.spearman),
                    match v.unscored {
                        0 => v.checkpoints.to_string(),
                        n => format!("{} ({n} unscored)", v.checkpoints),
                    },
                    f(v.per_run_pick),
                    format!("{} ({})", f(v.overall_pick), v.overall_pick_at),
                ]
            })
            .collect();
        rows.push(vec![
            "last epoch (the headline)".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            r.runs.to_string(),
            f(r.last_epoch),
            "-".into(),
        ]);
        out.push(Table {
            title: format!(
                "Validators on {} ({} runs; every epoch's checkpoint; target labels used only to grade the picks)",
                r.task, r.runs
            ),
            headers: [
                "validator",
                "weighted Spearman",
                "mean within methods",
                "Spearman",
                "checkpoints",
                "per-run pick (mean acc)",
                "overall pick (acc, checkpoint)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
            notes: vec![
                "weighted Spearman: the correlation of score with target accuracy over every checkpoint of every \
                 method, the pairs near either side's top weighted most (Musgrave, Belongie & Lim, 2022; weights \
                 max of the two normalised dense ranks, squared); the validators are ranked by it. mean within \
                 methods: the same over each method's own checkpoints, averaged over methods (the next table). \
                 Spearman: unweighted, every checkpoint alike."
                    .into(),
                "per-run pick: each run's epoch with the validator's highest score; overall pick: the one \
                 checkpoint of all runs (method, seed, epoch) with its highest score. checkpoints: those it \
                 scored; unscored: those it could not (NaN, left out; each run's result.json gives the reason in \
                 `validator_errors`)."
                    .into(),
            ],
        });
        let methods: Vec<&String> = {
            let mut m: Vec<&String> = r.validators.iter().flat_map(|v| v.per_method.keys()).collect();
            m.sort();
            m.dedup();
            m
        };
        if methods.len() > 1 {
            let mut headers = vec!["validator".to_string()];
            headers.extend(methods.iter().map(|m| m.to_string()));
            out.push(Table {
                title: format!("Weighted Spearman within each method, {}", r.task),
                headers,
                rows: r
                    .validators
                    .iter()
                    .map(|v| {
                        std::iter::once(v.validator.clone())
                            .chain(
                                methods
                                    .iter()
                                    .map(|m| v.per_method.get(*m).map_or("-".into(), |x| f(*x))),
                            )
                            .collect()
                    })
                    .collect(),
                notes: vec![
                    "each cell: the validator's weighted Spearman over one method's checkpoints (its seeds' \
                     epochs together); a validator that only ranks methods well, and not a method's own epochs, \
                     shows high above and low here."
                        .into(),
                ],
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(method: &str, seed: u64, acc: &[f64], scores: &[(&str, &[f64])]) -> FoundRun {
        FoundRun {
            task: "mnist-mnistm".into(),
            path: PathBuf::from(format!("{method}/seed{seed}/result.json")),
            result: RunResult {
                method: method.into(),
                seed,
                target_acc: *acc.last().unwrap(),
                oracle_best_acc: acc.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                epochs: acc.len(),
                wall_s: 1.0,
                device: "Cpu".into(),
                accuracy_per_epoch: acc.to_vec(),
                validators_per_epoch: scores.iter().map(|(n, s)| (n.to_string(), s.to_vec())).collect(),
                validator_errors: Vec::new(),
                proxy_a_distance: None,
                step_fallback: None,
                random_init_backbone: false,
                cpu_threads: Some(2),
            },
        }
    }

    #[test]
    fn ranks_by_spearman_with_no_correlation_last_and_target_labels_left_out() {
        let runs = [
            run(
                "dann",
                0,
                &[0.5, 0.7, 0.6],
                &[("good", &[1.0, 3.0, 2.0]), ("flat", &[1.0, 1.0, 1.0])],
            ),
            // Scores past the last accuracy are left out, not misread as epochs.
            run(
                "source-only",
                0,
                &[0.4, 0.45],
                &[("good", &[0.1, 0.2, 9.0]), ("flat", &[1.0, 1.0])],
            ),
            // Trained on target labels: no candidate, however high its scores.
            run(
                "target-only",
                0,
                &[0.9, 0.95],
                &[("good", &[50.0, 60.0]), ("flat", &[1.0, 1.0])],
            ),
        ];
        let r = &rank(&runs).unwrap()[0];
        assert_eq!(r.runs, 2);
        let names: Vec<&str> = r.validators.iter().map(|v| v.validator.as_str()).collect();
        assert_eq!(names, ["good", "flat"]);
        assert!(r.validators[1].spearman.unwrap().is_nan());
        let good = &r.validators[0];
        assert_eq!(good.checkpoints, 5);
        assert!((good.spearman.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!((good.per_run_pick, good.overall_pick), ((0.7 + 0.45) / 2.0, 0.7));
        assert_eq!(good.overall_pick_at, "dann seed 0 epoch 2");
        assert_eq!(r.oracle.overall_pick, 0.7);
        // Two methods of one checkpoint-order each: within each the order is right (1), pooled too.
        assert_eq!(good.per_method.len(), 2);
        assert!((good.per_method["dann"] - 1.0).abs() < 1e-12);
        assert!((good.per_method["source-only"] - 1.0).abs() < 1e-12);
        assert!((good.per_method_mean.unwrap() - 1.0).abs() < 1e-12);
        assert!((good.weighted_spearman.unwrap() - 1.0).abs() < 1e-12);
        assert!(r.validators[1].weighted_spearman.unwrap().is_nan());
        assert_eq!(r.validators[1].per_method_mean, None);
        assert!(r.oracle.per_method.is_empty() && r.oracle.weighted_spearman.is_none());
        let none = rank(&runs[2..]).unwrap_err().to_string();
        assert!(none.contains("none of the 1 runs"), "{none}");
    }

    /// A checkpoint a validator could not score (NaN) is counted as such, left out of its numbers, and shown.
    #[test]
    fn unscored_checkpoints_are_counted_and_shown() {
        let runs = [
            run(
                "dann",
                0,
                &[0.5, 0.7, 0.6],
                &[("snd", &[1.0, f64::NAN, 2.0]), ("im", &[1.0, 3.0, 2.0])],
            ),
            run(
                "source-only",
                0,
                &[0.4, 0.45],
                &[("snd", &[f64::NAN, f64::NAN]), ("im", &[0.1, 0.2])],
            ),
        ];
        let r = &rank(&runs).unwrap()[0];
        let snd = r.validators.iter().find(|v| v.validator == "snd").unwrap();
        let im = r.validators.iter().find(|v| v.validator == "im").unwrap();
        assert_eq!((snd.checkpoints, snd.unscored), (2, 3));
        assert_eq!((im.checkpoints, im.unscored), (5, 0));
        // The pick passes the NaN over: dann's epoch 3 (score 2), not its unscored epoch 2.
        assert_eq!(snd.overall_pick_at, "dann seed 0 epoch 3");
        let md = tables(&rank(&runs).unwrap())[0].markdown();
        assert!(md.contains("| 2 (3 unscored) |"), "{md}");
        assert!(md.contains("`validator_errors`"), "{md}");
    }

    #[test]
    fn weighted_spearman_matches_the_numpy_fixture() {
        let fx: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/weighted_spearman.json")).unwrap();
        let cases = fx.as_object().unwrap();
        assert_eq!(cases.len(), 4);
        let v =
            |x: &serde_json::Value| -> Vec<f64> { x.as_array().unwrap().iter().map(|a| a.as_f64().unwrap()).collect() };
        for (name, case) in cases {
            let (score, acc) = (v(&case["score"]), v(&case["accuracy"]));
            let want = case["weighted_spearman"].as_f64().unwrap();
            let got = weighted_spearman(&score, &acc, WEIGHT_POWER);
            assert!((got - want).abs() < 1e-12, "{name}: {got} against the fixture's {want}");
            let plain = case["spearman"].as_f64().unwrap();
            assert!((spearman(&score, &acc) - plain).abs() < 1e-12, "{name}: plain Spearman");
        }
        // Weighting moves the two one-sided cases apart where plain Spearman sees one number.
        let plain = cases["wrong_at_the_top"]["spearman"].as_f64().unwrap();
        assert_eq!(plain, cases["wrong_at_the_bottom"]["spearman"].as_f64().unwrap());
        assert!(cases["wrong_at_the_top"]["weighted_spearman"].as_f64().unwrap() < plain - 0.3);
        assert!(cases["wrong_at_the_bottom"]["weighted_spearman"].as_f64().unwrap() > plain);
        assert!(weighted_spearman(&[1.0], &[1.0], 2).is_nan());
        assert!(weighted_spearman(&[1.0, 2.0], &[1.0], 2).is_nan());
        assert!(weighted_spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], 2).is_nan());
    }
}
