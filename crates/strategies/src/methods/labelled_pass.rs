//! A pass over the labelled examples whole before a method's first step: what DELTA's channel attention and
//! Co-Tuning's class relationship are read off (the network as the run starts, in evaluation mode).

use super::EpochStart;
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{no_grad, Tensor};

/// Rows per forward pass of [`eval_features`]: a bound on the activations held at once.
const CHUNK: i64 = 512;

/// The labelled examples and their classes at an epoch's start, or an error naming `method` and `why` it reads
/// them where the task streams them from the host.
pub fn labelled_whole<'a>(
    at: &EpochStart<'a>,
    method: &str,
    why: &str,
) -> Result<(&'a Tensor, &'a Tensor), StrategyError> {
    at.labelled.ok_or_else(|| {
        StrategyError::Other(format!(
            "{method} reads the labelled examples whole before its first step ({why}); this task streams them from \
             the host"
        ))
    })
}

/// The backbone's features of every row of `x`, in evaluation mode and without gradient, `CHUNK` rows at a time.
pub fn eval_features(net: &dyn AdaptNet, x: &Tensor) -> Tensor {
    no_grad(|| {
        let chunks: Vec<Tensor> = x.split(CHUNK, 0).iter().map(|c| net.features(c, false)).collect();
        Tensor::cat(&chunks, 0)
    })
}

/// Whether an epoch start is the schedule's first step, where a method reads the labelled examples; a resumed
/// run has what it read from its checkpoint.
pub fn at_schedule_start(at: &EpochStart) -> bool {
    at.global_step() == 0
}
