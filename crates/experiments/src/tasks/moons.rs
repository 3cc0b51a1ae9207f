//! The task `moons`: the inter-twinning moons of Ganin et al. (JMLR 2016, Section 5.1.1, Figure 2;
//! `shift_data::moons`), 150 points per class in the source and the same moons rotated by 35 degrees as the
//! target, on the shallow network of 15 sigmoid units with the authors' `experiments_moons.py` settings (lambda 6,
//! 500 epochs, SGD on one point at a time at 0.05); moons.png draws the figure's panels for NN and DANN.

use super::{Entry, Inputs, Outcome, Setting, Task, TaskKind};
use crate::config::ExperimentConfig;
use crate::moons::{self, HIDDEN};
use crate::report::Summary;
use crate::run_folder::RunResult;
use crate::tensor_runs::{self, TensorData};
use crate::Invocation;
use anyhow::{bail, Result};
use shift_data::moons::{trans_moons, MoonsDomain};
use shift_models::mlp::MlpNet;
use shift_tensor::tch::{Device, Kind, Tensor};
use std::path::PathBuf;

pub static ENTRY: Entry = Entry {
    usage: "moons",
    parse: |s| (s == "moons").then(|| Ok(Task::new(Moons))),
};

/// The source moons and the rotated target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moons;

/// Points per class in each domain.
pub const PER_CLASS: usize = 150;
/// The target's rotation, degrees.
pub const ANGLE: f64 = 35.0;
/// The noise of `make_moons` in the authors' `make_trans_moons`.
pub const NOISE: f64 = 0.05;
/// The seed of the points (the same for every run, as the authors' fixed `random_state`s).
pub const SEED: u64 = 1;

/// The points as tensors: the source with its classes, the target with its classes (for the test accuracy).
fn tensors(device: Device) -> ((Tensor, Tensor), (Tensor, Tensor)) {
    let m = trans_moons(PER_CLASS, ANGLE, NOISE, SEED);
    let t = |d: &MoonsDomain| {
        let flat: Vec<f64> = d.points.iter().flat_map(|p| *p).collect();
        let x = Tensor::from_slice(&flat).view([-1, 2]).to_kind(Kind::Float).to_device(device);
        (x, Tensor::from_slice(&d.classes).to_device(device))
    };
    (t(&m.source), t(&m.target))
}

impl TaskKind for Moons {
    fn slug(&self) -> String {
        "moons".into()
    }

    fn inputs(&self) -> Inputs {
        Inputs::Vectors
    }

    fn validate(&self, cfg: &ExperimentConfig) -> Result<()> {
        super::refuse_mnist_m(cfg)?;
        super::refuse_features(cfg)?;
        super::refuse_vectors(cfg)?;
        super::refuse_backbone(cfg, &["shallow"], "the moons")?;
        super::refuse_limits(cfg, "the moons train on every point")?;
        if cfg.pretrained.is_some() {
            bail!("`pretrained`: the moons' shallow network starts from random weights");
        }
        Ok(())
    }

    /// The authors' settings: SGD on one source and one target point at a time at 0.05 (in batches of 10 at 10
    /// times the rate, DANN's domain regressor saturates and it ends at chance), lambda held at 6 (on the domain
    /// regressor's update too, as their algorithm steps it), no momentum, 500 epochs; 10% of the source held out
    /// for the validators.
    fn defaults(&self, c: ExperimentConfig) -> ExperimentConfig {
        super::shallow_schedule(c, 500, 1, 0.05, 6.0)
    }

    /// 100 epochs of the same.
    fn quick(&self, mut c: ExperimentConfig) -> ExperimentConfig {
        c.train.epochs = 100;
        c
    }

    fn paper_schedule(&self, cfg: &ExperimentConfig) -> shift_strategies::TrainConfig {
        self.defaults(ExperimentConfig {
            features: cfg.features,
            ..Default::default()
        })
        .train
    }

    fn run(&self, s: &Setting) -> Result<Option<Outcome>> {
        let (cfg, device) = (s.cfg, s.device);
        let (source, target) = tensors(device);
        // The target's labels serve only the test accuracy.
        let test = (target.0.shallow_clone(), target.1.shallow_clone());
        let data = TensorData::new(&source, target, test, &cfg.validation, device)?;
        eprintln!(
            "shift: moons: {} labelled source points ({} held out for the validators), {} target points rotated by \
             {ANGLE} degrees (their labels serve only the test accuracy)",
            data.train.0.size()[0],
            data.validation.as_ref().map_or(0, |v| v.source_split.0.size()[0]),
            data.target.0.size()[0]
        );
        let runs = tensor_runs::run_all(&s.at.out, &self.slug(), cfg, &data, device, s.stop, s.at.resume, || {
            Ok(MlpNet::shallow(device, 2, HIDDEN, 2))
        })?;
        Ok(runs.map(Outcome::Runs))
    }

    fn notes(&self, _cfg: &ExperimentConfig, _runs: &[RunResult], _summaries: &[Summary]) -> Vec<String> {
        vec![format!(
            "moons: {PER_CLASS} points per class, noise {NOISE}, the target rotated by {ANGLE} degrees and tested on \
             its own labels (never trained on); moons.png draws Figure 2's panels"
        )]
    }

    fn figure(&self, at: &Invocation, runs: &[RunResult], device: Device) -> Result<Option<PathBuf>> {
        let (source, target) = tensors(device);
        moons::figure(&at.out, &self.slug(), runs, &moons::points(&source, &target.0)?, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moons_take_the_authors_settings_and_refuse_other_backbones() {
        let t = Task::parse("moons").unwrap();
        assert_eq!((t.slug().as_str(), t.inputs()), ("moons", Inputs::Vectors));
        let c = t.defaults(ExperimentConfig {
            task: "moons".into(),
            ..Default::default()
        });
        c.validate().unwrap();
        assert_eq!(c.train.lr, shift_strategies::LrSchedule::Constant { lr: 0.05 });
        assert_eq!(c.train.batch, 1);
        assert_eq!(c.train.lambda, shift_grl::LambdaSchedule::Constant { value: 6.0 });
        let bad = crate::config::set(&c, &["backbone=\"mlp\"".into()]).unwrap();
        let e = bad.validate().unwrap_err().to_string();
        assert_eq!(e, "`backbone`: `mlp` is not a backbone of the moons (shallow)");
        let (source, target) = tensors(Device::Cpu);
        assert_eq!((source.0.size(), target.0.size()), (vec![300, 2], vec![300, 2]));
    }
}
