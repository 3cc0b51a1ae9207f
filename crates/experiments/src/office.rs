//! Image-folder runs of `shift experiment dann`, Office-31's pairs and a researcher's own folders
//! (`folders:SRC:TGT`): ResNet-50 (optionally ImageNet-initialised), backbone at 0.1x learning rate, images
//! through the threaded pipeline (decoded once, cached; random crops and flips per epoch).
//! The pipelines are the epoch loop's data ([`OfficeData`]), for adaptation runs and for fine-tuning; a run
//! goes through the one run driver ([`crate::run::run_one`]).

use crate::config::ExperimentConfig;
use crate::run::{run_one, Run};
use crate::run_folder::{RunFolder, RunResult};
use crate::tasks::Setting;
use anyhow::{Context, Result};
use shift_data::office31::{list_domain, Domain, ImageList};
use shift_data::pipeline::{Batch as PipelineBatch, ImagePipeline};
use shift_data::transforms::Transform;
use shift_data::DataError;
use shift_models::{office::OfficeNet, pretrained, Part};
use shift_strategies::{
    Batch, EpochData, EpochDraws, GroupSpec, MethodName, StepBatch, StepKind, Strategy, StrategyError,
};
use shift_tensor::tch::{Device, Tensor};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Where `cargo xtask download resnet50-imagenet` puts the converted weights, under the data folder.
const IMAGENET_WEIGHTS: &str = "weights/resnet50-imagenet/resnet50.safetensors";

/// The ImageNet weights an Office-31 ResNet-50 starts from: `given` (--pretrained), else the file
/// `cargo xtask download resnet50-imagenet` installs under `data`, else none (said on stderr).
pub fn imagenet_weights(data: &Path, given: Option<PathBuf>) -> Option<PathBuf> {
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
#[derive(Debug)]
pub struct OfficePair {
    pub source: ImagePipeline,
    pub target: ImagePipeline,
    pub test: ImagePipeline,
    /// The target listing (sorted), for drawing labelled subsets.
    pub target_list: ImageList,
}

impl OfficePair {
    pub fn load(data: &Path, source: Domain, target: Domain, batch: usize) -> Result<Self> {
        let root = data.join("office31");
        let pair = Self::from_lists(list_domain(&root, source)?, list_domain(&root, target)?, batch)?;
        eprintln!(
            "shift: Office-31 {}->{}: {} source, {} target images",
            source.letter(),
            target.letter(),
            pair.source.len(),
            pair.target.len()
        );
        Ok(pair)
    }

    /// The pipelines of two listed domains.
    pub fn from_lists(source: ImageList, target: ImageList, batch: usize) -> Result<Self> {
        Ok(Self {
            source: ImagePipeline::new(source, Transform::Train, batch)?.with_cache(),
            target: ImagePipeline::new(target.clone(), Transform::Train, batch)?.with_cache(),
            test: ImagePipeline::new(target.clone(), Transform::Eval, batch)?.with_cache(),
            target_list: target,
        })
    }
}

/// An image-folder task's pipelines, its class count, and whether its target is labelled (an unlabelled
/// target's runs have no test accuracy).
#[derive(Debug)]
pub struct Loaded {
    pub pair: OfficePair,
    pub classes: usize,
    pub target_labelled: bool,
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

/// An image-folder task (Office-31 or `folders:`) on its `loaded` images: every method and seed, in
/// `out/<slug>/`; None when interrupted.
pub fn run(loaded: Loaded, slug: &str, s: &Setting) -> Result<Option<Vec<RunResult>>> {
    let Setting { cfg, at, device, stop } = *s;
    let (data, out, resume) = (&at.data, &at.out, at.resume);
    if cfg.validation.enabled() {
        eprintln!(
            "shift: validators score MNIST -> MNIST-M runs only, for now: this run's epochs are not scored \
             and it trains on every source image (validation.* applies to the digit task)"
        );
    }
    let Loaded {
        pair: OfficePair {
            source: src,
            target: tgt,
            test,
            ..
        },
        classes,
        target_labelled,
    } = loaded;
    let mut cfg = cfg.clone();
    cfg.pretrained = imagenet_weights(data, cfg.pretrained.take());
    let cfg = &cfg;
    let mut results = Vec::new();
    for &method in &cfg.methods {
        for &seed in &cfg.seeds {
            let folder = RunFolder::new(out, slug, method.as_str(), seed);
            let needs = method.data();
            if needs.labelled_target && !target_labelled {
                anyhow::bail!("`methods`: {method} trains on target labels, and the target folder has none");
            }
            let data = OfficeData {
                labelled: if needs.labelled_target { &tgt } else { &src },
                unlabelled: needs.unlabelled_target.then_some(&tgt),
                test: target_labelled.then_some(&test),
                classes: classes as i64,
                device,
            };
            match run_office(&folder, cfg, method, seed, device, &data, stop, resume)? {
                Some(r) => results.push(r),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(results))
}

/// One Office-31 run in its folder: the ResNet-50 (from `cfg.pretrained` when set, marked as random-init
/// otherwise), the eager step, through the run driver. None when a stop was requested.
#[allow(clippy::too_many_arguments)]
pub fn run_office(
    folder: &RunFolder,
    cfg: &ExperimentConfig,
    method: MethodName,
    seed: u64,
    device: Device,
    data: &OfficeData,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<RunResult>> {
    let run = Run {
        folder,
        cfg,
        method,
        seed,
        device,
        random_init_backbone: cfg.pretrained.is_none(),
    };
    run_one(&run, data, stop, resume, || {
        let mut net = OfficeNet::new(device, data.classes);
        if let Some(path) = &cfg.pretrained {
            let n = pretrained::load_into(net.var_store_mut(), path, "features.backbone.")?;
            eprintln!("shift: loaded {n} ImageNet tensors from {}", path.display());
        }
        let spec = cfg.spec(method)?;
        let (strategy, _) = StepKind::Eager.build_with(net, spec, &groups(), cfg.train.update())?;
        Ok(strategy)
    })
}

/// An image-folder run's data for the epoch loop: labelled images, unlabelled target images (the methods that
/// adapt), and the test images (none for an unlabelled target: its accuracy is NaN, reported as such), as
/// pipelines whose batches go to `device`; and the class count the network predicts.
#[derive(Debug, Clone, Copy)]
pub struct OfficeData<'a> {
    pub labelled: &'a ImagePipeline,
    pub unlabelled: Option<&'a ImagePipeline>,
    pub test: Option<&'a ImagePipeline>,
    pub classes: i64,
    pub device: Device,
}

impl EpochData for OfficeData<'_> {
    fn labelled_len(&self) -> usize {
        self.labelled.len()
    }

    fn full_pass(&self, _batch: i64) -> i64 {
        // The pipeline was built for the run's batch.
        self.labelled.batches_per_epoch() as i64
    }

    fn has_unlabelled(&self) -> bool {
        self.unlabelled.is_some()
    }

    fn unlabelled_images(&self) -> Option<&Tensor> {
        None
    }

    fn epoch<'b>(
        &'b self,
        seed: i64,
        _steps: i64,
        _batch: i64,
        with_unlabelled: bool,
    ) -> Result<Box<dyn EpochDraws + 'b>, StrategyError> {
        let seed = seed as u64;
        Ok(Box::new(OfficeDraws {
            labelled: Cycle::new(self.labelled, seed),
            unlabelled: self
                .unlabelled
                .filter(|_| with_unlabelled)
                .map(|u| Cycle::new(u, seed ^ 0x5eed)),
            device: self.device,
            next: 0,
        }))
    }

    fn target_accuracy(&self, strategy: &dyn Strategy) -> Result<f64, StrategyError> {
        self.test
            .map_or(Ok(f64::NAN), |test| accuracy(strategy, test, self.device))
    }
}

/// An Office-31 epoch: the labelled and target pipelines' passes, decoded and augmented as they are drawn.
struct OfficeDraws<'a> {
    labelled: Cycle<'a>,
    unlabelled: Option<Cycle<'a>>,
    device: Device,
    /// The step whose batch comes next.
    next: i64,
}

