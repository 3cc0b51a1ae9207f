//! Office-31 runs of `shift experiment dann`: ResNet-50 (optionally ImageNet-initialised), backbone at 0.1x
//! learning rate, images through the threaded pipeline (decoded once, cached; random crops and flips per epoch).
//! Checkpoints are written at epoch ends; an interrupted run resumes from the last finished epoch. The epoch
//! loop ([`train_epochs`]) also serves `shift experiment finetune` on Office-31.

use super::config::{ExperimentConfig, Task};
use super::run_folder::{finish, Resumed, RunFolder, RunObserver, RunResult};
use anyhow::{Context, Result};
use shift_data::office31::{list_domain, Domain, ImageList, CLASSES};
use shift_data::pipeline::{Batch as PipelineBatch, ImagePipeline};
use shift_data::transforms::Transform;
use shift_data::DataError;
use shift_models::{office::OfficeNet, pretrained, Part};
use shift_strategies::{
    end_epoch, scheduled_step, Batch, EpochEnd, GroupSpec, MethodName, Observer, Position, StepBatch, StepKind,
    Strategy, StrategyError, TrainConfig,
};
use shift_tensor::tch::Device;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Where `cargo xtask download resnet50-imagenet` puts the converted weights, under the data folder.
const IMAGENET_WEIGHTS: &str = "weights/resnet50-imagenet/resnet50.safetensors";

/// The ImageNet weights an Office-31 ResNet-50 starts from: `given` (--pretrained), else the file
/// `cargo xtask download resnet50-imagenet` installs under `data`, else none (said on stderr).
pub(crate) fn imagenet_weights(data: &Path, given: Option<PathBuf>) -> Option<PathBuf> {
    if given.is_some() {
        return given;
    }
    let installed = data.join(IMAGENET_WEIGHTS);
    if installed.is_file() {
        eprintln!("shift: ImageNet weights: {}", installed.display());
        Some(installed)
    } else {
        eprintln!(
            "shift: no --pretrained and no {}: the ResNet-50 starts from random weights \
             (`cargo xtask download resnet50-imagenet` installs torchvision's ImageNet weights)",
            installed.display()
        );
        None
    }
}

/// The three pipelines of an Office-31 pair: source and target for training (random crops and flips), the
/// target again for testing (centre crops). Decoded images are cached in memory.
pub(crate) struct OfficePair {
    pub source: ImagePipeline,
    pub target: ImagePipeline,
    pub test: ImagePipeline,
    /// The target listing (sorted), for drawing labelled subsets.
    pub target_list: ImageList,
}

impl OfficePair {
    pub fn load(data: &Path, source: Domain, target: Domain, batch: usize) -> Result<Self> {
        let root = data.join("office31");
        let source_list = list_domain(&root, source)?;
        let target_list = list_domain(&root, target)?;
        let pair = Self {
            source: ImagePipeline::new(source_list, Transform::Train, batch)?.with_cache(),
            target: ImagePipeline::new(target_list.clone(), Transform::Train, batch)?.with_cache(),
            test: ImagePipeline::new(target_list.clone(), Transform::Eval, batch)?.with_cache(),
            target_list,
        };
        eprintln!(
            "shift: Office-31 {}->{}: {} source, {} target images",
            source.letter(),
            target.letter(),
            pair.source.len(),
            pair.target.len()
        );
        Ok(pair)
    }
}

/// The ResNet's groups: the backbone at 0.1x the learning rate, the bottleneck and the head at 1x (a method adds
/// its own networks').
fn groups() -> Vec<GroupSpec> {
    let backbone = GroupSpec {
        part: Part::Features,
        prefix: Some("features.backbone."),
        lr_mult: 0.1,
    };
    vec![
        backbone,
        GroupSpec::part(Part::Features),
        GroupSpec::part(Part::Classifier),
    ]
}

