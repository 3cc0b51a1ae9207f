//! `shift experiment finetune`: pretrain (source only, and DANN with the unlabelled target), then fine-tune
//! on k labelled target images per class under each policy, over seeds; a table and a plot of target test
//! accuracy against k. MNIST -> MNIST-M with the digit net, or an Office-31 pair with the ResNet-50.

mod digits;
mod office;

use super::config::{CommonArgs, Task};
use super::report::mean_std;
use super::run_folder::write_atomic;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use shift_models::AdaptNet;
use shift_strategies::finetune::{balanced_subset, Policy, Start};
use shift_strategies::{
    freeze_outside, load_model_state, EpochRecord, LrSchedule, MethodName, Observer, Position, StepKind, Strategy,
    StrategyError, TrainConfig,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    /// `mnist:mnist-m`, or `office31:A-W` (any of A, D, W).
    pub task: String,
    pub seeds: Vec<u64>,
    pub device: String,
    pub deterministic: bool,
    /// Labelled target images per class; `all` for the whole MNIST-M train set. Unset: 1, 5, 10, 50, 100, all
    /// for digits; 1, 3, 5, 10 for Office-31 (whose unlabelled rest is the test set).
    pub labels_per_class: Option<Vec<String>>,
    pub policies: Vec<Policy>,
    /// Pretraining on the source (and the unlabelled target for the `dann` policy).
    pub pretrain: TrainConfig,
    /// The train step of pretraining and fine-tuning (digits): eager, or fast (see `shift experiment dann --step`).
    pub step: StepKind,
    /// A source-only checkpoint (`checkpoint.pt` of an earlier `experiment dann` run) to start from instead.
    pub from: Option<PathBuf>,
    /// A DANN checkpoint to start the `dann` policy from instead of pretraining.
    pub from_dann: Option<PathBuf>,
    /// Office-31: the ImageNet ResNet-50 weights the pretraining starts from (unset: the installed file).
    pub pretrained: Option<PathBuf>,
    /// Fine-tuning: optimiser steps (the same budget for every k) in `finetune_epochs` evaluations.
    pub finetune_steps: i64,
    pub finetune_epochs: usize,
    pub finetune_lr: LrSchedule,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            task: "mnist:mnist-m".into(),
            seeds: vec![0, 1, 2],
            device: "auto".into(),
            deterministic: false,
            labels_per_class: None,
            policies: Policy::ALL.to_vec(),
            pretrain: TrainConfig {
                epochs: 10,
                ..Default::default()
            },
            step: StepKind::Eager,
            from: None,
            from_dann: None,
            pretrained: None,
            finetune_steps: 1000,
            finetune_epochs: 5,
            finetune_lr: LrSchedule::Paper {
                lr0: 0.01,
                alpha: 10.0,
                beta: 0.75,
            },
        }
    }
}

impl FinetuneConfig {
    /// The checkpoint given for `start` instead of pretraining (`from`, `from_dann`).
    fn given(&self, start: Start) -> Option<&PathBuf> {
        match start {
            Start::SourceOnly => self.from.as_ref(),
            Start::Dann => self.from_dann.as_ref(),
            Start::Random => None,
        }
    }

    /// Whether some policy starts from a network pretrained here (one no checkpoint was given for).
    fn pretrains(&self) -> bool {
        self.policies
            .iter()
            .any(|p| p.start() != Start::Random && self.given(p.start()).is_none())
    }
}

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// mnist:mnist-m, or office31:A-W (A, D, W in any pair).
    #[arg(long)]
    task: Option<String>,
    /// Comma-separated k values (labelled images per class), `all` for every image.
    #[arg(long = "labels-per-class", value_delimiter = ',')]
    ks: Option<Vec<String>>,
    /// Comma-separated: head, full, discriminative, scratch, dann.
    #[arg(long, value_delimiter = ',')]
    policies: Option<Vec<Policy>>,
    /// Start the source-pretrained policies from this checkpoint instead of pretraining.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Start the `dann` policy from this checkpoint (of a DANN run) instead of pretraining.
    #[arg(long)]
    from_dann: Option<PathBuf>,
    /// Office-31: torchvision-named ResNet-50 weights (.safetensors or .ot) for the pretraining.
    #[arg(long)]
    pretrained: Option<PathBuf>,
    /// Epochs of pretraining (source-only and DANN starts).
    #[arg(long)]
    pretrain_epochs: Option<usize>,
    /// The train step of pretraining and fine-tuning (digit task): eager, or fast (CUDA graph on CUDA).
    #[arg(long)]
    step: Option<StepKind>,
    /// Examples per domain per step, in pretraining and fine-tuning.
    #[arg(long)]
    batch: Option<i64>,
    /// Optimiser steps of each fine-tuning run (the same budget for every k).
    #[arg(long)]
    finetune_steps: Option<i64>,
}

