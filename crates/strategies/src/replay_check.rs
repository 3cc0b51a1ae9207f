//! The guard on a captured step: its first replays are checked against the eager step run from the same
//! state, so that a graph that replays something else (a value baked in at capture, a stale input) is caught
//! before it trains, and the run falls back to the eager step instead.

use crate::error::StrategyError;
use shift_tensor::tch::Tensor;

/// Replays checked after each capture. Two, so that the check sees two different steps (batch, learning rate and
/// lambda all change between them): a value baked into the graph at capture passes the first and fails the second.
pub const CHECKED_REPLAYS: usize = 2;

/// The tolerance on a replay's difference from the eager step is 4x the difference between two eager runs of the
/// same step (kernels with atomics need not repeat to the bit), but never below `FLOOR` nor above `CEILING`.
/// With deterministic kernels the replay must then agree to 1e-6 relative, which a stale learning rate does not
/// (one step of the paper's schedule changes the rate by 3.6e-5 relative at the end, 4e-4 at the start).
pub const FLOOR: f64 = 1e-6;
pub const CEILING: f64 = 1e-3;

/// What a check measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayCheck {
    /// [`step_difference`] between the replayed and the eager step.
    pub difference: f64,
    /// The same between two eager runs of the step.
    pub eager_noise: f64,
    pub tolerance: f64,
}

impl ReplayCheck {
    pub fn passed(&self) -> bool {
        self.difference <= self.tolerance
    }
}

fn copies(state: &[Tensor]) -> Vec<Tensor> {
    state.iter().map(Tensor::copy).collect()
}

fn restore(state: &[Tensor], from: &[Tensor]) {
    shift_tensor::tch::no_grad(|| {
        for (dst, src) in state.iter().zip(from) {
            dst.shallow_clone().copy_(src);
        }
    });
}

/// How far apart two steps from `before` are: over the state tensors, the largest
/// `|(a - before) - (b - before)| / |a - before|` (L2 norms; 0 where neither changed anything).
pub fn step_difference(before: &[Tensor], a: &[Tensor], b: &[Tensor]) -> f64 {
    before
        .iter()
        .zip(a.iter().zip(b))
        .map(|(t0, (ta, tb))| {
            let da = (ta - t0).to_kind(shift_tensor::tch::Kind::Double);
            let diff = (tb - ta)
                .to_kind(shift_tensor::tch::Kind::Double)
                .norm()
                .double_value(&[]);
            let scale = da.norm().double_value(&[]);
            if diff == 0.0 {
                0.0
            } else if scale == 0.0 {
                f64::INFINITY
            } else {
                diff / scale
            }
        })
        .fold(0.0, f64::max)
}

/// Runs `eager` twice and then `replay`, each from the same starting state, on the tensors in `state` (which all
/// three update in place), and compares them. Where the replay fails the check, the state is set to what the
/// eager step left, so that training continues from a correct step either way.
pub fn check_replay(
    state: &[Tensor],
    mut eager: impl FnMut() -> Result<(), StrategyError>,
    replay: impl FnOnce() -> Result<(), StrategyError>,
) -> Result<ReplayCheck, StrategyError> {
    let before = copies(state);
    eager()?;
    let by_eager = copies(state);
    restore(state, &before);
    eager()?;
    let again = copies(state);
    restore(state, &before);
    replay()?;
    let eager_noise = step_difference(&before, &by_eager, &again);
    let check = ReplayCheck {
        difference: step_difference(&before, &by_eager, &copies(state)),
        eager_noise,
        tolerance: (4.0 * eager_noise).clamp(FLOOR, CEILING),
    };
    if !check.passed() {
        restore(state, &by_eager);
    }
    Ok(check)
}
