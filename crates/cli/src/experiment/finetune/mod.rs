//! `shift experiment finetune`: pretrain the digit net on MNIST (source only, and DANN with unlabelled
//! MNIST-M), then fine-tune on k labelled MNIST-M images per class under each policy, over seeds; a table and
//! a plot of target test accuracy against k.

use super::config::ExperimentConfig;
use super::report::mean_std;
use super::run_folder::RunFolder;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use shift_data::{DigitBatcher, Digits, Mnist, MnistM};
use shift_models::pretrained::{copy_named, CopyError};
use shift_models::{digit::DigitNet, AdaptNet};
use shift_strategies::finetune::{balanced_subset, Policy, Start};
use shift_strategies::{
    fit, freeze_outside, Adapt, DigitTask, EpochRecord, FitEnd, LrSchedule, Method, Observer, Position, Sgd, Strategy,
    StrategyError, TrainConfig,
};
use shift_tensor::tch::{Device, Tensor};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    pub seeds: Vec<u64>,
    pub device: String,
    pub deterministic: bool,
    /// Labelled target images per class; `all` for the whole MNIST-M train set.
    pub labels_per_class: Vec<String>,
    pub policies: Vec<Policy>,
    /// Pretraining on MNIST (and unlabelled MNIST-M for the `dann` policy).
    pub pretrain: TrainConfig,
    /// A source-only checkpoint (`checkpoint.pt` of an earlier `experiment dann` run) to start from instead.
    pub from: Option<PathBuf>,
    /// Fine-tuning: optimiser steps (the same budget for every k) in `finetune_epochs` evaluations.
    pub finetune_steps: i64,
    pub finetune_epochs: usize,
    pub finetune_lr: LrSchedule,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            seeds: vec![0, 1, 2],
            device: "auto".into(),
            deterministic: false,
            labels_per_class: ["1", "5", "10", "50", "100", "all"].map(String::from).to_vec(),
            policies: Policy::ALL.to_vec(),
            pretrain: TrainConfig {
                epochs: 10,
                ..Default::default()
            },
            from: None,
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

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    #[command(flatten)]
    common: super::config::CommonArgs,
    /// Comma-separated k values (labelled images per class), `all` for every image.
    #[arg(long = "labels-per-class", value_delimiter = ',')]
    ks: Option<Vec<String>>,
    /// Comma-separated: head, full, discriminative, scratch, dann.
    #[arg(long, value_delimiter = ',')]
    policies: Option<Vec<Policy>>,
    /// Start the source-pretrained policies from this checkpoint instead of pretraining.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Epochs of MNIST pretraining (source-only and DANN starts).
    #[arg(long)]
    pretrain_epochs: Option<usize>,
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

