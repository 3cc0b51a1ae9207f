//! The zero-shot experiment (`shift experiment zero-shot --task digit-segments`): digits recognised from their
//! seven-segment codes (`shift_zeroshot::attributes`) without a single image of them in training.
//!
//! For each seen/unseen split and seed:
//! 1. the paper's digit net is trained on the MNIST train images of the seen digits alone (source-only, through the
//!    one run driver: its run folder, checkpoint and `--resume`), and its features (`[N, 1200]`) taken for the MNIST
//!    train images of the seen digits, the MNIST test set and the MNIST-M test set (zero-shot and domain shift at
//!    once), standardised by the seen training features' mean and spread (a feature constant there is only
//!    centred);
//! 2. DAP and ESZSL (`shift_zeroshot`) fitted to the seen digits' features and codes, each with its
//!    hyper-parameters chosen on two seen digits held out of the fit ([`shift_zeroshot::attributes::Split::validation_fold`]):
//!    never with an unseen digit's image or label;
//! 3. scored as Xian et al. (TPAMI 2018) score: per-class accuracy on the unseen digits among the unseen digits
//!    (ZSL), and with all ten digits as candidates (generalised ZSL) the seen and unseen digits' per-class
//!    accuracies and their harmonic mean.
//!
//! This benchmark is shift's own; nothing is published beside it.

use crate::config::ExperimentConfig;
use crate::digits::run_digits;
use crate::report::{mean_std, Finished};
use crate::run_folder::{write_atomic, RunFolder};
use crate::Invocation;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shift_data::{DigitBatcher, Mnist, MnistM};
use shift_models::digit::DigitNet;
use shift_models::AdaptNet;
use shift_strategies::{load_model_state, DigitTask, MethodName, TrainConfig};
use shift_tensor::tch::{Device, Kind, Tensor};
use shift_zeroshot::attributes::{self, Split};
use shift_zeroshot::dap::{Dap, DapFit};
use shift_zeroshot::eszsl::EszslProblem;
use shift_zeroshot::metrics::{harmonic_mean, per_class_accuracy, predict};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// The one task of the experiment.
pub const TASK: &str = "digit-segments";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZeroShotConfig {
    /// `digit-segments`: the ten digits described by their seven-segment codes.
    pub task: String,
    pub seeds: Vec<u64>,
    pub device: String,
    pub deterministic: bool,
    /// Digits held out of training in each split.
    pub unseen: usize,
    /// How many seen/unseen splits ([`attributes::splits`]).
    pub splits: usize,
    /// The digit net's training on the seen digits' MNIST images.
    pub train: TrainConfig,
    /// DAP's attribute classifiers (their `l2` is chosen from `dap_l2`).
    pub dap: DapFit,
    /// The L2 weights DAP chooses from on the held-out seen digits.
    pub dap_l2: Vec<f64>,
    /// DAP's attribute classifiers read at most this many training images of each seen digit (the first in MNIST's
    /// order): a full-batch fit reads every example at every iteration. ESZSL's closed form reads them all.
    pub dap_per_class: usize,
    /// The values ESZSL's `gamma` and `lambda` each range over (the paper's 10^-3 .. 10^3).
    pub eszsl_grid: Vec<f64>,
}

impl Default for ZeroShotConfig {
    fn default() -> Self {
        Self {
            task: TASK.into(),
            seeds: vec![0, 1, 2],
            device: "auto".into(),
            deterministic: false,
            unseen: 3,
            splits: 5,
            train: TrainConfig {
                epochs: 5,
                ..Default::default()
            },
            dap: DapFit::default(),
            dap_l2: vec![1e-4, 1e-3, 1e-2, 1e-1],
            dap_per_class: 1000,
            eszsl_grid: vec![1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3],
        }
    }
}

impl ZeroShotConfig {
    /// `--quick`: two splits, one seed, the digit net trained for 2 epochs of 300 steps.
    pub fn quick(&mut self) {
        self.seeds = vec![0];
        self.splits = 2;
        self.train.epochs = 2;
        self.train.steps_per_epoch = Some(300);
    }

