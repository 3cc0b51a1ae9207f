//! `relu_max_pool2`: ReLU then 2x2 max pooling, as the digit net applies after each convolution; one native CPU
//! kernel where it applies (float32 on the CPU, NCHW or channels last), libtorch's two ops elsewhere, with the same
//! values and gradients.

use shift_tensor::native;
use shift_tensor::tch::{Device, Kind, Tensor};

/// `max_pool2d(relu(x), 2)` for an N x C x H x W tensor. On the CPU in float32 it is one pass forward and one
/// backward (`native/relu_max_pool.cpp`) instead of libtorch's relu, generic pooling loop, zero fill, scatter and
/// relu mask; on other devices and types (a CUDA step is launch-bound and captured whole) it is the two ops.
///
/// Only the documented refusal goes to the two ops: a plane smaller than the 2 x 2 window, which they reject
/// too, with libtorch's own message. Any other failure of the kernel on an input it takes is a defect of the
/// kernel and stops with its message, never a silent switch to the slower path.
pub fn relu_max_pool2(x: &Tensor) -> Tensor {
    let size = x.size();
    if x.device() == Device::Cpu && x.kind() == Kind::Float && size.len() == 4 && size[2] >= 2 && size[3] >= 2 {
        return native::relu_max_pool2(x).unwrap_or_else(|e| {
            panic!(
                "relu_max_pool2: the native kernel failed on a {size:?} input (strides {:?}): {e}",
                x.stride()
            )
        });
    }
    relu_max_pool2_composed(x)
}

/// The same values with channels-last strides: N x C x H x W sizes, channels innermost in memory (libtorch's
/// `MemoryFormat::ChannelsLast`, which its convolutions and this module's kernel keep for their outputs).
pub fn channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// The same function as libtorch's two ops (the reference the native kernel is tested against).
pub fn relu_max_pool2_composed(x: &Tensor) -> Tensor {
    x.relu().max_pool2d_default(2)
}
