//! The runs of a task whose examples are tensors held on the device (feature vectors: the Amazon reviews,
//! `vectors:`, the moons; log-mel spectrograms: the spoken digits): the held-out source split and the samples the
//! validators score, and one run per method and seed of the task's backbone through the one run driver.

use crate::config::ExperimentConfig;
use crate::digits::digit_task;
use crate::run::{run_one, Run};
use crate::run_folder::{RunFolder, RunResult};
use crate::selection::{self, ValidationConfig};
use anyhow::Result;
use shift_models::AdaptNet;
use shift_strategies::{MethodName, ValidationSet};
use shift_tensor::tch::{Device, Tensor};
use std::sync::atomic::AtomicBool;

/// Examples and their classes, `[N, ...]` and `[N]`.
pub type Pair = (Tensor, Tensor);

/// A tensor task's tensors: the labelled source left to train on, the target (its classes -1 where it is
/// unlabelled), the test set (empty where there is none: its accuracy is NaN), and what the validators score.
#[derive(Debug)]
pub struct TensorData {
    pub train: Pair,
    pub target: Pair,
    pub test: Pair,
    pub validation: Option<ValidationSet>,
}

impl TensorData {
    /// `source`, `target` and `test` with `v.source_split` of the source held out for the validators.
    pub fn new(source: &Pair, target: Pair, test: Pair, v: &ValidationConfig, device: Device) -> Result<Self> {
        let (train, validation) = held_out(source, &target.0, v, device)?;
        Ok(Self {
            train,
            target,
            test,
            validation,
        })
    }
}

/// The source examples left to train on, and what the validators score (None when `v.source_split` is 0): the
/// held-out split (a seeded permutation, as the digits'), the unlabelled target sample and a sample of the
/// source training examples.
pub fn held_out(
    source: &Pair,
    target: &Tensor,
    v: &ValidationConfig,
    device: Device,
) -> Result<(Pair, Option<ValidationSet>)> {
    if !v.enabled() {
        return Ok(((source.0.shallow_clone(), source.1.shallow_clone()), None));
    }
    let n = source.0.size()[0] as usize;
    let (held, keep) = selection::split_source(n, v)?;
    let index = |ix: &[usize]| Tensor::from_slice(&ix.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(device);
    let pick = |p: &Pair, ix: &[usize]| (p.0.index_select(0, &index(ix)), p.1.index_select(0, &index(ix)));
    let train = pick(source, &keep);
    let nt = target.size()[0] as usize;
    let target_sample = target.index_select(0, &index(&selection::sample(nt, v.target_examples, v.seed, 1)));
    let kept = train.0.size()[0] as usize;
    let source_sample = train
        .0
        .index_select(0, &index(&selection::sample(kept, v.source_train_examples, v.seed, 2)));
    let set = ValidationSet {
        target: target_sample,
        source_split: pick(source, &held),
        source_train: source_sample,
    };
    Ok((train, Some(set)))
}

/// Every method and seed of `cfg` on `data`, in `out/<slug>/<method>/seed<N>/`, the network from `net` (called
/// after each run's seed is set); None when interrupted.
#[allow(clippy::too_many_arguments)]
pub fn run_all<N: AdaptNet + 'static>(
    out: &std::path::Path,
    slug: &str,
    cfg: &ExperimentConfig,
    data: &TensorData,
    device: Device,
    stop: &AtomicBool,
    resume: bool,
    net: impl Fn() -> Result<N>,
) -> Result<Option<Vec<RunResult>>> {
    let mut results = Vec::new();
    for &method in &cfg.methods {
        for &seed in &cfg.seeds {
            let task = digit_task(method, &data.train, &data.target, &data.test, data.validation.as_ref());
            let folder = RunFolder::new(out, slug, method.as_str(), seed);
            let run = Run {
                folder: &folder,
                cfg,
                method,
                seed,
                device,
                random_init_backbone: false,
            };
            let done = run_one(&run, &task, stop, resume, || {
                let (strategy, _) = cfg.step.build(net()?, cfg.spec(method)?, cfg.train.update())?;
                Ok(strategy)
            })?;
            match done {
                Some(r) => results.push(r),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(results))
}

/// Refuses the methods that train on target labels where the target has none, naming them.
pub fn check_labelled_target(methods: &[MethodName], labelled: bool) -> Result<()> {
    if let Some(m) = methods.iter().find(|m| m.data().labelled_target).filter(|_| !labelled) {
        anyhow::bail!("`methods`: {m} trains on target labels, and the target file has none");
    }
    Ok(())
}
