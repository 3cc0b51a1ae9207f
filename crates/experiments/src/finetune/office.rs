//! Fine-tuning on an Office-31 pair: the ResNet-50 (ImageNet weights when installed) trained on the source
//! domain (and, for DANN, the unlabelled target), then on k labelled target images per class, and tested on the
//! target images left unlabelled (Office-31 has no separate test split).

use super::{finetune_train, policy_strategy, Arm, FinetuneConfig, Recorder, Target};
use crate::config::ExperimentConfig;
use crate::office::{imagenet_weights, run_office, OfficeData, OfficePair};
use crate::run_folder::RunFolder;
use crate::Invocation;
use anyhow::{bail, Result};
use shift_data::office31::{Domain, ImageList, CLASSES};
use shift_data::pipeline::ImagePipeline;
use shift_data::transforms::Transform;
use shift_models::office::OfficeNet;
use shift_strategies::{fit, FitEnd, MethodName, Position};
use shift_tensor::tch::Device;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// An Office-31 pair's pipelines, the ImageNet start of its pretraining, and where the runs go.
pub(super) struct Office<'a> {
    cfg: &'a FinetuneConfig,
    domains: (Domain, Domain),
    out: PathBuf,
    device: Device,
    stop: &'a AtomicBool,
    resume: bool,
    pair: OfficePair,
    imagenet: Option<PathBuf>,
}

/// The labelled subset (train transforms) and the rest of the target (test transforms).
pub(super) struct Split {
    labelled: ImagePipeline,
    test: ImagePipeline,
}

impl<'a> Office<'a> {
    pub fn load(
        at: &Invocation,
        cfg: &'a FinetuneConfig,
        (source, target): (Domain, Domain),
        device: Device,
        stop: &'a AtomicBool,
    ) -> Result<Self> {
        let pair = OfficePair::load(&at.data, source, target, cfg.pretrain.batch as usize)?;
        let imagenet = if cfg.pretrains() {
            imagenet_weights(&at.data, cfg.pretrained.clone())
        } else {
            None
        };
        Ok(Self {
            cfg,
            domains: (source, target),
            out: at.out.clone(),
            device,
            stop,
            resume: at.resume,
            pair,
            imagenet,
        })
    }
}

impl Target for Office<'_> {
    type Split = Split;

    fn title(&self) -> String {
        let (source, target) = self.domains;
        format!(
            "Office-31 {}->{}: accuracy on the {} images left unlabelled, after fine-tuning on k labelled {} \
             images per class",
            source.letter(),
            target.letter(),
            target.folder(),
            target.folder()
        )
    }

    fn labels(&self) -> (Vec<u8>, usize) {
        let labels = self.pair.target_list.labels.iter().map(|&l| l as u8).collect();
        (labels, CLASSES.len())
    }

    fn pretrain(&self, method: MethodName, seed: u64) -> Result<Option<PathBuf>> {
        let exp = ExperimentConfig {
            task: self.cfg.task.clone(),
            methods: vec![method],
            seeds: vec![seed],
            pretrained: self.imagenet.clone(),
            train: self.cfg.pretrain.clone(),
            params: self.cfg.params.clone(),
            ..Default::default()
        };
        let folder = RunFolder::new(&self.out, "pretrain", method.as_str(), seed);
        let data = OfficeData {
            labelled: &self.pair.source,
            unlabelled: method.data().unlabelled_target.then_some(&self.pair.target),
            test: Some(&self.pair.test),
            classes: CLASSES.len() as i64,
            device: self.device,
        };
        let done = run_office(&folder, &exp, method, seed, self.device, &data, self.stop, self.resume)?;
        Ok(done.map(|_| folder.checkpoint()))
    }

    fn split(&self, subset: &[usize]) -> Result<Split> {
        let all = &self.pair.target_list;
        let mut labelled = ImageList::default();
        let mut rest = ImageList::default();
        let mut chosen = vec![false; all.len()];
        for &i in subset {
            chosen[i] = true;
        }
        for (i, (path, &label)) in all.paths.iter().zip(&all.labels).enumerate() {
            let to = if chosen[i] { &mut labelled } else { &mut rest };
            to.paths.push(path.clone());
            to.labels.push(label);
        }
        if let Some((c, class)) = CLASSES
            .iter()
            .enumerate()
            .find(|(c, _)| !rest.labels.contains(&(*c as i64)))
        {
            let n = all.labels.iter().filter(|&&l| l == c as i64).count();
            bail!(
                "`labels_per_class`: all {n} `{class}` images of the target are labelled, leaving none of that \
                 class to test on; use fewer labels per class"
            );
        }
        let batch = (labelled.len() as i64).min(self.cfg.pretrain.batch) as usize;
        Ok(Split {
            labelled: ImagePipeline::new(labelled, Transform::Train, batch)?.with_cache(),
            test: ImagePipeline::new(rest, Transform::Eval, batch)?.with_cache(),
        })
    }

    fn finetune(&self, split: &Split, arm: Arm, start: Option<&Path>, seed: u64) -> Result<Option<Vec<f64>>> {
        shift_tensor::seed_everything(seed);
        let mut net = OfficeNet::new(self.device, CLASSES.len() as i64);
        // A frozen feature extractor keeps its batch-norm statistics as pretrained.
        net.hold_features_in_eval(!arm.policy.trains_features());
        let mut strategy = policy_strategy(net, arm, start, "Office-31 ResNet-50", self.cfg)?;
        let train = finetune_train(self.cfg, split.labelled.len());
        let mut rec = Recorder::new(self.stop);
        let data = OfficeData {
            labelled: &split.labelled,
            unlabelled: None,
            test: Some(&split.test),
            classes: CLASSES.len() as i64,
            device: self.device,
        };
        let end = fit(strategy.as_mut(), &data, &train, seed, Position::default(), &mut rec)?;
        Ok(match end {
            FitEnd::Interrupted { .. } => None,
            FitEnd::Finished { .. } => Some(rec.accuracy),
        })
    }
}
