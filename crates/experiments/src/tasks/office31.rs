//! The task `office31:S-T`: one of Office-31's six pairs (Saenko et al., ECCV 2010) on ResNet-50, the backbone
//! at 0.1x the learning rate, optionally from ImageNet weights; and fine-tuning on labelled target subsets. Its
//! images and runs are in [`crate::office`].

use super::{Entry, FinetuneSetting, Outcome, Setting, Task, TaskKind};
use crate::config::ExperimentConfig;
use crate::finetune::{FinetuneConfig, Finetuned};
use crate::office::{self, Loaded, OfficePair};
use anyhow::{bail, Result};
use shift_data::office31::{Domain, CLASSES};

pub static ENTRY: Entry = Entry {
    usage: "office31:A-W, D-W, W-D, A-D, D-A, W-A",
    parse,
};

fn parse(s: &str) -> Option<Result<Task>> {
    let (a, b) = s.strip_prefix("office31:")?.split_once('-')?;
    Some((|| {
        let (source, target) = (a.parse()?, b.parse()?);
        if source == target {
            bail!("`task`: `{s}` adapts a domain to itself; pick two different domains");
        }
        Ok(Task::new(Office31 { source, target }))
    })())
}

/// An Office-31 pair: the source domain labelled, the target's images unlabelled in training and its labels the
/// test accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Office31 {
    pub source: Domain,
    pub target: Domain,
}

impl TaskKind for Office31 {
    fn slug(&self) -> String {
        format!("office31-{}-{}", self.source.letter(), self.target.letter())
    }

    fn validate(&self, cfg: &ExperimentConfig) -> Result<()> {
        super::refuse_mnist_m(cfg)?;
        super::refuse_features(cfg)?;
        super::refuse_vectors(cfg)?;
        super::refuse_backbone(cfg, &["resnet50"], "Office-31")?;
        super::refuse_limits(cfg, "an Office-31 run trains on every image of both domains")
    }

    fn run(&self, s: &Setting) -> Result<Option<Outcome>> {
        let loaded = Loaded {
            pair: OfficePair::load(&s.at.data, self.source, self.target, s.cfg.train.batch as usize)?,
            classes: CLASSES.len(),
            target_labelled: true,
        };
        Ok(office::run(loaded, &self.slug(), s)?.map(Outcome::Runs))
    }

    fn check_finetune(&self, cfg: &FinetuneConfig, ks: &[Option<usize>]) -> Result<()> {
        if ks.contains(&None) {
            bail!(
                "`labels_per_class`: `all` would label every Office-31 target image and leave none to test on; \
                 give counts per class"
            );
        }
        // A regulariser that reads the labelled examples whole before its first step needs them on the device, and
        // Office-31 streams its images from the host.
        if let Some((r, why)) = cfg.regularisers.iter().find_map(|r| r.data().labelled_whole.map(|w| (r, w))) {
            bail!("`regularisers`: {r} reads the labelled examples whole before its first step ({why}), and Office-31 streams its images from the host");
        }
        // Each regulariser built on a throw-away ResNet-50 first: one that keeps a frozen copy of its start needs a
        // twin, which this backbone does not offer; refused here rather than after pretraining.
        if !cfg.regularisers.is_empty() {
            let net = shift_models::office::OfficeNet::new(shift_tensor::tch::Device::Cpu, CLASSES.len() as i64);
            for &r in &cfg.regularisers {
                let spec = shift_strategies::MethodSpec::from(r);
                if let Err(e) = r.build(&shift_strategies::methods::BuildContext { net: &net, spec: &spec }) {
                    bail!("`regularisers`: {r} cannot fine-tune the Office-31 ResNet-50: {e}");
                }
            }
        }
        if let Some(p) = cfg.pretraining.iter().find(|p| p.self_supervised()) {
            bail!(
                "`pretraining`: {p} would start from the ImageNet ResNet-50, whose weights were trained on ImageNet's \
                 labels, so its pretraining would not be free of labels; self-supervised pretraining runs on \
                 mnist:mnist-m"
            );
        }
        Ok(())
    }

    fn finetune(&self, cfg: &FinetuneConfig, ks: &[Option<usize>], s: FinetuneSetting) -> Result<Finetuned> {
        crate::finetune::office31(cfg, ks, (self.source, self.target), s)
    }
}