    /// Refuses a setting that cannot run, naming its key.
    pub fn validate(&self) -> Result<()> {
        if self.task != TASK {
            bail!("`task`: unknown zero-shot task `{}` (known: {TASK})", self.task);
        }
        if self.seeds.is_empty() {
            bail!("`seeds`: need at least one seed");
        }
        for (key, grid) in [("dap_l2", &self.dap_l2), ("eszsl_grid", &self.eszsl_grid)] {
            if grid.is_empty() || grid.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                bail!("`{key}`: want at least one finite value >= 0, got {grid:?}");
            }
        }
        if self.eszsl_grid.contains(&0.0) {
            bail!("`eszsl_grid`: gamma and lambda must be > 0, got {:?}", self.eszsl_grid);
        }
        if self.dap_per_class == 0 {
            bail!("`dap_per_class`: want at least 1 image of each seen digit");
        }
        if !(self.dap.lr > 0.0 && self.dap.lr.is_finite()) || self.dap.iterations == 0 {
            bail!(
                "`dap`: want lr > 0 and iterations >= 1, got lr {} and iterations {}",
                self.dap.lr,
                self.dap.iterations
            );
        }
        attributes::splits(self.unseen, self.splits).map_err(|e| anyhow::anyhow!("`unseen`/`splits`: {e}"))?;
        self.train.validate_at("train")?;
        Ok(())
    }
}

/// One method's scores on one test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Per-class accuracy on the unseen digits, the unseen digits the only candidates.
    pub zsl: f64,
    /// All ten digits candidates: the seen digits' per-class accuracy, the unseen digits', their harmonic mean.
    pub gzsl_seen: f64,
    pub gzsl_unseen: f64,
    pub gzsl_h: f64,
}

/// One method's result on one split and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    pub method: String,
    /// The chosen hyper-parameters, by name.
    pub chosen: Vec<(String, f64)>,
    /// ZSL accuracy on the held-out seen digits at the chosen hyper-parameters.
    pub validation_zsl: f64,
    pub mnist: Scores,
    pub mnist_m: Scores,
}

/// Both methods on one split and seed, and the backbone's seen-digit MNIST test accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitResult {
    /// The configuration it ran with (`--resume` reuses it only under the same one).
    pub config: ZeroShotConfig,
    pub split: Split,
    pub seed: u64,
    pub backbone_seen_acc: f64,
    pub methods: Vec<MethodResult>,
    pub wall_s: f64,
}

/// The digit images the experiment reads, on the device.
struct Images {
    mnist_train: (Tensor, Tensor),
    mnist_test: (Tensor, Tensor),
    mnist_m_test: (Tensor, Tensor),
}

/// The rows of `(x, y)` whose label is one of `classes`.
fn of_classes((x, y): &(Tensor, Tensor), classes: &[usize]) -> (Tensor, Tensor) {
    let mut keep = y.eq(-1);
    for &c in classes {
        keep = keep.logical_or(&y.eq(c as i64));
    }
    let rows = keep.nonzero().squeeze_dim(1);
    (x.index_select(0, &rows), y.index_select(0, &rows))
}

/// Each label of `y` as its position in `classes` (the signature row of its class).
fn rows_in(y: &Tensor, classes: &[usize]) -> Tensor {
    let lookup = Tensor::full([10], -1, (Kind::Int64, y.device()));
    for (i, &c) in classes.iter().enumerate() {
        let _ = lookup.get(c as i64).fill_(i as i64);
    }
    lookup.index_select(0, y)
}

/// The codes of `classes`, one row each.
fn codes(classes: &[usize], device: Device) -> Tensor {
    let rows: Vec<i64> = classes.iter().map(|&c| c as i64).collect();
    attributes::signatures(device).index_select(0, &Tensor::from_slice(&rows).to_device(device))
}

/// The net's features of `x`, in batches, without gradients; `what` names the set in the error for an empty one.
fn features(net: &dyn AdaptNet, x: &Tensor, what: &str) -> Result<Tensor> {
    if x.size()[0] == 0 {
        bail!("{what}: no images");
    }
    Ok(shift_tensor::tch::no_grad(|| {
        let n = x.size()[0];
        let parts: Vec<Tensor> = (0..n)
            .step_by(1000)
            .map(|s| net.features(&x.narrow(0, s, 1000.min(n - s)), false))
            .collect();
        Tensor::cat(&parts, 0)
    }))
}

