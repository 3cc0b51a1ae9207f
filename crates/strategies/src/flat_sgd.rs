//! SGD with momentum over one flat parameter buffer: the parameters, their gradients and their momentum buffers
//! are views into three contiguous tensors, so zeroing is one kernel and an update a few (one per parameter
//! group) instead of several per tensor. The arithmetic is [`Optimiser`](crate::optimiser::Optimiser)'s, op for op, so the updates
//! are bit-identical. The learning rate can come from a device tensor, for CUDA-graph replay.

use crate::optimiser::{select, OptimiserKind, Update};
use crate::state::get_shaped;
use crate::{error::StrategyError, optimiser::GroupSpec};
use shift_tensor::tch::{nn::VarStore, Kind, Tensor};

/// One parameter's place in the flat buffers.
#[derive(Debug)]
struct Slot {
    name: String,
    offset: i64,
    shape: Vec<i64>,
}

/// A run of parameters sharing a learning-rate multiplier.
#[derive(Debug)]
struct Segment {
    offset: i64,
    len: i64,
    lr_mult: f64,
}

#[derive(Debug)]
pub struct FlatSgd {
    params: Tensor,
    grads: Tensor,
    bufs: Tensor,
    slots: Vec<Slot>,
    segments: Vec<Segment>,
    momentum: f64,
    weight_decay: f64,
}

fn numel(shape: &[i64]) -> i64 {
    shape.iter().product()
}

impl FlatSgd {
    /// Moves the variables the groups select (first matching group wins) into one buffer: each variable becomes
    /// a view into it (the VarStore keeps working: loading, saving and evaluation see the same values), and its
    /// `.grad` a view into one gradient buffer. Parameters must share dtype and device.
    /// Only SGD: Adam is refused, naming `train.optimiser`.
    pub fn new(vs: &VarStore, groups: &[GroupSpec], update: Update) -> Result<Self, StrategyError> {
        update.validate()?;
        if update.kind != OptimiserKind::Sgd {
            return Err(StrategyError::Invalid {
                field: "train.optimiser".into(),
                msg: format!(
                    "the fast step runs SGD only, got `{}` (use `--step eager`)",
                    update.kind
                ),
            });
        }
        let Update {
            momentum, weight_decay, ..
        } = update;
        let chosen = select(vs, groups);
        let device = vs.device();
        let kind = chosen.first().map_or(Kind::Float, |(_, t, _)| t.kind());
        if let Some((name, t, _)) = chosen.iter().find(|(_, t, _)| t.kind() != kind) {
            return Err(StrategyError::Other(format!(
                "flat SGD needs one dtype: `{name}` is {:?}, the others {kind:?}",
                t.kind()
            )));
        }
        let total: i64 = chosen.iter().map(|(_, t, _)| numel(&t.size())).sum();
        let params = Tensor::zeros([total], (kind, device));
        let grads = Tensor::zeros([total], (kind, device));
        let mut slots = Vec::with_capacity(chosen.len());
        let mut segments: Vec<Segment> = Vec::new();
        let mut offset = 0;
        for (name, mut var, lr_mult) in chosen {
            let shape = var.size();
            let n = numel(&shape);
            let mut view = params.narrow(0, offset, n).view(shape.as_slice());
            shift_tensor::tch::no_grad(|| view.copy_(&var));
            var.set_data(&view);
            shift_tensor::native::set_grad(&var, &grads.narrow(0, offset, n).view(shape.as_slice()))
                .map_err(|e| StrategyError::Other(format!("`{name}`: {e}")))?;
            match segments.last_mut() {
                Some(seg) if seg.lr_mult == lr_mult => seg.len += n,
                _ => segments.push(Segment {
                    offset,
                    len: n,
                    lr_mult,
                }),
            }
            slots.push(Slot { name, offset, shape });
            offset += n;
        }
        Ok(Self {
            bufs: params.zeros_like(),
            params,
            grads,
            slots,
            segments,
            momentum,
            weight_decay,
        })
    }

    /// Names of the parameters this optimiser updates, in buffer order.
    pub fn names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// Number of values in the flat buffer.
    pub fn len(&self) -> i64 {
        self.params.size()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The flat parameter and momentum buffers (shallow handles): everything a step changes.
    pub fn buffers(&self) -> [Tensor; 2] {
        [self.params.shallow_clone(), self.bufs.shallow_clone()]
    }

    /// Zeroes every gradient with one kernel (in place: the gradients stay views into the buffer).
    pub fn zero_grad(&mut self) {
        let _ = self.grads.zero_();
    }

    fn momentum_update(&mut self) {
        let (m, wd) = (self.momentum, self.weight_decay);
        let g = if wd > 0.0 {
            &self.grads + &self.params * wd
        } else {
            self.grads.shallow_clone()
        };
        let _ = self.bufs.g_mul_scalar_(m).g_add_(&g);
    }

    /// One update with base learning rate `lr`: bit-identical to [`Optimiser::step`](crate::optimiser::Optimiser::step).
    pub fn step(&mut self, lr: f64) {
        shift_tensor::tch::no_grad(|| {
            self.momentum_update();
            for s in &self.segments {
                let _ = self
                    .params
                    .narrow(0, s.offset, s.len)
                    .g_add_(&(self.bufs.narrow(0, s.offset, s.len) * (-lr * s.lr_mult)));
            }
        });
    }

    /// One update with the base learning rate read from a 0-dim tensor on the parameters' device (no host value
    /// enters the kernels, so the step can be captured once and replayed as the schedule changes `lr`). Equal to
    /// [`step`](Self::step) where the multipliers are 1; otherwise `lr * mult` is rounded once more.
    pub fn step_on_device(&mut self, lr: &Tensor) {
        shift_tensor::tch::no_grad(|| {
            self.momentum_update();
            for s in &self.segments {
                let scale = lr * (-s.lr_mult);
                let _ = self
                    .params
                    .narrow(0, s.offset, s.len)
                    .g_add_(&(self.bufs.narrow(0, s.offset, s.len) * scale));
            }
        });
    }

    /// Momentum buffers as named tensors (copies; same names as [`Optimiser::state`](crate::optimiser::Optimiser::state)).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .map(|s| {
                let view = self.bufs.narrow(0, s.offset, numel(&s.shape)).view(s.shape.as_slice());
                (format!("{prefix}{}", s.name), view.copy())
            })
            .collect()
    }

    /// Restores momentum buffers saved by [`state`](Self::state) or by [`Optimiser::state`](crate::optimiser::Optimiser::state).
    pub fn load_state(&mut self, prefix: &str, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
        for s in &self.slots {
            let t = get_shaped(named, &format!("{prefix}{}", s.name), &s.shape)?;
            let mut view = self.bufs.narrow(0, s.offset, numel(&s.shape)).view(s.shape.as_slice());
            shift_tensor::tch::no_grad(|| view.copy_(t));
        }
        Ok(())
    }
}