fn parse_k(k: &str) -> Result<Option<usize>> {
    if k == "all" {
        return Ok(None);
    }
    match k.parse::<usize>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => bail!("`labels_per_class`: `{k}` is not a positive count or `all`"),
    }
}

/// `--quick`: a few minutes on two CPU cores for the digits. Office-31 gets a short schedule too, but a
/// ResNet-50 step on two cores takes seconds, so it is a smoke run rather than a result.
fn quick(c: &mut FinetuneConfig, task: Task) {
    c.finetune_epochs = 2;
    match task {
        Task::MnistToMnistM => {
            c.pretrain.epochs = 2;
            c.pretrain.steps_per_epoch = Some(500);
            c.finetune_steps = 200;
        }
        Task::Office31 { .. } => {
            c.pretrain.epochs = 1;
            c.pretrain.steps_per_epoch = Some(10);
            c.finetune_steps = 20;
        }
    }
}

impl FinetuneArgs {
    fn config(&self) -> Result<(FinetuneConfig, Task)> {
        let mut c: FinetuneConfig = match &self.common.config {
            Some(p) => super::config::load_file(p)?,
            None => FinetuneConfig::default(),
        };
        if let Some(v) = &self.task {
            c.task = v.clone();
        }
        let task = Task::parse(&c.task)?;
        if self.common.quick {
            quick(&mut c, task);
        }
        if let Some(v) = &self.common.seeds {
            c.seeds = v.clone();
        }
        if let Some(v) = &self.common.device {
            c.device = v.clone();
        }
        if self.ks.is_some() {
            c.labels_per_class = self.ks.clone();
        }
        if let Some(v) = &self.policies {
            c.policies = v.clone();
        }
        if self.from.is_some() {
            c.from = self.from.clone();
        }
        if self.from_dann.is_some() {
            c.from_dann = self.from_dann.clone();
        }
        if self.pretrained.is_some() {
            c.pretrained = self.pretrained.clone();
        }
        if let Some(v) = self.pretrain_epochs {
            c.pretrain.epochs = v;
        }
        if let Some(v) = self.step {
            c.step = v;
        }
        if let Some(v) = self.batch {
            c.pretrain.batch = v;
        }
        if let Some(v) = self.finetune_steps {
            c.finetune_steps = v;
        }
        c.deterministic |= self.common.deterministic;
        let default_ks: &[&str] = match task {
            Task::MnistToMnistM => &["1", "5", "10", "50", "100", "all"],
            Task::Office31 { .. } => &["1", "3", "5", "10"],
        };
        c.labels_per_class
            .get_or_insert_with(|| default_ks.iter().map(|k| k.to_string()).collect());
        Ok((c, task))
    }