/// A fitted method: its scores of features against codes.
type Scorer = Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor>>;

/// A method fitted at each point of its hyper-parameter grid: the point (by name) and the fit.
type Fitted = Vec<(Vec<(String, f64)>, Scorer)>;

/// The two methods, each fitted to `(x, rows)` of the classes whose codes are `s` at each of its hyper-parameter
/// points: `(method, [(hyper-parameters, scorer)])`.
fn candidates(cfg: &ZeroShotConfig, x: &Tensor, rows: &Tensor, s: &Tensor) -> Result<Vec<(&'static str, Fitted)>> {
    let (dx, drows) = first_of_each(x, rows, s.size()[0], cfg.dap_per_class);
    let mut dap = Vec::new();
    for &l2 in &cfg.dap_l2 {
        dap.push((vec![("l2".to_string(), l2)], dap_scorer(cfg, l2, &dx, &drows, s)?));
    }
    let problem = EszslProblem::new(x, rows, s)?;
    let mut eszsl = Vec::new();
    for &gamma in &cfg.eszsl_grid {
        for &lambda in &cfg.eszsl_grid {
            let fitted = problem.solve(gamma, lambda)?;
            let scorer: Scorer = Box::new(move |x, s| Ok(fitted.scores(x, s)?));
            eszsl.push((
                vec![("gamma".to_string(), gamma), ("lambda".to_string(), lambda)],
                scorer,
            ));
        }
    }
    Ok(vec![("dap", dap), ("eszsl", eszsl)])
}

/// DAP with L2 weight `l2` fitted to `(x, rows)` (already limited to `dap_per_class`).
fn dap_scorer(cfg: &ZeroShotConfig, l2: f64, x: &Tensor, rows: &Tensor, s: &Tensor) -> Result<Scorer> {
    let fitted = Dap::fit(x, rows, s, DapFit { l2, ..cfg.dap })?;
    Ok(Box::new(move |x, s| Ok(fitted.scores(x, s)?)))
}

/// `method` refitted at its chosen hyper-parameters `point` to `(x, rows)` of the classes whose codes are `s`.
fn refit(
    cfg: &ZeroShotConfig,
    method: &str,
    point: &[(String, f64)],
    x: &Tensor,
    rows: &Tensor,
    s: &Tensor,
) -> Result<Scorer> {
    let value = |name: &str| {
        point
            .iter()
            .find(|(k, _)| k == name)
            .map(|&(_, v)| v)
            .with_context(|| format!("{method}: no `{name}` among its hyper-parameters"))
    };
    if method == "dap" {
        let (dx, drows) = first_of_each(x, rows, s.size()[0], cfg.dap_per_class);
        return dap_scorer(cfg, value("l2")?, &dx, &drows, s);
    }
    let fitted = EszslProblem::new(x, rows, s)?.solve(value("gamma")?, value("lambda")?)?;
    Ok(Box::new(move |x, s| Ok(fitted.scores(x, s)?)))
}

/// The first `limit` rows of each of the `classes` classes in `rows` (and their features `x`), in their order.
fn first_of_each(x: &Tensor, rows: &Tensor, classes: i64, limit: usize) -> (Tensor, Tensor) {
    let keep: Vec<Tensor> = (0..classes)
        .map(|c| {
            let of_c = rows.eq(c).nonzero().squeeze_dim(1);
            of_c.narrow(0, 0, of_c.size()[0].min(limit as i64))
        })
        .collect();
    let keep = Tensor::cat(&keep, 0).sort(0, false).0;
    (x.index_select(0, &keep), rows.index_select(0, &keep))
}

/// ZSL per-class accuracy of `scorer` on `(x, y)` of `classes`, those classes the candidates.
fn zsl(scorer: &Scorer, (x, y): &(Tensor, Tensor), classes: &[usize]) -> Result<f64> {
    let scores = scorer(x, &codes(classes, x.device()))?;
    Ok(per_class_accuracy(&predict(&scores, classes)?, y, classes)?)
}

