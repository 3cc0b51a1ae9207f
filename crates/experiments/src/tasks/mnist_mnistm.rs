//! The task `mnist:mnist-m`: MNIST -> MNIST-M on the digit net (Ganin et al., JMLR 2016, Section 5.2), with the
//! held-out MNIST split the validators score, the registry's published numbers, the t-SNE figure and fine-tuning
//! on labelled MNIST-M subsets. Its data and runs are in [`crate::digits`].

use super::{Entry, FinetuneSetting, Outcome, Setting, Task, TaskKind};
use crate::anchors::Anchors;
use crate::config::{ExperimentConfig, Features, MnistMTrain};
use crate::finetune::{FinetuneConfig, Finetuned};
use crate::report::Summary;
use crate::run_folder::RunResult;
use crate::{digits, Invocation};
use anyhow::{bail, Result};
use shift_strategies::MethodName;
use shift_tensor::tch::Device;
use std::path::PathBuf;

pub static ENTRY: Entry = Entry {
    usage: "mnist:mnist-m",
    parse: |s| (s == "mnist:mnist-m" || s == "mnist-mnistm").then(|| Ok(Task::new(MnistToMnistM))),
};

/// MNIST (labelled) -> MNIST-M (unlabelled train split; the released test split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MnistToMnistM;

/// The registry key of the methods' published numbers on this task.
const KEY: &str = "mnist:mnist-m";

impl TaskKind for MnistToMnistM {
    fn slug(&self) -> String {
        "mnist-mnistm".into()
    }

    fn validate(&self, cfg: &ExperimentConfig) -> Result<()> {
        cfg.digit_backbone()?;
        if let Some(p) = &cfg.pretrained {
            bail!(
                "`pretrained`: {} is for Office-31's ResNet-50; the digit task starts from random weights",
                p.display()
            );
        }
        super::refuse_vectors(cfg)?;
        super::refuse_features(cfg)
    }

    fn fast_step(&self) -> bool {
        true
    }

    fn anchors(&self, method: MethodName, _features: Features) -> Anchors {
        Anchors {
            published: method.published(KEY),
            elsewhere: method.reported_elsewhere(KEY),
        }
    }

    fn run(&self, s: &Setting) -> Result<Option<Outcome>> {
        let runs = digits::run(&s.at.data, &s.at.out, s.cfg, s.device, s.stop, (s.at.resume, s.at.quick))?;
        Ok(runs.map(Outcome::Runs))
    }

    fn notes(&self, cfg: &ExperimentConfig, runs: &[RunResult], summaries: &[Summary]) -> Vec<String> {
        let mut notes = Vec::new();
        if cfg.mnist_m == MnistMTrain::Rebuilt {
            notes.push(
                "MNIST-M: the train split rebuilt from MNIST + BSDS500 with the paper's recipe, seed 0 (mnist_m = \
                 rebuilt); the released test set"
                    .into(),
            );
        }
        // Runs that held out the split have validator scores (a config.json written before the split existed
        // reads back with it enabled, so the scores, not the setting, say whether it was held out).
        let held_out = cfg.validation.enabled() && runs.iter().any(|r| !r.validators_per_epoch.is_empty());
        if held_out && summaries.iter().any(|s| s.published.is_some()) {
            notes.push(format!(
                "the runs held out {:.0}% of the MNIST training images for the validators (validation.source_split \
                 = {}); the published numbers trained on all of them",
                cfg.validation.source_split * 100.0,
                cfg.validation.source_split
            ));
        }
        notes
    }

    fn figure(&self, at: &Invocation, runs: &[RunResult], device: Device) -> Result<Option<PathBuf>> {
        digits::tsne_figure(&at.data, &at.out, runs, device)
    }

    fn feature_analyses(&self) -> bool {
        true
    }

    fn finetune_ks(&self) -> &'static [&'static str] {
        &["1", "5", "10", "50", "100", "all"]
    }

    fn finetune_quick(&self, c: &mut FinetuneConfig) {
        c.finetune_epochs = 2;
        c.pretrain.epochs = 2;
        c.pretrain.steps_per_epoch = Some(500);
        c.finetune_steps = 200;
    }

    fn finetune(&self, cfg: &FinetuneConfig, ks: &[Option<usize>], s: FinetuneSetting) -> Result<Finetuned> {
        crate::finetune::digits(cfg, ks, s)
    }
}
