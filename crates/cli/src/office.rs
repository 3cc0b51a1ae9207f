//! Office-31 runs of `shift experiment dann`: ResNet-50 (optionally ImageNet-initialised), backbone at 0.1x
//! learning rate, images through the threaded pipeline (decoded once, cached; random crops and flips per epoch).
//! Checkpoints are written at epoch ends; an interrupted run resumes from the last finished epoch.

use crate::experiment::config::{ExperimentConfig, Task};
use crate::experiment::run_folder::{Resumed, RunFolder, RunObserver, RunResult};
use anyhow::{Context, Result};
use shift_data::office31::{list_domain, CLASSES};
use shift_data::pipeline::ImagePipeline;
use shift_data::transforms::Transform;
use shift_models::{office::OfficeNet, pretrained, AdaptNet, Part};
use shift_strategies::{
    end_epoch, scheduled_step, Adapt, Batch, EpochEnd, GroupSpec, Method, Position, Sgd, StepBatch, Strategy,
    StrategyError,
};
use shift_tensor::tch::Device;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Where `cargo xtask download resnet50-imagenet` puts the converted weights, under the data folder.
const IMAGENET_WEIGHTS: &str = "weights/resnet50-imagenet/resnet50.safetensors";

fn groups(method: Method) -> (Vec<GroupSpec>, Option<Vec<GroupSpec>>) {
    let features = vec![
        GroupSpec {
            part: Part::Features,
            prefix: Some("features.backbone."),
            lr_mult: 0.1,
        },
        GroupSpec::part(Part::Features),
        GroupSpec::part(Part::Classifier),
    ];
    let disc = vec![GroupSpec::part(Part::Discriminator)];
    match method {
        Method::Dann => (features.into_iter().chain(disc).collect(), None),
        Method::DannAlt => (features, Some(disc)),
        Method::SourceOnly | Method::TargetOnly => (features, None),
    }
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
    let root = data.join("office31");
    let source_list = list_domain(&root, source)?;
    let target_list = list_domain(&root, target)?;
    let batch = cfg.train.batch as usize;
    let src = ImagePipeline::new(source_list, Transform::Train, batch)?.with_cache();
    let tgt = ImagePipeline::new(target_list.clone(), Transform::Train, batch)?.with_cache();
    let test = ImagePipeline::new(target_list, Transform::Eval, batch)?.with_cache();
    eprintln!(
        "shift: Office-31 {}->{}: {} source, {} target images",
        source.letter(),
        target.letter(),
        src.len(),
        tgt.len()
    );
    // Without --pretrained, the ImageNet weights `cargo xtask download resnet50-imagenet` installs, if present.
    let mut cfg = cfg.clone();
    if cfg.pretrained.is_none() {
        let installed = data.join(IMAGENET_WEIGHTS);
        if installed.is_file() {
            eprintln!("shift: ImageNet weights: {}", installed.display());
            cfg.pretrained = Some(installed);
        } else {
            eprintln!(
                "shift: no --pretrained and no {}: the ResNet-50 starts from random weights \
                 (`cargo xtask download resnet50-imagenet` installs torchvision's ImageNet weights)",
                installed.display()
            );
        }
    }
    let cfg = &cfg;
    let mut results = Vec::new();
    for &method in &cfg.methods {
        for &seed in &cfg.seeds {
            let folder = RunFolder::new(out, &task.slug(), method.name(), seed);
            if resume {
                if let Some(done) = folder.result() {
                    results.push(done);
                    continue;
                }
            }
            let (labelled, unlabelled) = match method {
                Method::TargetOnly => (&tgt, None),
                m => (&src, m.is_adversarial().then_some(&tgt)),
            };
            match run_one(
                &folder, cfg, method, seed, device, labelled, unlabelled, &test, stop, resume,
            )? {
                Some(r) => results.push(r),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(results))
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    folder: &RunFolder,
    cfg: &ExperimentConfig,
    method: Method,
    seed: u64,
    device: Device,
    labelled: &ImagePipeline,
    unlabelled: Option<&ImagePipeline>,
    test: &ImagePipeline,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<RunResult>> {
    shift_tensor::seed_everything(seed);
    let mut net = OfficeNet::new(device, CLASSES.len() as i64);
    if let Some(path) = &cfg.pretrained {
        let n = pretrained::load_into(net_vs(&mut net), path, "features.backbone.")?;
        eprintln!("shift: loaded {n} ImageNet tensors from {}", path.display());
    }
    let (main, disc) = groups(method);
    let main = Sgd::new(net.var_store(), &main, cfg.train.momentum, cfg.train.weight_decay)?;
    let disc = disc
        .map(|g| Sgd::new(net.var_store(), &g, cfg.train.momentum, cfg.train.weight_decay))
        .transpose()?;
    let mut strategy = Adapt::new(net, method, main, disc);
    let config =
        serde_json::json!({ "experiment": cfg, "method": method, "seed": seed, "device": format!("{device:?}") });
    // Office-31 checkpoints are taken at epoch ends only: an interrupted epoch runs again.
    let Resumed {
        next,
        seconds,
        accuracy: history,
    } = folder.resume_or_start(&mut strategy, resume, config)?;
    let start_epoch = next.epoch;
    let label = format!("{method} seed {seed}");
    let mut observer = RunObserver::new(folder, stop, label, cfg.train.epochs, seconds, history);
    let full = labelled.batches_per_epoch() as i64;
    if full == 0 {
        anyhow::bail!(
            "`batch`: {} is larger than the {} labelled images",
            cfg.train.batch,
            labelled.len()
        );
    }
    let steps = cfg.train.steps_per_epoch.map_or(full, |s| s.min(full));
    for epoch in start_epoch..cfg.train.epochs {
        let t0 = Instant::now();
        let epoch_seed = seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64);
        let mut xs_iter = labelled.epoch(epoch_seed);
        let mut xt_iter = unlabelled.map(|u| (u, u.epoch(epoch_seed ^ 0x5eed), 0u64));
        let (mut lr, mut lambda) = (0.0, 0.0);
        for step in 0..steps {
            let (xs, ys) = xs_iter.next().context("source pipeline ended early")??;
            let xt = match &mut xt_iter {
                Some((pipe, it, round)) => Some(match it.next() {
                    Some(b) => b?.0,
                    None => {
                        // The target set is smaller than the source: start another pass over it.
                        *round += 1;
                        *it = pipe.epoch(epoch_seed ^ 0x5eed ^ *round);
                        it.next().context("target pipeline is empty")??.0
                    }
                }),
                None => None,
            };
            let (xs, ys) = (xs.to_device(device), ys.to_device(device));
            let xt = xt.map(|x| x.to_device(device));
            let batch = StepBatch {
                labelled: (&xs, &ys),
                unlabelled: xt.as_ref(),
            };
            let stop;
            (lr, lambda, stop) = scheduled_step(
                &mut strategy,
                &cfg.train,
                Position { epoch, step },
                steps,
                Batch::Tensors(&batch),
                &mut observer,
            )?;
            if stop {
                observer
                    .bar
                    .abandon_with_message("interrupted (resumes from the last finished epoch)");
                return Ok(None);
            }
        }
        let end = EpochEnd {
            epoch,
            steps,
            lr,
            lambda,
            started: t0,
        };
        end_epoch(&mut strategy, &mut observer, end, &|s: &dyn Strategy| {
            accuracy(s, test, device)
        })
        .with_context(|| format!("{method} seed {seed} (run folder {})", folder.dir.display()))?;
    }
    observer.bar.finish_and_clear();
    let acc = observer.accuracy.clone();
    crate::experiment::finish(folder, method, seed, device, acc, observer.seconds(), cfg.train.epochs).map(Some)
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
