//! Batch norm whose running statistics a method can hold still. The VADA / DIRT-T reference code normalises every
//! pass by its own batch, but only the target passes move the running statistics that evaluation uses, so a
//! model evaluated on the target is normalised by target statistics; source passes and perturbed copies (VAT)
//! leave them alone. [`StatisticsSwitch`] is that choice, shared by every layer of one backbone.

use shift_tensor::tch::{nn, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether the train-mode passes of a backbone's batch-norm layers update their running statistics (on by
/// default).
#[derive(Debug, Clone)]
pub struct StatisticsSwitch(Arc<AtomicBool>);

impl Default for StatisticsSwitch {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl StatisticsSwitch {
    pub fn set(&self, track: bool) {
        self.0.store(track, Ordering::Relaxed);
    }

    pub fn tracking(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// PyTorch's `BatchNorm1d`/`BatchNorm2d` (momentum 0.1, eps 1e-5, the same variable names: `weight`, `bias`,
/// `running_mean`, `running_var`), with its running statistics held while its switch is off.
#[derive(Debug)]
pub struct SwitchedBatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    switch: StatisticsSwitch,
}

/// PyTorch's defaults.
const MOMENTUM: f64 = 0.1;
const EPS: f64 = 1e-5;

impl SwitchedBatchNorm {
    /// `channels` features under `p`, switched by `switch`.
    pub fn new(p: nn::Path, channels: i64, switch: &StatisticsSwitch) -> Self {
        Self {
            weight: p.var("weight", &[channels], nn::Init::Const(1.0)),
            bias: p.var("bias", &[channels], nn::Init::Const(0.0)),
            running_mean: p.zeros_no_train("running_mean", &[channels]),
            running_var: p.ones_no_train("running_var", &[channels]),
            switch: switch.clone(),
        }
    }

    /// Normalised `x` (N x C or N x C x H x W): by the batch's statistics in training (which move the running
    /// ones by 0.1 while the switch is on, and not at all while it is off), by the running ones in evaluation.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let momentum = if self.switch.tracking() { MOMENTUM } else { 0.0 };
        Tensor::batch_norm(
            x,
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            momentum,
            EPS,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::{Device, Kind};

    #[test]
    fn running_statistics_move_only_while_the_switch_is_on() {
        let vs = nn::VarStore::new(Device::Cpu);
        let switch = StatisticsSwitch::default();
        let bn = SwitchedBatchNorm::new(vs.root() / "bn", 2, &switch);
        let x = Tensor::from_slice(&[1.0f32, 10.0, 3.0, 30.0]).view([2, 2]);
        switch.set(false);
        let held = bn.forward(&x, true);
        assert_eq!(
            bn.running_mean
                .to_kind(Kind::Double)
                .sum(Kind::Double)
                .double_value(&[]),
            0.0
        );
        // The batch is still normalised by its own statistics: (x - mean) / sqrt(var + eps), var biased.
        let want = Tensor::from_slice(&[-1.0f32, -1.0, 1.0, 1.0]).view([2, 2]);
        assert!((held - &want).abs().max().double_value(&[]) < 1e-3);
        switch.set(true);
        let _ = bn.forward(&x, true);
        // 0.1 of the batch mean (2, 20).
        let m: Vec<f64> = Vec::try_from(bn.running_mean.to_kind(Kind::Double)).unwrap();
        assert!((m[0] - 0.2).abs() < 1e-6 && (m[1] - 2.0).abs() < 1e-5, "{m:?}");
        // PyTorch's names, so weights load and checkpoints keep them.
        let mut names: Vec<String> = vs.variables().into_keys().collect();
        names.sort();
        assert_eq!(names, ["bn.bias", "bn.running_mean", "bn.running_var", "bn.weight"]);
    }
}
