//! A pass over the labelled examples whole before a method's first step: what DELTA's channel attention and
//! Co-Tuning's class relationship are read off (the network as the run starts, in evaluation mode), and the
//! state they keep of it in the checkpoint.

use super::EpochStart;
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{no_grad, Tensor};

/// Rows per forward pass of [`eval_features`]: a bound on the activations held at once.
const CHUNK: i64 = 512;

/// At the schedule's start, the start network's features of every labelled example (evaluation mode) and their
/// classes; None at any later epoch start (a resumed run has what it read from its checkpoint). An error names
/// `method` and `why` it reads them where the task streams them from the host.
pub fn start_features<'a>(
    net: &dyn AdaptNet,
    at: &EpochStart<'a>,
    method: &str,
    why: &str,
) -> Result<Option<(Tensor, &'a Tensor)>, StrategyError> {
    if at.global_step() != 0 {
        return Ok(None);
    }
    let (x, y) = at.labelled.ok_or_else(|| {
        StrategyError::Other(format!(
            "{method} reads the labelled examples whole before its first step ({why}); this task streams them from \
             the host"
        ))
    })?;
    Ok(Some((eval_features(net, x), y)))
}

/// The backbone's features of every row of `x`, in evaluation mode and without gradient, `CHUNK` rows at a time.
pub fn eval_features(net: &dyn AdaptNet, x: &Tensor) -> Tensor {
    no_grad(|| {
        let chunks: Vec<Tensor> = x.split(CHUNK, 0).iter().map(|c| net.features(c, false)).collect();
        Tensor::cat(&chunks, 0)
    })
}

/// A tensor of the method's state under `discriminator.<dir>.<name>`, outside every optimiser and in the
/// checkpoint, every element `value`.
pub fn kept_state(net: &dyn AdaptNet, dir: &str, name: &str, dims: &[i64], value: f64) -> Tensor {
    let t = (net.var_store().root() / shift_models::DISCRIMINATOR / dir).zeros_no_train(name, dims);
    no_grad(|| {
        let _ = t.shallow_clone().fill_(value);
    });
    t
}

/// Writes `value` into the kept state `t` (of its shape).
pub fn keep(t: &Tensor, value: Tensor) {
    no_grad(|| t.shallow_clone().copy_(&value));
}