    fn out(&self) -> PathBuf {
        self.common.out.clone().unwrap_or_else(|| "runs/finetune".into())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneResult {
    pub policy: String,
    /// None: every labelled image.
    pub labels_per_class: Option<usize>,
    pub labelled_images: usize,
    pub seed: u64,
    pub target_acc: f64,
    pub accuracy_per_epoch: Vec<f64>,
    pub wall_s: f64,
}

/// What the fine-tuning driver needs from a task: its target labels, pretraining, and fine-tuning on a
/// labelled subset. `None` from either run means a stop was requested.
trait Target {
    /// What a labelled subset turns into (tensors, or image pipelines for the subset and the test images).
    type Split;
    /// A line that says what the table's numbers are.
    fn title(&self) -> String;
    /// The class of every target train image, and the number of classes.
    fn labels(&self) -> (Vec<u8>, usize);
    /// Pretrains with `method` (source-only or DANN) and returns the checkpoint; reuses a finished run with
    /// --resume.
    fn pretrain(&self, method: MethodName, seed: u64) -> Result<Option<PathBuf>>;
    /// The labelled images and the test set for a subset of the target train images.
    fn split(&self, subset: &[usize]) -> Result<Self::Split>;
    /// Fine-tunes a network that starts from `start` (random when None) under `policy`; the target accuracy
    /// after each evaluation.
    fn finetune(
        &self,
        split: &Self::Split,
        policy: Policy,
        start: Option<&Path>,
        seed: u64,
    ) -> Result<Option<Vec<f64>>>;
}

/// Settings every task's fine-tuning run shares: the step budget split into evaluations, the batch (at most
/// the labelled set), and the fine-tuning learning-rate schedule.
fn finetune_train(cfg: &FinetuneConfig, labelled: usize) -> TrainConfig {
    TrainConfig {
        epochs: cfg.finetune_epochs,
        batch: (labelled as i64).min(cfg.pretrain.batch),
        steps_per_epoch: Some((cfg.finetune_steps / cfg.finetune_epochs as i64).max(1)),
        lr: cfg.finetune_lr,
        ..cfg.pretrain.clone()
    }
}

/// Records accuracy per evaluation; stops on Ctrl-C (a fine-tuning run is short and simply runs again).
struct Recorder<'a> {
    stop: &'a AtomicBool,
    accuracy: Vec<f64>,
}

impl<'a> Recorder<'a> {
    fn new(stop: &'a AtomicBool) -> Self {
        Self {
            stop,
            accuracy: Vec::new(),
        }
    }
}

impl Observer for Recorder<'_> {
    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
    fn on_epoch(&mut self, r: &EpochRecord, _next: Position, _s: &dyn Strategy) -> Result<(), StrategyError> {
        self.accuracy.push(r.target_acc);
        Ok(())
    }
    fn on_interrupt(&mut self, _next: Position, _s: &dyn Strategy) -> Result<(), StrategyError> {
        Ok(())
    }
}

/// The `model.*` tensors of a checkpoint, copied into a fresh network's variables (`what` names the kind of
/// network in errors).
fn load_start(net: &dyn AdaptNet, checkpoint: &Path, what: &str) -> Result<()> {
    let named = shift_tensor::load_named(checkpoint)?;
    load_model_state(net, &named).with_context(|| format!("{}: not a {what} checkpoint", checkpoint.display()))
}

/// The target-only strategy that fine-tunes `net` under `policy`: weights from `start` (`what` names the kind
/// of checkpoint in errors; random when None), the parts the policy leaves out frozen, with no optimiser state;
/// the eager or the fast step as configured.
fn policy_strategy<N: AdaptNet + 'static>(
    net: N,
    policy: Policy,
    start: Option<&Path>,
    what: &str,
    cfg: &FinetuneConfig,
) -> Result<Box<dyn Strategy>> {
    if let Some(path) = start {
        load_start(&net, path, what)?;
    }
    let groups = policy.groups();
    freeze_outside(net.var_store(), &groups);
    let (strategy, note) = cfg.step.build_with(
        net,
        MethodName::TARGET_ONLY,
        &groups,
        cfg.pretrain.momentum,
        cfg.pretrain.weight_decay,
    )?;
    // Said by the pretraining's runs already where they ran; said here only once.
    static SAID: std::sync::Once = std::sync::Once::new();
    if let Some(note) = note {
        SAID.call_once(|| eprintln!("shift: {note}"));
    }
    Ok(strategy)
}

