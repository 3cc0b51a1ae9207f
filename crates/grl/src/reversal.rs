//! `GradientReversal`: identity forward, `-lambda * grad` backward, one autograd node from the native extension.

use shift_tensor::{native, tch::Tensor, TensorError};

/// The gradient reversal layer. It holds no state: lambda is given per call, so a schedule can change it every
/// step without rebuilding anything. The layer only scales what flows *through* it (towards the feature
/// extractor); whatever sits after it (the domain discriminator) receives its gradient unscaled.
#[derive(Debug, Clone, Copy, Default)]
pub struct GradientReversal;

impl GradientReversal {
    /// Identity on `x` (the same values, bit for bit); in backward the incoming gradient times `-lambda`.
    pub fn apply(&self, x: &Tensor, lambda: f64) -> Result<Tensor, TensorError> {
        native::grad_reverse(x, lambda)
    }

    /// As [`apply`](Self::apply), with lambda in a 0-dim tensor on `x`'s device, read when backward runs.
    pub fn apply_scaled(&self, x: &Tensor, lambda: &Tensor) -> Result<Tensor, TensorError> {
        native::grad_reverse_scaled(x, lambda)
    }
}

/// The pure-tch formulation `d + (x - d) * (-lambda)` with `d = x.detach()`: exact as well, but several kernels
/// and nodes instead of one. Kept as a cross-check for the native layer.
pub fn reverse_reference(x: &Tensor, lambda: f64) -> Tensor {
    let d = x.detach();
    &d + (x - &d) * (-lambda)
}
