//! Fine-tuning on MNIST -> MNIST-M: the digit net pretrained on MNIST (and unlabelled MNIST-M for DANN), then
//! trained on a labelled subset of the MNIST-M train set and tested on the MNIST-M test set.

use super::{finetune_train, policy_strategy, Arm, FinetuneConfig, Recorder, Target};
use crate::config::ExperimentConfig;
use crate::run_folder::RunFolder;
use crate::Invocation;
use anyhow::Result;
use shift_data::{DigitBatcher, Mnist, MnistM};
use shift_models::digit::DigitNet;
use shift_strategies::{fit, DigitTask, FitEnd, MethodName, Position};
use shift_tensor::tch::{Device, Tensor};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// The digit data on the device, and where the runs go.
pub(super) struct Digits<'a> {
    cfg: &'a FinetuneConfig,
    out: PathBuf,
    device: Device,
    stop: &'a AtomicBool,
    resume: bool,
    mnist_m_train: shift_data::Digits,
    source: (Tensor, Tensor),
    target: (Tensor, Tensor),
    test: (Tensor, Tensor),
}

impl<'a> Digits<'a> {
    pub fn load(at: &Invocation, cfg: &'a FinetuneConfig, device: Device, stop: &'a AtomicBool) -> Result<Self> {
        let mnist = Mnist::load(&at.data.join("mnist"))?;
        let mnist_m = MnistM::load(&at.data.join("mnist_m"))?;
        Ok(Self {
            cfg,
            out: at.out.clone(),
            device,
            stop,
            resume: at.resume,
            source: mnist.train.to_tensors(device)?,
            target: mnist_m.train.to_tensors(device)?,
            test: mnist_m.test.to_tensors(device)?,
            mnist_m_train: mnist_m.train,
        })
    }

    fn task(&self, labelled: &(Tensor, Tensor), unlabelled: Option<&(Tensor, Tensor)>) -> DigitTask {
        DigitTask {
            labelled: DigitBatcher::new(labelled.0.shallow_clone(), labelled.1.shallow_clone()),
            unlabelled: unlabelled.map(|t| DigitBatcher::new(t.0.shallow_clone(), t.1.shallow_clone())),
            test: (self.test.0.shallow_clone(), self.test.1.shallow_clone()),
            validation: None,
        }
    }
}

impl Target for Digits<'_> {
    type Split = (Tensor, Tensor);

    fn title(&self) -> String {
        "MNIST-M target test accuracy after fine-tuning on k labelled MNIST-M images per class".into()
    }

    fn labels(&self) -> (Vec<u8>, usize) {
        (self.mnist_m_train.labels.clone(), 10)
    }

    fn pretrain(&self, method: MethodName, seed: u64) -> Result<Option<PathBuf>> {
        let exp = ExperimentConfig {
            methods: vec![method],
            seeds: vec![seed],
            train: self.cfg.pretrain.clone(),
            step: self.cfg.step,
            params: self.cfg.params.clone(),
            ..Default::default()
        };
        let folder = RunFolder::new(&self.out, "pretrain", method.as_str(), seed);
        let unlabelled = method.data().unlabelled_target.then_some(&self.target);
        let task = self.task(&self.source, unlabelled);
        let done = crate::digits::run_digits(&folder, &exp, method, seed, self.device, &task, self.stop, self.resume)?;
        Ok(done.map(|_| folder.checkpoint()))
    }

    fn split(&self, subset: &[usize]) -> Result<Self::Split> {
        Ok(self.mnist_m_train.select(subset).to_tensors(self.device)?)
    }

    fn finetune(&self, labelled: &Self::Split, arm: Arm, start: Option<&Path>, seed: u64) -> Result<Option<Vec<f64>>> {
        shift_tensor::seed_everything(seed);
        let net = DigitNet::new(self.device);
        let mut strategy = policy_strategy(net, arm, start, "digit-net", self.cfg)?;
        let train = finetune_train(self.cfg, labelled.0.size()[0] as usize);
        let mut rec = Recorder::new(self.stop);
        let end = fit(
            strategy.as_mut(),
            &self.task(labelled, None),
            &train,
            seed,
            Position::default(),
            &mut rec,
        )?;
        Ok(match end {
            FitEnd::Interrupted { .. } => None,
            FitEnd::Finished { .. } => Some(rec.accuracy),
        })
    }
}