/// ZSL and generalised ZSL scores on a test set's features `(x, y)` (every digit present).
fn score(scorer: &Scorer, test: &(Tensor, Tensor), split: &Split) -> Result<Scores> {
    let all: Vec<usize> = (0..10).collect();
    let unseen = of_classes(test, &split.unseen);
    let predicted = predict(&scorer(&test.0, &codes(&all, test.0.device()))?, &all)?;
    let gzsl_seen = per_class_accuracy(&predicted, &test.1, &split.seen)?;
    let gzsl_unseen = per_class_accuracy(&predicted, &test.1, &split.unseen)?;
    Ok(Scores {
        zsl: zsl(scorer, &unseen, &split.unseen)?,
        gzsl_seen,
        gzsl_unseen,
        gzsl_h: harmonic_mean(gzsl_seen, gzsl_unseen),
    })
}

/// Both methods on one split's features: each method's hyper-parameters chosen on the held-out seen digits, then
/// refitted on every seen digit and scored on both test sets.
fn fit_and_score(
    cfg: &ZeroShotConfig,
    split: &Split,
    train: &(Tensor, Tensor),
    mnist: &(Tensor, Tensor),
    mnist_m: &(Tensor, Tensor),
) -> Result<Vec<MethodResult>> {
    let device = train.0.device();
    let fold = split
        .validation_fold(2)
        .with_context(|| format!("{}: no two seen digits can be held out for validation", split.name()))?;
    let fold_train = of_classes(train, &fold.seen);
    let fold_val = of_classes(train, &fold.unseen);
    let on_fold = candidates(
        cfg,
        &fold_train.0,
        &rows_in(&fold_train.1, &fold.seen),
        &codes(&fold.seen, device),
    )?;
    let (all_rows, all_codes) = (rows_in(&train.1, &split.seen), codes(&split.seen, device));
    let mut results = Vec::new();
    for (method, points) in &on_fold {
        // The first point of the highest validation accuracy.
        let mut best: Option<(usize, f64)> = None;
        for (i, (_, scorer)) in points.iter().enumerate() {
            let acc = zsl(scorer, &fold_val, &fold.unseen)?;
            if best.is_none_or(|(_, b)| acc > b) {
                best = Some((i, acc));
            }
        }
        let (i, validation_zsl) = best.context("an empty hyper-parameter grid")?;
        let chosen = points[i].0.clone();
        let scorer = refit(cfg, method, &chosen, &train.0, &all_rows, &all_codes)?;
        results.push(MethodResult {
            method: method.to_string(),
            chosen,
            validation_zsl,
            mnist: score(&scorer, mnist, split)?,
            mnist_m: score(&scorer, mnist_m, split)?,
        });
    }
    Ok(results)
}

/// `(x - mean) / std` with the statistics of `reference` (a feature constant there only centred).
fn standardise(x: &Tensor, reference: &Tensor) -> Tensor {
    let mean = reference.mean_dim(0, true, Kind::Float);
    let std = reference.std_dim(0, true, true);
    let std = std.where_self(&std.gt(1e-6), &std.ones_like());
    (x - mean) / std
}