pub fn run(
    data: &Path,
    out: &Path,
    cfg: &ExperimentConfig,
    task: Task,
    device: Device,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<Vec<RunResult>>> {
    let Task::Office31 { source, target } = task else {
        unreachable!("office runner for Office-31 tasks")
    };
    let OfficePair {
        source: src,
        target: tgt,
        test,
        ..
    } = OfficePair::load(data, source, target, cfg.train.batch as usize)?;
    let mut cfg = cfg.clone();
    cfg.pretrained = imagenet_weights(data, cfg.pretrained.take());
    let cfg = &cfg;
    let mut results = Vec::new();
    for &method in &cfg.methods {
        for &seed in &cfg.seeds {
            let folder = RunFolder::new(out, &task.slug(), method.as_str(), seed);
            let needs = method.data();
            let labelled = if needs.labelled_target { &tgt } else { &src };
            let unlabelled = needs.unlabelled_target.then_some(&tgt);
            match run_one(
                &folder,
                cfg,
                method,
                seed,
                device,
                (labelled, unlabelled, &test),
                stop,
                resume,
            )? {
                Some(r) => results.push(r),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(results))
}

/// One run in its folder: fresh, resumed from its last finished epoch, or reused when finished (--resume).
/// None when a stop was requested.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_one(
    folder: &RunFolder,
    cfg: &ExperimentConfig,
    method: MethodName,
    seed: u64,
    device: Device,
    pipelines: Pipelines,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<RunResult>> {
    let label = format!("{method} seed {seed}");
    if let Some(done) = folder.finished_earlier(cfg, resume, &label)? {
        return Ok(Some(done));
    }
    shift_tensor::seed_everything(seed);
    let mut net = OfficeNet::new(device, CLASSES.len() as i64);
    if let Some(path) = &cfg.pretrained {
        let n = pretrained::load_into(net_vs(&mut net), path, "features.backbone.")?;
        eprintln!("shift: loaded {n} ImageNet tensors from {}", path.display());
    }
    let (mut strategy, _) =
        StepKind::Eager.build_with(net, method, &groups(), cfg.train.momentum, cfg.train.weight_decay)?;
    let config =
        serde_json::json!({ "experiment": cfg, "method": method, "seed": seed, "device": format!("{device:?}") });
    // Office-31 checkpoints are taken at epoch ends only: an interrupted epoch runs again.
    let Resumed {
        next,
        seconds,
        accuracy: history,
    } = folder.resume_or_start(strategy.as_mut(), resume, config)?;
    let start_epoch = next.epoch;
    let mut observer = RunObserver::new(folder, stop, label, cfg.train.epochs, seconds, history);
    let finished = train_epochs(
        strategy.as_mut(),
        &cfg.train,
        seed,
        start_epoch,
        pipelines,
        device,
        &mut observer,
    )
    .with_context(|| format!("{method} seed {seed} (run folder {})", folder.dir.display()))?;
    if !finished {
        observer
            .bar
            .abandon_with_message("interrupted (resumes from the last finished epoch)");
        return Ok(None);
    }
    observer.bar.finish_and_clear();
    let acc = observer.accuracy.clone();
    let mut result = finish(folder, method, seed, device, acc, observer.seconds(), cfg.train.epochs)?;
    if cfg.pretrained.is_none() {
        result.random_init_backbone = true;
        folder.write_result(&result)?;
    }
    Ok(Some(result))
}

/// Labelled images, unlabelled target images (adversarial methods), and the test images.
pub(crate) type Pipelines<'a> = (&'a ImagePipeline, Option<&'a ImagePipeline>, &'a ImagePipeline);

/// A pass over `pipe` that starts another (with the next seed) when it runs out, so that an epoch may hold
/// more steps than one pass has batches.
struct Cycle<'a> {
    pipe: &'a ImagePipeline,
    seed: u64,
    round: u64,
    it: Box<dyn Iterator<Item = Result<PipelineBatch, DataError>> + 'a>,
}

impl<'a> Cycle<'a> {
    fn new(pipe: &'a ImagePipeline, seed: u64) -> Self {
        Self {
            pipe,
            seed,
            round: 0,
            it: Box::new(pipe.epoch(seed)),
        }
    }

    fn next_batch(&mut self) -> Result<PipelineBatch> {
        if let Some(b) = self.it.next() {
            return Ok(b?);
        }
        self.round += 1;
        self.it = Box::new(self.pipe.epoch(self.seed ^ self.round.wrapping_mul(0x9e37_79b9)));
        Ok(self.it.next().context("the image pipeline has no full batch")??)
    }
}

/// Trains epochs `start_epoch..train.epochs` with the paper's schedules, evaluating on the test pipeline after
/// each: the loop shared by Office-31 adaptation runs and fine-tuning. An epoch is one pass over the labelled
/// images unless `steps_per_epoch` says otherwise. Returns false when a stop was requested (the epoch in
/// progress is dropped; checkpoints are the observer's business at epoch ends).
pub(crate) fn train_epochs(
    strategy: &mut dyn Strategy,
    train: &TrainConfig,
    seed: u64,
    start_epoch: usize,
    (labelled, unlabelled, test): Pipelines,
    device: Device,
    observer: &mut dyn Observer,
) -> Result<bool> {
    let full = labelled.batches_per_epoch() as i64;
    if full == 0 {
        anyhow::bail!(
            "`batch`: {} is larger than the {} labelled images",
            train.batch,
            labelled.len()
        );
    }
    let steps = train.steps_per_epoch.unwrap_or(full);
    for epoch in start_epoch..train.epochs {
        let t0 = Instant::now();
        let epoch_seed = seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64);
        let mut xs_iter = Cycle::new(labelled, epoch_seed);
        let mut xt_iter = unlabelled.map(|u| Cycle::new(u, epoch_seed ^ 0x5eed));
        let (mut lr, mut lambda) = (0.0, 0.0);
        for step in 0..steps {
            let (xs, ys) = xs_iter.next_batch()?;
            let xt = xt_iter.as_mut().map(|it| it.next_batch()).transpose()?.map(|b| b.0);
            let (xs, ys) = (xs.to_device(device), ys.to_device(device));
            let xt = xt.map(|x| x.to_device(device));
            let batch = StepBatch {
                labelled: (&xs, &ys),
                unlabelled: xt.as_ref(),
            };
            let stop;
            (lr, lambda, stop) = scheduled_step(
                strategy,
                train,
                Position { epoch, step },
                steps,
                Batch::Tensors(&batch),
                observer,
            )?;
            if stop {
                return Ok(false);
            }
        }
        let end = EpochEnd {
            epoch,
            steps,
            lr,
            lambda,
            started: t0,
        };
        end_epoch(strategy, observer, end, &|s: &dyn Strategy| accuracy(s, test, device))?;
    }
    Ok(true)
}

fn net_vs(net: &mut OfficeNet) -> &mut shift_tensor::tch::nn::VarStore {
    net.var_store_mut()
}

/// Target test accuracy over the evaluation pipeline (centre crops, every image once).
fn accuracy(strategy: &dyn Strategy, test: &ImagePipeline, device: Device) -> Result<f64, StrategyError> {
    let (mut correct, mut n) = (0.0, 0usize);
    for b in test.epoch(0) {
        let (x, y) = b.map_err(|e| StrategyError::Other(e.to_string()))?;
        let len = y.size()[0] as usize;
        correct += strategy.accuracy(&x.to_device(device), &y.to_device(device)) * len as f64;
        n += len;
    }
    Ok(if n == 0 { 0.0 } else { correct / n as f64 })
}
