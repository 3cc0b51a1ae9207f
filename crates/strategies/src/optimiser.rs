//! The optimiser of every run over parameter groups with learning-rate multipliers: PyTorch's SGD with momentum
//! (`buf = m * buf + g; p -= lr * buf`) or PyTorch's Adam (Kingma & Ba, ICLR 2015), weight decay added to g in
//! both. The optimiser keeps state only for what its groups select; [`freeze_outside`] stops gradients for the rest.

use crate::error::StrategyError;
use crate::state::get_shaped;
use serde::{Deserialize, Serialize};
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

/// Which update rule a run's optimisers use (`train.optimiser` in config.json), and a method's own rule for one
/// of its optimisers (`OptimiserSpec::update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimiserKind {
    /// SGD with momentum (`train.momentum`), the paper's choice (Ganin et al., JMLR 2016).
    #[default]
    Sgd,
    /// Adam (eps 1e-8); `train.optimiser = "adam"` takes PyTorch's betas 0.9 and 0.999; `train.momentum` is not
    /// used.
    Adam,
}

impl std::fmt::Display for OptimiserKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sgd => "sgd",
            Self::Adam => "adam",
        })
    }
}

/// PyTorch's Adam defaults (`torch.optim.Adam`).
pub const ADAM_BETAS: (f64, f64) = (0.9, 0.999);
pub const ADAM_EPS: f64 = 1e-8;

/// The update rule and its settings: the run's (`TrainConfig::update`), which a method's `OptimiserSpec::update`
/// may override for one of its optimisers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Update {
    pub kind: OptimiserKind,
    /// SGD's momentum (ignored by Adam).
    pub momentum: f64,
    /// L2 weight decay, added to the gradient (PyTorch's `weight_decay` of both rules, not AdamW's).
    pub weight_decay: f64,
    /// Adam's moving-average rates of the gradient and its square (ignored by SGD).
    pub betas: (f64, f64),
}

impl Update {
    /// SGD with momentum.
    pub fn sgd(momentum: f64, weight_decay: f64) -> Self {
        Self {
            kind: OptimiserKind::Sgd,
            momentum,
            weight_decay,
            betas: ADAM_BETAS,
        }
    }

    /// Adam with PyTorch's betas and eps.
    pub fn adam(weight_decay: f64) -> Self {
        Self::adam_with_betas(ADAM_BETAS, weight_decay)
    }

    /// Adam with other betas (GAN training's (0.5, 0.999) of Radford et al., which ADDA's authors use).
    pub fn adam_with_betas(betas: (f64, f64), weight_decay: f64) -> Self {
        Self {
            kind: OptimiserKind::Adam,
            momentum: 0.0,
            weight_decay,
            betas,
        }
    }