/// A split's result file: None where it has not finished; an error naming the file where it cannot be read, or
/// where it ran with another configuration than `cfg` (which seeds and how many splits a command lists do not
/// matter: they choose the runs).
fn finished(file: &Path, cfg: &ZeroShotConfig) -> Result<Option<SplitResult>> {
    let r: SplitResult = match std::fs::read_to_string(file) {
        Ok(t) => serde_json::from_str(&t).with_context(|| {
            format!(
                "`--resume`: {} is not a zero-shot result (delete it to run the split again)",
                file.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("`--resume`: cannot read {}", file.display())),
    };
    let diff = crate::config::differences(
        &serde_json::to_value(&r.config)?,
        &serde_json::to_value(cfg)?,
        &["seeds", "splits"],
    );
    if !diff.is_empty() {
        bail!(
            "`--resume`: {} was run with another configuration: {}; resume with the same settings, or run without \
             --resume to start over",
            file.display(),
            diff.join(", ")
        );
    }
    Ok(Some(r))
}

/// One split and seed: the backbone on the seen digits, then both methods. None when a stop was requested.
fn run_split(
    cfg: &ZeroShotConfig,
    at: &Invocation,
    split: &Split,
    seed: u64,
    images: &Images,
    device: Device,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<Option<SplitResult>> {
    let started = Instant::now();
    let seen_train = of_classes(&images.mnist_train, &split.seen);
    let seen_test = of_classes(&images.mnist_test, &split.seen);
    let exp = ExperimentConfig {
        task: format!("{TASK}:{}", split.name()),
        methods: vec![MethodName::SOURCE_ONLY],
        seeds: vec![seed],
        train: cfg.train.clone(),
        ..Default::default()
    };
    let folder = RunFolder::new(&at.out, &split.name(), MethodName::SOURCE_ONLY.as_str(), seed);
    let task = DigitTask {
        labelled: DigitBatcher::new(seen_train.0.shallow_clone(), seen_train.1.shallow_clone()),
        unlabelled: None,
        test: seen_test,
        validation: None,
    };
    let Some(run) = run_digits(
        &folder,
        &exp,
        MethodName::SOURCE_ONLY,
        seed,
        device,
        &task,
        stop,
        at.resume,
    )?
    else {
        return Ok(None);
    };
    let net = DigitNet::new(device);
    let named = shift_tensor::load_named(&folder.checkpoint())?;
    load_model_state(&net, &named)
        .with_context(|| format!("{}: not a digit-net checkpoint", folder.checkpoint().display()))?;
    let reference = features(&net, &seen_train.0, "the seen digits' MNIST train images")?;
    let f = |(x, y): &(Tensor, Tensor), what: &str| -> Result<(Tensor, Tensor)> {
        Ok((standardise(&features(&net, x, what)?, &reference), y.shallow_clone()))
    };
    let train = (standardise(&reference, &reference), seen_train.1.shallow_clone());
    let mnist = f(&images.mnist_test, "the MNIST test set")?;
    let mnist_m = f(&images.mnist_m_test, "the MNIST-M test set")?;
    let methods = fit_and_score(cfg, split, &train, &mnist, &mnist_m)?;
    Ok(Some(SplitResult {
        config: cfg.clone(),
        split: split.clone(),
        seed,
        backbone_seen_acc: run.target_acc,
        methods,
        wall_s: started.elapsed().as_secs_f64(),
    }))
}

/// Runs the experiment `cfg` (validated first) into `at.out`: every split and seed (reused with `--resume`), then
/// the table. None when a stop was requested.
pub fn run(cfg: &ZeroShotConfig, at: &Invocation) -> Result<Option<Finished>> {
    cfg.validate()?;
    let splits = attributes::splits(cfg.unseen, cfg.splits)?;
    let (device, stop) = crate::session::prepare(&cfg.device, cfg.deterministic)?;
    let started = Instant::now();
    let mnist = Mnist::load(&at.data.join("mnist"))?;
    let mnist_m = MnistM::load(&at.data.join("mnist_m"))?;
    let images = Images {
        mnist_train: mnist.train.to_tensors(device)?,
        mnist_test: mnist.test.to_tensors(device)?,
        mnist_m_test: mnist_m.test.to_tensors(device)?,
    };
    let mut results = Vec::new();
    let total = splits.len() * cfg.seeds.len();
    let mut ran = 0usize;
    for split in &splits {
        for &seed in &cfg.seeds {
            let file = at.out.join(split.name()).join(format!("zero-shot-seed{seed}.json"));
            if at.resume {
                if let Some(r) = finished(&file, cfg)? {
                    results.push(r);
                    continue;
                }
            }
            let Some(r) = run_split(cfg, at, split, seed, &images, device, &stop)? else {
                return Ok(None);
            };
            for m in &r.methods {
                eprintln!(
                    "shift: zero-shot {} seed {seed} {:>5}: MNIST ZSL {:.4}, H {:.4}; MNIST-M ZSL {:.4}, H {:.4}",
                    split.name(),
                    m.method,
                    m.mnist.zsl,
                    m.mnist.gzsl_h,
                    m.mnist_m.zsl,
                    m.mnist_m.gzsl_h
                );
            }
            write_atomic(&file, &serde_json::to_string_pretty(&r)?)?;
            results.push(r);
            // The time left, from the splits run so far in this call (reused ones cost nothing).
            ran += 1;
            crate::report::say_time_left("zero-shot splits x seeds", (results.len(), total), ran, started);
        }
    }
    let doc = serde_json::json!({ "config": cfg, "runs": results });
    Ok(Some(Finished::write(
        &at.out,
        table(cfg, &splits, &results),
        &doc,
        "results.md, results.json, one run folder per split and seed",
        started,
    )?))
}

/// The table: a row per method and chance, the ZSL and generalised ZSL columns on MNIST and MNIST-M, each the mean
/// +- std over splits and seeds, in %.
pub fn table(cfg: &ZeroShotConfig, splits: &[Split], results: &[SplitResult]) -> String {
    let mut s = String::new();
    let names: Vec<String> = splits.iter().map(Split::name).collect();
    let _ = writeln!(
        s,
        "Zero-shot digits from their seven-segment codes: the digit net trained on the MNIST images of the seen digits \
         only; per-class accuracy (%), mean +- std over {} runs ({} splits: {}; seeds {:?}). shift's own benchmark: \
         nothing published beside it.\n",
        results.len(),
        splits.len(),
        names.join(", "),
        cfg.seeds
    );
    let _ = writeln!(
        s,
        "| method | MNIST ZSL | MNIST GZSL seen | MNIST GZSL unseen | MNIST GZSL H | MNIST-M ZSL | MNIST-M GZSL seen | MNIST-M GZSL unseen | MNIST-M GZSL H |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    let cell = |v: Vec<f64>| {
        let (m, sd) = mean_std(&v);
        format!("{:.1} +- {:.1}", 100.0 * m, 100.0 * sd)
    };
    for method in ["dap", "eszsl"] {
        let of: Vec<&MethodResult> = results
            .iter()
            .flat_map(|r| &r.methods)
            .filter(|m| m.method == method)
            .collect();
        if of.is_empty() {
            continue;
        }
        let col = |f: &dyn Fn(&MethodResult) -> f64| cell(of.iter().map(|m| f(m)).collect());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            method.to_uppercase(),
            col(&|m| m.mnist.zsl),
            col(&|m| m.mnist.gzsl_seen),
            col(&|m| m.mnist.gzsl_unseen),
            col(&|m| m.mnist.gzsl_h),
            col(&|m| m.mnist_m.zsl),
            col(&|m| m.mnist_m.gzsl_seen),
            col(&|m| m.mnist_m.gzsl_unseen),
            col(&|m| m.mnist_m.gzsl_h),
        );
    }
    let zsl_chance = format!("{:.1}", 100.0 / cfg.unseen as f64);
    let _ = writeln!(
        s,
        "| chance (uniform guess) | {zsl_chance} | 10.0 | 10.0 | 10.0 | {zsl_chance} | 10.0 | 10.0 | 10.0 |"
    );
    let backbone: Vec<f64> = results.iter().map(|r| r.backbone_seen_acc).collect();
    if !backbone.is_empty() {
        let _ = writeln!(
            s,
            "\nThe digit net on the seen digits' MNIST test images, among the seen digits: {} (accuracy, %).",
            cell(backbone)
        );
    }
    let _ = writeln!(
        s,
        "ZSL: the unseen digits the only candidates. GZSL: all ten candidates; H the harmonic mean of the seen and unseen \
         digits' accuracies. Hyper-parameters chosen on two seen digits held out of the fit (DAP's l2 from {:?}, ESZSL's \
         gamma and lambda from {:?}), never on an unseen digit. DAP's classifiers fitted on the first {} training \
         images of each seen digit, ESZSL on all.",
        cfg.dap_l2, cfg.eszsl_grid, cfg.dap_per_class
    );
    s
}