impl OfficeDraws<'_> {
    fn draw(&mut self) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let (xs, ys) = self.labelled.next_batch()?;
        let xt = self
            .unlabelled
            .as_mut()
            .map(|it| it.next_batch())
            .transpose()?
            .map(|b| b.0);
        Ok((xs, ys, xt))
    }
}

impl EpochDraws for OfficeDraws<'_> {
    fn with_batch(
        &mut self,
        _epoch: usize,
        step: i64,
        train: &mut dyn FnMut(Batch<'_>) -> Result<(), StrategyError>,
    ) -> Result<(), StrategyError> {
        let data = |e: anyhow::Error| StrategyError::Other(format!("{e:#}"));
        // A resumed epoch draws (and drops) the batches of the steps that ran before the interrupt.
        while self.next < step {
            drop(self.draw().map_err(data)?);
            self.next += 1;
        }
        let (xs, ys, xt) = self.draw().map_err(data)?;
        self.next += 1;
        let (xs, ys) = (xs.to_device(self.device), ys.to_device(self.device));
        let xt = xt.map(|x| x.to_device(self.device));
        train(Batch::Tensors(&StepBatch {
            domains: 1,
            labelled: (&xs, &ys),
            unlabelled: xt.as_ref(),
            unlabelled_index: None,
        }))
    }
}

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

/// Target test accuracy over the evaluation pipeline (centre crops, every image once).
fn accuracy(strategy: &dyn Strategy, test: &ImagePipeline, device: Device) -> Result<f64, StrategyError> {
    let (mut correct, mut n) = (0.0, 0usize);
    for b in test.epoch(0) {
        let (x, y) = b.map_err(|e| StrategyError::Other(e.to_string()))?;
        let len = y.size()[0] as usize;
        correct += strategy.accuracy(&x.to_device(device), &y.to_device(device))? * len as f64;
        n += len;
    }
    if n == 0 {
        return Err(StrategyError::Other(
            "the target test set gave no batch to score".into(),
        ));
    }
    Ok(correct / n as f64)
}
