//! SGD with momentum (PyTorch's update: `buf = m * buf + g; p -= lr * buf`, weight decay added to g) over
//! parameter groups with learning-rate multipliers. The optimiser keeps state only for what its groups select;
//! [`freeze_outside`] stops gradients for the rest.

use crate::state::get_shaped;
use crate::StrategyError;
use shift_models::Part;
use shift_tensor::tch::{nn::VarStore, Tensor};

/// A group: which part, and its learning-rate multiplier (e.g. 0.1 for a pretrained backbone).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupSpec {
    pub part: Part,
    /// Only variables whose name starts with this (within the part), e.g. `features.backbone.`.
    pub prefix: Option<&'static str>,
    pub lr_mult: f64,
}

impl GroupSpec {
    pub fn part(part: Part) -> Self {
        Self {
            part,
            prefix: None,
            lr_mult: 1.0,
        }
    }

    pub fn selects(&self, name: &str) -> bool {
        Part::of(name) == Some(self.part) && self.prefix.is_none_or(|p| name.starts_with(p))
    }
}

/// Freezes every trainable variable that no group selects (it stops requiring gradients); returns their names.
/// Optimisers built afterwards keep no state for them.
pub fn freeze_outside(vs: &VarStore, groups: &[GroupSpec]) -> Vec<String> {
    let mut frozen = Vec::new();
    for (name, param) in vs.variables() {
        if param.requires_grad() && !groups.iter().any(|g| g.selects(&name)) {
            let _ = param.set_requires_grad(false);
            frozen.push(name);
        }
    }
    frozen.sort();
    frozen
}

/// Checks the optimiser's hyper-parameters, naming the field.
pub(crate) fn validate(momentum: f64, weight_decay: f64) -> Result<(), StrategyError> {
    if !(0.0..1.0).contains(&momentum) {
        return Err(StrategyError::Invalid {
            field: "momentum".into(),
            msg: format!("must be in [0, 1), got {momentum}"),
        });
    }
    if !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return Err(StrategyError::Invalid {
            field: "weight_decay".into(),
            msg: format!("must be >= 0, got {weight_decay}"),
        });
    }
    Ok(())
}

/// The trainable variables the groups select, as (name, variable, lr multiplier): first matching group wins;
/// ordered by group, then by name (so each group is one contiguous run).
pub(crate) fn select(vs: &VarStore, groups: &[GroupSpec]) -> Vec<(String, Tensor, f64)> {
    let trainable: Vec<Tensor> = vs.trainable_variables();
    let mut chosen: Vec<(usize, String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| trainable.iter().any(|v| v.data_ptr() == t.data_ptr()))
        .filter_map(|(name, t)| groups.iter().position(|g| g.selects(&name)).map(|i| (i, name, t)))
        .collect();
    chosen.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    chosen
        .into_iter()
        .map(|(i, name, t)| (name, t, groups[i].lr_mult))
        .collect()
}

#[derive(Debug)]
struct Slot {
    name: String,
    param: Tensor,
    buf: Tensor,
    lr_mult: f64,
}

#[derive(Debug)]
pub struct Sgd {
    slots: Vec<Slot>,
    momentum: f64,
    weight_decay: f64,
}

impl Sgd {
    /// Builds the optimiser over the variables the groups select (first matching group wins, in name order).
    /// Trainable variables (not batch-norm statistics) that no group selects are frozen.
    pub fn new(vs: &VarStore, groups: &[GroupSpec], momentum: f64, weight_decay: f64) -> Result<Self, StrategyError> {
        validate(momentum, weight_decay)?;
        let mut chosen = select(vs, groups);
        chosen.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = chosen
            .into_iter()
            .map(|(name, param, lr_mult)| Slot {
                name,
                buf: param.zeros_like(),
                param,
                lr_mult,
            })
            .collect();
        Ok(Self {
            slots,
            momentum,
            weight_decay,
        })
    }

    /// Names of the parameters this optimiser updates.
    pub fn names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn zero_grad(&mut self) {
        for s in &mut self.slots {
            s.param.zero_grad();
        }
    }

    /// One update with base learning rate `lr`.
    pub fn step(&mut self, lr: f64) {
        let (m, wd) = (self.momentum, self.weight_decay);
        shift_tensor::tch::no_grad(|| {
            for s in &mut self.slots {
                let g = s.param.grad();
                if !g.defined() {
                    continue;
                }
                let g = if wd > 0.0 { g + &s.param * wd } else { g };
                let _ = s.buf.g_mul_scalar_(m).g_add_(&g);
                let _ = s.param.g_add_(&(&s.buf * (-lr * s.lr_mult)));
            }
        });
    }

    /// Momentum buffers as named tensors (for checkpoints).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .map(|s| (format!("{prefix}{}", s.name), s.buf.shallow_clone()))
            .collect()
    }

    /// Restores momentum buffers saved by [`state`](Self::state).
    pub fn load_state(&mut self, prefix: &str, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
        for s in &mut self.slots {
            let t = get_shaped(named, &format!("{prefix}{}", s.name), &s.buf.size())?;
            shift_tensor::tch::no_grad(|| s.buf.copy_(t));
        }
        Ok(())
    }
}
