//! Fine-tuning runs: pretrain (source only, and DANN with the unlabelled target), then fine-tune on k labelled
//! target images per class under each policy, over seeds; the table and the plot of target test accuracy
//! against k. MNIST -> MNIST-M with the digit net, or an Office-31 pair with the ResNet-50. The experiment that
//! drives them from a task is [`crate::finetuning`].

mod digits;
mod office;

use crate::plot::{LineChart, Series, XAxis};
use crate::report::{mean_std, mean_std_cell};
use crate::run_folder::write_atomic;
use crate::Invocation;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shift_models::AdaptNet;
use shift_strategies::finetune::{balanced_subset, Policy, Pretraining, Start};
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
    /// What the source-pretrained policies (head, full, discriminative) start from, each run once per value:
    /// `supervised` (source-only training on the labelled source), `rotation` or `simclr` (self-supervised, on
    /// the source images without their labels); `none` adds the `scratch` policy.
    pub pretraining: Vec<Pretraining>,
    /// The pretraining methods' hyper-parameters over the registry's defaults, `params.<method>.<key>` (`--set
    /// params.simclr.temperature=0.2`), as in `experiment dann`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub params: crate::config::Params,
    /// Fine-tuning regularisers (`l2-sp`, `bss`, `lwf`): each adds, beside every row that starts from a pretrained
    /// network, the same fine-tuning with its term (`full + l2-sp`); their hyper-parameters under `params`.
    pub regularisers: Vec<MethodName>,
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
            pretraining: vec![Pretraining::Supervised],
            params: Default::default(),
            regularisers: Vec::new(),
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
    /// The checkpoint given for the start that `method` pretrains instead of pretraining (`from` for source-only,
    /// `from_dann` for DANN).
    fn given(&self, method: MethodName) -> Option<&PathBuf> {
        if method == MethodName::SOURCE_ONLY {
            self.from.as_ref()
        } else if method == MethodName::DANN {
            self.from_dann.as_ref()
        } else {
            None
        }
    }

    /// Whether some row starts from a network pretrained here (one no checkpoint was given for).
    fn pretrains(&self) -> bool {
        arms(self)
            .iter()
            .filter_map(|a| a.start())
            .any(|m| self.given(m).is_none())
    }
}

/// One row of the table: a policy, and the self-supervised pretraining its start comes from where it is not the
/// policy's own (source-only for head, full and discriminative; DANN for `dann`; none for `scratch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arm {
    pub policy: Policy,
    pub self_supervised: Option<Pretraining>,
    /// The fine-tuning regulariser, where the row has one.
    pub regulariser: Option<MethodName>,
}

impl Arm {
    /// The method whose checkpoint the row starts from; None for a random start.
    fn start(self) -> Option<MethodName> {
        match (self.self_supervised, self.policy.start()) {
            (Some(p), _) => p.method(),
            (None, Start::Random) => None,
            (None, Start::SourceOnly) => Some(MethodName::SOURCE_ONLY),
            (None, Start::Dann) => Some(MethodName::DANN),
        }
    }

    /// The row's name: the policy, with the self-supervised pretraining in brackets and the regulariser after a
    /// plus (`full (simclr) + l2-sp`).
    pub fn row(self) -> String {
        let mut row = self.policy.to_string();
        if let Some(p) = self.self_supervised {
            row += &format!(" ({p})");
        }
        if let Some(r) = self.regulariser {
            row += &format!(" + {r}");
        }
        row
    }

    /// The stem of the row's result file (`full`, `full-simclr`, `full-simclr-l2-sp`).
    fn file_stem(self) -> String {
        let mut stem = self.policy.to_string();
        for part in [
            self.self_supervised.map(|p| p.to_string()),
            self.regulariser.map(|r| r.to_string()),
        ]
        .into_iter()
        .flatten()
        {
            stem += &format!("-{part}");
        }
        stem
    }

    /// The fine-tuning method with its hyper-parameters: the regulariser, or target-only training.
    fn method(self, cfg: &FinetuneConfig) -> Result<shift_strategies::MethodSpec> {
        crate::config::spec_in(&cfg.params, self.regulariser.unwrap_or(MethodName::TARGET_ONLY))
    }
}

/// The rows a configuration runs, in table order: for each pretraining in turn, `scratch` for `none` and the
/// source-pretrained policies for the others; then the policies of their own start (`scratch`, `dann`) not yet
/// listed; then, for each regulariser, every row so far that starts from a pretrained network, regularised.
pub(crate) fn arms(cfg: &FinetuneConfig) -> Vec<Arm> {
    let mut arms = Vec::new();
    let mut push = |arm: Arm| {
        if !arms.contains(&arm) {
            arms.push(arm);
        }
    };
    for &p in &cfg.pretraining {
        if p == Pretraining::None {
            push(Arm {
                policy: Policy::Scratch,
                self_supervised: None,
                regulariser: None,
            });
            continue;
        }
        for &policy in cfg.policies.iter().filter(|q| q.start() == Start::SourceOnly) {
            push(Arm {
                policy,
                self_supervised: p.self_supervised().then_some(p),
                regulariser: None,
            });
        }
    }
    for &policy in cfg.policies.iter().filter(|q| q.start() != Start::SourceOnly) {
        push(Arm {
            policy,
            self_supervised: None,
            regulariser: None,
        });
    }
    let plain = arms.clone();
    for &r in &cfg.regularisers {
        for arm in plain.iter().filter(|a| a.start().is_some()) {
            arms.push(Arm {
                regulariser: Some(r),
                ..*arm
            });
        }
    }
    arms
}