pub fn run(args: FinetuneArgs) -> Result<()> {
    let (cfg, task) = args.config()?;
    let ks: Vec<Option<usize>> = cfg
        .labels_per_class
        .iter()
        .flatten()
        .map(|k| parse_k(k))
        .collect::<Result<_>>()?;
    if cfg.policies.is_empty() || cfg.seeds.is_empty() || ks.is_empty() {
        bail!("`policies`, `seeds` and `labels_per_class` each need at least one value");
    }
    if cfg.finetune_steps <= 0 || cfg.finetune_epochs == 0 {
        bail!("`finetune_steps` and `finetune_epochs` must be at least 1");
    }
    cfg.pretrain.validate_at("pretrain")?;
    cfg.finetune_lr.validate_at("finetune_lr")?;
    if matches!(task, Task::Office31 { .. }) && ks.contains(&None) {
        bail!(
            "`labels_per_class`: `all` would label every Office-31 target image and leave none to test on; \
             give counts per class"
        );
    }
    for (flag, path) in [("from", &cfg.from), ("from_dann", &cfg.from_dann)] {
        if let Some(p) = path.as_ref().filter(|p| !p.is_file()) {
            bail!(
                "`{flag}`: {} is not a file (give an earlier run's checkpoint.pt)",
                p.display()
            );
        }
    }
    task.check_step(cfg.step)?;
    let (device, stop) = super::session::prepare(&cfg.device, cfg.deterministic)?;
    let started = Instant::now();
    let out = args.out();
    let results = match task {
        Task::MnistToMnistM => {
            let target = digits::Digits::load(&args.common, &cfg, &out, device, &stop)?;
            drive(&target, &cfg, &ks, &out, args.common.resume)?
        }
        Task::Office31 { source, target } => {
            let target = office::Office::load(&args.common, &cfg, (source, target), &out, device, &stop)?;
            drive(&target, &cfg, &ks, &out, args.common.resume)?
        }
    };
    let Some((title, results)) = results else {
        eprintln!("shift: interrupted; finished runs are kept. Continue with the same command and --resume.");
        std::process::exit(130);
    };
    let table = table(&title, &cfg, &ks, &results);
    write_atomic(&out.join("results.md"), &table)?;
    let doc = serde_json::json!({ "config": cfg, "runs": results });
    write_atomic(&out.join("results.json"), &serde_json::to_string_pretty(&doc)?)?;
    write_atomic(&out.join("accuracy_vs_k.svg"), &plot(&cfg, &ks, &results))?;
    println!("\n{table}");
    println!(
        "results: {} (results.md, results.json, accuracy_vs_k.svg); total {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Every seed: the pretrained starts the policies need, then every k and policy. None when interrupted.
fn drive<T: Target>(
    target: &T,
    cfg: &FinetuneConfig,
    ks: &[Option<usize>],
    out: &Path,
    resume: bool,
) -> Result<Option<(String, Vec<FinetuneResult>)>> {
    let (labels, classes) = target.labels();
    let mut results = Vec::new();
    for &seed in &cfg.seeds {
        let mut start_of = HashMap::new();
        let needs = |s: Start| cfg.policies.iter().any(|p| p.start() == s);
        for (start, method) in [
            (Start::SourceOnly, MethodName::SOURCE_ONLY),
            (Start::Dann, MethodName::DANN),
        ] {
            if !needs(start) {
                continue;
            }
            let path = match cfg.given(start) {
                Some(p) => p.clone(),
                None => match target.pretrain(method, seed)? {
                    Some(p) => p,
                    None => return Ok(None),
                },
            };
            start_of.insert(start, path);
        }
        for &k in ks {
            let subset = balanced_subset(&labels, classes, k, seed);
            let k_name = k_label(k);
            let dir = out
                .join("finetune")
                .join(format!("k{k_name}"))
                .join(format!("seed{seed}"));
            std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
            write_atomic(&dir.join("subset.json"), &serde_json::to_string(&subset)?)?;
            let split = target
                .split(&subset)
                .with_context(|| format!("k={k_name}, seed {seed}"))?;
            for &policy in &cfg.policies {
                let file = dir.join(format!("{policy}.json"));
                if resume {
                    if let Some(r) = std::fs::read_to_string(&file)
                        .ok()
                        .and_then(|t| serde_json::from_str(&t).ok())
                    {
                        results.push(r);
                        continue;
                    }
                }
                let t0 = Instant::now();
                let start = start_of.get(&policy.start()).map(PathBuf::as_path);
                let Some(accuracy) = target.finetune(&split, policy, start, seed)? else {
                    return Ok(None);
                };
                let r = FinetuneResult {
                    policy: policy.name().into(),
                    labels_per_class: k,
                    labelled_images: subset.len(),
                    seed,
                    target_acc: *accuracy.last().context("no evaluation")?,
                    accuracy_per_epoch: accuracy,
                    wall_s: t0.elapsed().as_secs_f64(),
                };
                eprintln!(
                    "shift: finetune {policy:>14} k={k_name:>4} seed {seed}: target accuracy {:.4}",
                    r.target_acc
                );
                write_atomic(&file, &serde_json::to_string_pretty(&r)?)?;
                results.push(r);
            }
        }
    }
    Ok(Some((target.title(), results)))
}

fn k_label(k: Option<usize>) -> String {
    k.map_or("all".into(), |k| k.to_string())
}

fn cell(results: &[FinetuneResult], policy: Policy, k: Option<usize>) -> Option<(f64, f64)> {
    let v: Vec<f64> = results
        .iter()
        .filter(|r| r.policy == policy.name() && r.labels_per_class == k)
        .map(|r| r.target_acc)
        .collect();
    (!v.is_empty()).then(|| mean_std(&v))
}

fn table(title: &str, cfg: &FinetuneConfig, ks: &[Option<usize>], results: &[FinetuneResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{title}");
    let _ = writeln!(
        s,
        "(mean +- std over seeds {:?}; last evaluation, never chosen with test labels)\n",
        cfg.seeds
    );
    let _ = writeln!(
        s,
        "| policy | {} |",
        ks.iter()
            .map(|k| format!("k={}", k_label(*k)))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(s, "|---|{}", "---|".repeat(ks.len()));
    for &p in &cfg.policies {
        let cells: Vec<String> = ks
            .iter()
            .map(|&k| cell(results, p, k).map_or("-".into(), |(m, sd)| format!("{m:.4} +- {sd:.4}")))
            .collect();
        let _ = writeln!(s, "| {p} | {} |", cells.join(" | "));
    }
    s
}

fn plot(cfg: &FinetuneConfig, ks: &[Option<usize>], results: &[FinetuneResult]) -> String {
    const COLORS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
    let (w, h, l, r, t, b) = (640.0, 400.0, 60.0, 150.0, 40.0, 50.0);
    let x = |i: usize| l + (w - l - r) * i as f64 / (ks.len().max(2) - 1) as f64;
    let y = |a: f64| t + (h - t - b) * (1.0 - a);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">Target accuracy vs labelled images per class</text>\n",
        w / 2.0
    );
    for i in 0..=5 {
        let a = i as f64 / 5.0;
        let _ = writeln!(svg, "<line x1=\"{l}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{a:.1}</text>", w - r, y(a), y(a), l - 6.0, y(a) + 4.0);
    }
    for (i, k) in ks.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(i),
            h - b + 16.0,
            k_label(*k)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">k (labelled images per class)</text>",
        (l + w - r) / 2.0,
        h - 12.0
    );
    for (j, &p) in cfg.policies.iter().enumerate() {
        let c = COLORS[j % COLORS.len()];
        let pts: Vec<String> = ks
            .iter()
            .enumerate()
            .filter_map(|(i, &k)| cell(results, p, k).map(|(m, _)| format!("{:.1},{:.1}", x(i), y(m))))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        );
        let ly = t + 20.0 * j as f64 + 10.0;
        let _ = writeln!(svg, "<line x1=\"{}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{p}</text>", w - r + 10.0, w - r + 30.0, w - r + 36.0, ly + 4.0);
    }
    svg.push_str("</svg>\n");
    svg
}