impl FinetuneArgs {
    fn config(&self) -> Result<FinetuneConfig> {
        let mut c: FinetuneConfig = match &self.common.config {
            Some(p) => super::config::load_file(p)?,
            None => FinetuneConfig::default(),
        };
        if self.common.quick {
            c.pretrain.epochs = 2;
            c.pretrain.steps_per_epoch = Some(500);
            c.finetune_steps = 200;
            c.finetune_epochs = 2;
        }
        if let Some(v) = &self.common.seeds {
            c.seeds = v.clone();
        }
        if let Some(v) = &self.common.device {
            c.device = v.clone();
        }
        if let Some(v) = &self.ks {
            c.labels_per_class = v.clone();
        }
        if let Some(v) = &self.policies {
            c.policies = v.clone();
        }
        if self.from.is_some() {
            c.from = self.from.clone();
        }
        if let Some(v) = self.pretrain_epochs {
            c.pretrain.epochs = v;
        }
        if let Some(v) = self.finetune_steps {
            c.finetune_steps = v;
        }
        c.deterministic |= self.common.deterministic;
        Ok(c)
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

/// Records accuracy per evaluation; stops on Ctrl-C (a fine-tuning run is short and simply runs again).
struct Recorder<'a> {
    stop: &'a AtomicBool,
    accuracy: Vec<f64>,
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

/// The `model.*` tensors of a checkpoint, copied into a fresh digit net.
fn load_weights(net: &DigitNet, checkpoint: &Path) -> Result<()> {
    let named = shift_tensor::load_named(checkpoint)?;
    copy_named(net.var_store(), &named, "", |n| format!("model.{n}")).map_err(|e| match e {
        CopyError::Missing(key) => {
            anyhow::anyhow!("{}: `{key}` missing (not a digit-net checkpoint)", checkpoint.display())
        }
        CopyError::Shape { key, found, expected } => {
            anyhow::anyhow!(
                "{}: `{key}` has shape {found:?}, expected {expected:?}",
                checkpoint.display()
            )
        }
    })?;
    Ok(())
}

pub fn run(args: FinetuneArgs) -> Result<()> {
    let cfg = args.config()?;
    let ks: Vec<Option<usize>> = cfg.labels_per_class.iter().map(|k| parse_k(k)).collect::<Result<_>>()?;
    if cfg.policies.is_empty() || cfg.seeds.is_empty() || ks.is_empty() {
        bail!("`policies`, `seeds` and `labels_per_class` each need at least one value");
    }
    if cfg.finetune_steps <= 0 || cfg.finetune_epochs == 0 {
        bail!("`finetune_steps` and `finetune_epochs` must be at least 1");
    }
    cfg.pretrain.validate()?;
    cfg.finetune_lr.validate()?;
    let (device, stop) = super::prepare(&cfg.device, cfg.deterministic)?;
    let started = Instant::now();
    let mnist = Mnist::load(&args.common.data.join("mnist"))?;
    let mnist_m = MnistM::load(&args.common.data.join("mnist_m"))?;
    let source = mnist.train.to_tensors(device)?;
    let target = mnist_m.train.to_tensors(device)?;
    let test = mnist_m.test.to_tensors(device)?;
    let mut results = Vec::new();
    for &seed in &cfg.seeds {
        let mut start_of = std::collections::HashMap::new();
        let needs = |s: Start| cfg.policies.iter().any(|p| p.start() == s);
        if needs(Start::SourceOnly) {
            let path = match &cfg.from {
                Some(p) => p.clone(),
                None => pretrain(
                    &args,
                    &cfg,
                    Method::SourceOnly,
                    seed,
                    device,
                    &source,
                    &target,
                    &test,
                    &stop,
                )?,
            };
            start_of.insert(Start::SourceOnly, path);
        }
        if needs(Start::Dann) {
            let path = pretrain(&args, &cfg, Method::Dann, seed, device, &source, &target, &test, &stop)?;
            start_of.insert(Start::Dann, path);
        }
        for &k in &ks {
            let subset = balanced_subset(&mnist_m.train.labels, 10, k, seed);
            let k_name = k.map_or("all".to_string(), |k| k.to_string());
            let dir = args
                .out()
                .join("finetune")
                .join(format!("k{k_name}"))
                .join(format!("seed{seed}"));
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("subset.json"), serde_json::to_string(&subset)?)?;
            let labelled: Digits = mnist_m.train.select(&subset);
            let (lx, ly) = labelled.to_tensors(device)?;
            for &policy in &cfg.policies {
                let file = dir.join(format!("{policy}.json"));
                if args.common.resume {
                    if let Some(r) = std::fs::read_to_string(&file)
                        .ok()
                        .and_then(|t| serde_json::from_str(&t).ok())
                    {
                        results.push(r);
                        continue;
                    }
                }
                let t0 = Instant::now();
                shift_tensor::seed_everything(seed);
                let net = DigitNet::new(device);
                if let Some(path) = start_of.get(&policy.start()) {
                    load_weights(&net, path)?;
                }
                let groups = policy.groups();
                freeze_outside(net.var_store(), &groups);
                let sgd = Sgd::new(
                    net.var_store(),
                    &groups,
                    cfg.pretrain.momentum,
                    cfg.pretrain.weight_decay,
                )?;
                let mut strategy = Adapt::new(net, Method::TargetOnly, sgd, None);
                let n = subset.len() as i64;
                let train = TrainConfig {
                    epochs: cfg.finetune_epochs,
                    batch: n.min(cfg.pretrain.batch),
                    steps_per_epoch: Some((cfg.finetune_steps / cfg.finetune_epochs as i64).max(1)),
                    lr: cfg.finetune_lr,
                    ..cfg.pretrain.clone()
                };
                let task = DigitTask {
                    labelled: DigitBatcher::new(lx.shallow_clone(), ly.shallow_clone()),
                    unlabelled: None,
                    test: (test.0.shallow_clone(), test.1.shallow_clone()),
                };
                let mut rec = Recorder {
                    stop: &stop,
                    accuracy: Vec::new(),
                };
                if let FitEnd::Interrupted { .. } =
                    fit(&mut strategy, &task, &train, seed, Position::default(), &mut rec)?
                {
                    eprintln!(
                        "shift: interrupted; finished runs are kept. Continue with the same command and --resume."
                    );
                    std::process::exit(130);
                }
                let r = FinetuneResult {
                    policy: policy.name().into(),
                    labels_per_class: k,
                    labelled_images: subset.len(),
                    seed,
                    target_acc: *rec.accuracy.last().context("no evaluation")?,
                    accuracy_per_epoch: rec.accuracy,
                    wall_s: t0.elapsed().as_secs_f64(),
                };
                eprintln!(
                    "shift: finetune {policy:>14} k={k_name:>4} seed {seed}: target accuracy {:.4}",
                    r.target_acc
                );
                std::fs::write(&file, serde_json::to_string_pretty(&r)?)?;
                results.push(r);
            }
        }
    }
    let table = table(&cfg, &ks, &results);
    std::fs::write(args.out().join("results.md"), &table)?;
    let doc = serde_json::json!({ "config": cfg, "runs": results });
    std::fs::write(args.out().join("results.json"), serde_json::to_string_pretty(&doc)?)?;
    std::fs::write(args.out().join("accuracy_vs_k.svg"), plot(&cfg, &ks, &results))?;
    println!("\n{table}");
    println!(
        "results: {} (results.md, results.json, accuracy_vs_k.svg); total {:.1} s",
        args.out().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Pretrains (or reuses with --resume) one run and returns its checkpoint.
#[allow(clippy::too_many_arguments)]
fn pretrain(
    args: &FinetuneArgs,
    cfg: &FinetuneConfig,
    method: Method,
    seed: u64,
    device: Device,
    source: &(Tensor, Tensor),
    target: &(Tensor, Tensor),
    test: &(Tensor, Tensor),
    stop: &AtomicBool,
) -> Result<PathBuf> {
    let exp = ExperimentConfig {
        methods: vec![method],
        seeds: vec![seed],
        train: cfg.pretrain.clone(),
        ..Default::default()
    };
    let folder = RunFolder::new(&args.out(), "pretrain", method.name(), seed);
    let task = DigitTask {
        labelled: DigitBatcher::new(source.0.shallow_clone(), source.1.shallow_clone()),
        unlabelled: method
            .is_adversarial()
            .then(|| DigitBatcher::new(target.0.shallow_clone(), target.1.shallow_clone())),
        test: (test.0.shallow_clone(), test.1.shallow_clone()),
    };
    if super::run_one(&folder, &exp, method, seed, device, &task, stop, args.common.resume)?.is_none() {
        eprintln!("shift: interrupted during pretraining; continue with the same command and --resume.");
        std::process::exit(130);
    }
    Ok(folder.checkpoint())
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

fn table(cfg: &FinetuneConfig, ks: &[Option<usize>], results: &[FinetuneResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "MNIST-M target test accuracy after fine-tuning on k labelled MNIST-M images per class"
    );
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
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">MNIST-M accuracy vs labelled images per class</text>\n",
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