    /// Checks the settings, naming the field.
    pub fn validate(&self) -> Result<(), StrategyError> {
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(StrategyError::Invalid {
                field: "momentum".into(),
                msg: format!("must be in [0, 1), got {}", self.momentum),
            });
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(StrategyError::Invalid {
                field: "weight_decay".into(),
                msg: format!("must be >= 0, got {}", self.weight_decay),
            });
        }
        for (field, beta) in [("beta1", self.betas.0), ("beta2", self.betas.1)] {
            if self.kind == OptimiserKind::Adam && !(0.0..1.0).contains(&beta) {
                return Err(StrategyError::Invalid {
                    field: field.into(),
                    msg: format!("Adam's {field} must be in [0, 1), got {beta}"),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Slot {
    name: String,
    param: Tensor,
    /// SGD's momentum buffer, or Adam's first moment.
    buf: Tensor,
    /// Adam's second moment (None under SGD).
    second: Option<Tensor>,
    /// Adam's step count for this parameter (PyTorch counts per parameter, only steps with a gradient).
    steps: i64,
    lr_mult: f64,
}

#[derive(Debug)]
pub struct Optimiser {
    slots: Vec<Slot>,
    update: Update,
}

impl Optimiser {
    /// Builds the optimiser over the variables the groups select (first matching group wins, in name order).
    /// Trainable variables (not batch-norm statistics) that no group selects are frozen.
    pub fn new(vs: &VarStore, groups: &[GroupSpec], update: Update) -> Result<Self, StrategyError> {
        update.validate()?;
        let mut chosen = select(vs, groups);
        chosen.sort_by(|a, b| a.0.cmp(&b.0));
        let adam = update.kind == OptimiserKind::Adam;
        let slots = chosen
            .into_iter()
            .map(|(name, param, lr_mult)| Slot {
                name,
                buf: param.zeros_like(),
                second: adam.then(|| param.zeros_like()),
                steps: 0,
                param,
                lr_mult,
            })
            .collect();
        Ok(Self { slots, update })
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

    /// One update with base learning rate `lr`; parameters without a gradient are left alone.
    pub fn step(&mut self, lr: f64) {
        let Update {
            momentum: m,
            weight_decay: wd,
            betas: (b1, b2),
            ..
        } = self.update;
        shift_tensor::tch::no_grad(|| {
            for s in &mut self.slots {
                let g = s.param.grad();
                if !g.defined() {
                    continue;
                }
                let g = if wd > 0.0 { g + &s.param * wd } else { g };
                match &mut s.second {
                    None => {
                        let _ = s.buf.g_mul_scalar_(m).g_add_(&g);
                        let _ = s.param.g_add_(&(&s.buf * (-lr * s.lr_mult)));
                    }
                    Some(v) => {
                        // torch.optim.Adam, single-tensor path: m, v moving averages, bias-corrected step.
                        s.steps += 1;
                        let t = s.steps as i32;
                        let _ = s.buf.lerp_(&g, 1.0 - b1);
                        let _ = v.g_mul_scalar_(b2).g_add_(&(g.square() * (1.0 - b2)));
                        let step_size = lr * s.lr_mult / (1.0 - b1.powi(t));
                        let denom = v.sqrt() / (1.0 - b2.powi(t)).sqrt() + ADAM_EPS;
                        let _ = s.param.g_add_(&(&s.buf / denom * -step_size));
                    }
                }
            }
        });
    }

    /// Forgets the moving averages and step counts, as a new optimiser over the same parameters would start
    /// (IRM's and VREx's restart of Adam where their penalty's weight jumps).
    pub fn reset(&mut self) {
        shift_tensor::tch::no_grad(|| {
            for s in &mut self.slots {
                let _ = s.buf.zero_();
                if let Some(v) = &mut s.second {
                    let _ = v.zero_();
                }
                s.steps = 0;
            }
        });
    }

    /// The optimiser's state as named tensors (for checkpoints): `{prefix}{name}` the momentum buffer or
    /// Adam's first moment; under Adam also `{prefix}{name}.exp_avg_sq` and `{prefix}{name}.step`.
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut named = Vec::new();
        for s in &self.slots {
            named.push((format!("{prefix}{}", s.name), s.buf.shallow_clone()));
            if let Some(v) = &s.second {
                named.push((format!("{prefix}{}.exp_avg_sq", s.name), v.shallow_clone()));
                named.push((format!("{prefix}{}.step", s.name), Tensor::from(s.steps)));
            }
        }
        named
    }

    /// Restores the state saved by [`state`](Self::state).
    pub fn load_state(&mut self, prefix: &str, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
        for s in &mut self.slots {
            let t = get_shaped(named, &format!("{prefix}{}", s.name), &s.buf.size())?;
            shift_tensor::tch::no_grad(|| s.buf.copy_(t));
            if let Some(v) = &mut s.second {
                let t = get_shaped(named, &format!("{prefix}{}.exp_avg_sq", s.name), &v.size())?;
                shift_tensor::tch::no_grad(|| v.copy_(t));
                let step = get_shaped(named, &format!("{prefix}{}.step", s.name), &[])?;
                s.steps = step.int64_value(&[]);
            }
        }
        Ok(())
    }
}