pub(crate) fn parse_k(k: &str) -> Result<Option<usize>> {
    if k == "all" {
        return Ok(None);
    }
    match k.parse::<usize>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => bail!("`labels_per_class`: `{k}` is not a positive count or `all`"),
    }
}

/// Where a fine-tuning experiment's runs go and how they run.
#[derive(Debug, Clone, Copy)]
pub struct FinetuneSetting<'a> {
    pub at: &'a Invocation,
    pub device: shift_tensor::tch::Device,
    pub stop: &'a AtomicBool,
}

/// What a task's fine-tuning comes to: the table's title and every result; None when interrupted.
pub type Finetuned = Option<(String, Vec<FinetuneResult>)>;

/// Fine-tuning on MNIST -> MNIST-M (the task `mnist:mnist-m`).
pub(crate) fn digits(cfg: &FinetuneConfig, ks: &[Option<usize>], s: FinetuneSetting) -> Result<Finetuned> {
    let target = digits::Digits::load(s.at, cfg, s.device, s.stop)?;
    drive(&target, cfg, ks, &s.at.out, s.at.resume)
}

/// Fine-tuning on an Office-31 pair (the tasks `office31:S-T`).
pub(crate) fn office31(
    cfg: &FinetuneConfig,
    ks: &[Option<usize>],
    pair: (shift_data::office31::Domain, shift_data::office31::Domain),
    s: FinetuneSetting,
) -> Result<Finetuned> {
    let target = office::Office::load(s.at, cfg, pair, s.device, s.stop)?;
    drive(&target, cfg, ks, &s.at.out, s.at.resume)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneResult {
    pub policy: String,
    /// The self-supervised pretraining the start came from, where not the policy's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretraining: Option<Pretraining>,
    /// The fine-tuning regulariser, where the row has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regulariser: Option<MethodName>,
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
    /// Pretrains with `method` (source-only, DANN, or a self-supervised method on the source images alone) and
    /// returns the checkpoint; reuses a finished run with --resume.
    fn pretrain(&self, method: MethodName, seed: u64) -> Result<Option<PathBuf>>;
    /// The labelled images and the test set for a subset of the target train images.
    fn split(&self, subset: &[usize]) -> Result<Self::Split>;
    /// Fine-tunes a network that starts from `start` (random when None) as the row `arm` says (its policy and
    /// regulariser); the target accuracy after each evaluation.
    fn finetune(&self, split: &Self::Split, arm: Arm, start: Option<&Path>, seed: u64) -> Result<Option<Vec<f64>>>;
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

/// The strategy that fine-tunes `net` as the row `arm` says: weights from `start` (`what` names the kind of
/// checkpoint in errors; random when None), the parts its policy leaves out frozen, with no optimiser state;
/// target-only training or the row's regulariser (built on the started network, which it holds the run near);
/// the eager or the fast step as configured.
fn policy_strategy<N: AdaptNet + 'static>(
    net: N,
    arm: Arm,
    start: Option<&Path>,
    what: &str,
    cfg: &FinetuneConfig,
) -> Result<Box<dyn Strategy>> {
    if let Some(path) = start {
        load_start(&net, path, what)?;
    }
    let groups = arm.policy.groups();
    freeze_outside(net.var_store(), &groups);
    let (strategy, note) = cfg
        .step
        .build_with(net, arm.method(cfg)?, &groups, cfg.pretrain.update())?;
    // Said by the pretraining's runs already where they ran; said here only once.
    static SAID: std::sync::Once = std::sync::Once::new();
    if let Some(note) = note {
        SAID.call_once(|| eprintln!("shift: {note}"));
    }
    Ok(strategy)
}

/// Every seed: the pretrained starts the rows need, then every k and row. None when interrupted.
fn drive<T: Target>(
    target: &T,
    cfg: &FinetuneConfig,
    ks: &[Option<usize>],
    out: &Path,
    resume: bool,
) -> Result<Option<(String, Vec<FinetuneResult>)>> {
    let (labels, classes) = target.labels();
    let arms = arms(cfg);
    let mut results = Vec::new();
    let total = cfg.seeds.len() * ks.len() * arms.len();
    let started = Instant::now();
    let mut ran = 0usize;
    for &seed in &cfg.seeds {
        let mut start_of = HashMap::new();
        for method in arms.iter().filter_map(|a| a.start()) {
            if start_of.contains_key(&method) {
                continue;
            }
            let path = match cfg.given(method) {
                Some(p) => p.clone(),
                None => match target.pretrain(method, seed)? {
                    Some(p) => p,
                    None => return Ok(None),
                },
            };
            start_of.insert(method, path);
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
            for &arm in &arms {
                let file = dir.join(format!("{}.json", arm.file_stem()));
                if resume {
                    if let Some(r) = finished_result(&file)? {
                        results.push(r);
                        continue;
                    }
                }
                let t0 = Instant::now();
                let start = arm.start().map(|m| start_of[&m].as_path());
                let Some(accuracy) = target.finetune(&split, arm, start, seed)? else {
                    return Ok(None);
                };
                let r = FinetuneResult {
                    policy: arm.policy.name().into(),
                    pretraining: arm.self_supervised,
                    regulariser: arm.regulariser,
                    labels_per_class: k,
                    labelled_images: subset.len(),
                    seed,
                    target_acc: *accuracy.last().context("no evaluation")?,
                    accuracy_per_epoch: accuracy,
                    wall_s: t0.elapsed().as_secs_f64(),
                };
                eprintln!(
                    "shift: finetune {:>22} k={k_name:>4} seed {seed}: target accuracy {:.4}",
                    arm.row(),
                    r.target_acc
                );
                write_atomic(&file, &serde_json::to_string_pretty(&r)?)?;
                results.push(r);
                // The time left, from the runs of this call so far, their seeds' pretraining included (reused
                // runs cost nothing).
                ran += 1;
                crate::report::say_time_left("finetune runs", (results.len(), total), ran, started);
            }
        }
    }
    Ok(Some((target.title(), results)))
}

fn k_label(k: Option<usize>) -> String {
    k.map_or("all".into(), |k| k.to_string())
}

/// Mean, std and count of the runs of `arm` at `k` labels per class; None where none ran.
fn cell(results: &[FinetuneResult], arm: Arm, k: Option<usize>) -> Option<(f64, f64, usize)> {
    let v: Vec<f64> = results
        .iter()
        .filter(|r| {
            r.policy == arm.policy.name()
                && r.pretraining == arm.self_supervised
                && r.regulariser == arm.regulariser
                && r.labels_per_class == k
        })
        .map(|r| r.target_acc)
        .collect();
    (!v.is_empty()).then(|| {
        let (m, sd) = mean_std(&v);
        (m, sd, v.len())
    })
}

pub(crate) fn table(title: &str, cfg: &FinetuneConfig, ks: &[Option<usize>], results: &[FinetuneResult]) -> String {
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
    for arm in arms(cfg) {
        let cells: Vec<String> = ks
            .iter()
            .map(|&k| cell(results, arm, k).map_or("-".into(), |(m, sd, n)| mean_std_cell(m, sd, n)))
            .collect();
        let _ = writeln!(s, "| {} | {} |", arm.row(), cells.join(" | "));
    }
    s
}

/// Target accuracy against k, mean over seeds, one line per policy.
pub(crate) fn plot(cfg: &FinetuneConfig, ks: &[Option<usize>], results: &[FinetuneResult]) -> LineChart {
    let series = arms(cfg)
        .into_iter()
        .map(|arm| Series {
            name: arm.row(),
            points: ks
                .iter()
                .enumerate()
                .filter_map(|(i, &k)| cell(results, arm, k).map(|(m, _, _)| (i as f64, m)))
                .collect(),
        })
        .collect();
    LineChart {
        title: "Target accuracy vs labelled images per class".into(),
        x_label: "k (labelled images per class)".into(),
        y_label: "target accuracy".into(),
        x_axis: XAxis::Named(ks.iter().map(|&k| k_label(k)).collect()),
        series,
    }
}

/// A fine-tuning run's saved result: None where it has not finished (no file); an error naming the file where
/// it is there but cannot be read or parsed (never silently trained again).
fn finished_result(file: &Path) -> Result<Option<FinetuneResult>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("`--resume`: cannot read {}", file.display())),
    };
    serde_json::from_str(&text).map(Some).with_context(|| {
        format!(
            "`--resume`: {} is not a fine-tuning result (delete it to run that policy again)",
            file.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_result_is_reused_and_an_unreadable_one_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("head.json");
        assert!(finished_result(&file).unwrap().is_none(), "no file: not run yet");
        let r = FinetuneResult {
            policy: "head".into(),
            pretraining: None,
            regulariser: None,
            labels_per_class: Some(3),
            labelled_images: 30,
            seed: 1,
            target_acc: 0.5,
            accuracy_per_epoch: vec![0.25, 0.5],
            wall_s: 1.0,
        };
        std::fs::write(&file, serde_json::to_string(&r).unwrap()).unwrap();
        let back = finished_result(&file).unwrap().unwrap();
        assert_eq!((back.policy.as_str(), back.target_acc, back.seed), ("head", 0.5, 1));
        std::fs::write(&file, "{\"policy\": \"head\"").unwrap();
        let e = format!("{:#}", finished_result(&file).unwrap_err());
        assert!(
            e.contains(&file.display().to_string()) && e.contains("is not a fine-tuning result"),
            "{e}"
        );
        let dir = tmp.path().join("a-folder.json");
        std::fs::create_dir(&dir).unwrap();
        let e = format!("{:#}", finished_result(&dir).unwrap_err());
        assert!(e.contains("cannot read") && e.contains("a-folder.json"), "{e}");
    }
}
