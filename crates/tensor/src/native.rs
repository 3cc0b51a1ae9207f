//! Safe wrappers over the native C++ extension (`native/shift_native.cpp`), built against the linked libtorch.

use crate::error::TensorError;
use std::ffi::{c_char, c_double, c_int, c_long, c_void, CStr};
use tch::Tensor;
use torch_sys::C_tensor;

extern "C" {
    fn shift_free_error(err: *mut c_char);
    fn shift_grad_reverse(x: *const C_tensor, lambda: c_double, err: *mut *mut c_char) -> *mut C_tensor;
    fn shift_grad_reverse_scaled(x: *const C_tensor, lambda: *const C_tensor, err: *mut *mut c_char) -> *mut C_tensor;
    fn shift_set_deterministic(on: c_int, err: *mut *mut c_char) -> c_int;
    fn shift_torch_version() -> *const c_char;
    fn shift_built_with_cuda() -> c_int;
    fn shift_cudnn_version() -> c_long;
    fn shift_cuda_hooks_built() -> c_int;
    fn shift_cuda_device_name(index: c_int, out: *mut *mut c_char, err: *mut *mut c_char) -> c_int;
    fn shift_relu_max_pool2(x: *const C_tensor, err: *mut *mut c_char) -> *mut C_tensor;
    fn shift_set_grad(param: *const C_tensor, grad: *const C_tensor, err: *mut *mut c_char) -> c_int;
    pub(crate) fn shift_stream_new(device: c_int, err: *mut *mut c_char) -> *mut c_void;
    pub(crate) fn shift_stream_free(s: *mut c_void);
    pub(crate) fn shift_stream_enter(s: *mut c_void, err: *mut *mut c_char) -> c_int;
    pub(crate) fn shift_stream_leave(s: *mut c_void, err: *mut *mut c_char) -> c_int;
    pub(crate) fn shift_graph_new(err: *mut *mut c_char) -> *mut c_void;
    pub(crate) fn shift_graph_free(g: *mut c_void);
    pub(crate) fn shift_graph_begin(g: *mut c_void, s: *mut c_void, err: *mut *mut c_char) -> c_int;
    pub(crate) fn shift_graph_end(g: *mut c_void, s: *mut c_void, err: *mut *mut c_char) -> c_int;
    pub(crate) fn shift_graph_replay(g: *mut c_void, err: *mut *mut c_char) -> c_int;
}

/// Takes ownership of a message written by the extension.
pub(crate) fn take_error(err: *mut c_char) -> TensorError {
    if err.is_null() {
        return TensorError::Native("unknown libtorch error".into());
    }
    // SAFETY: the extension wrote a NUL-terminated string from strdup, freed here exactly once.
    let msg = unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned();
    unsafe { shift_free_error(err) };
    TensorError::Native(msg)
}

fn tensor_or_error(ptr: *mut C_tensor, err: *mut c_char) -> Result<Tensor, TensorError> {
    if ptr.is_null() {
        Err(take_error(err))
    } else {
        // SAFETY: the extension returns a heap `at::Tensor*` whose ownership passes to the Rust tensor.
        Ok(unsafe { Tensor::from_ptr(ptr) })
    }
}

/// Gradient reversal with a host lambda (see `shift-grl`): identity forward, `-lambda * grad` backward.
pub fn grad_reverse(x: &Tensor, lambda: f64) -> Result<Tensor, TensorError> {
    let mut err = std::ptr::null_mut();
    // SAFETY: `x` is a live tensor for the duration of the call.
    let ptr = unsafe { shift_grad_reverse(x.as_ptr(), lambda, &mut err) };
    tensor_or_error(ptr, err)
}

/// Gradient reversal with lambda in a 0-dim tensor (read when backward runs, so it can change on the device).
pub fn grad_reverse_scaled(x: &Tensor, lambda: &Tensor) -> Result<Tensor, TensorError> {
    let mut err = std::ptr::null_mut();
    // SAFETY: both tensors are live for the duration of the call.
    let ptr = unsafe { shift_grad_reverse_scaled(x.as_ptr(), lambda.as_ptr(), &mut err) };
    tensor_or_error(ptr, err)
}

/// Makes `grad` (same shape, dtype and device) the `.grad` of `param`, e.g. a view into a flat buffer: backward
/// then accumulates into it in place, provided it is zeroed (never reset) between steps.
pub fn set_grad(param: &Tensor, grad: &Tensor) -> Result<(), TensorError> {
    let mut err = std::ptr::null_mut();
    // SAFETY: both tensors are live; the extension assigns the gradient field of the TensorImpl `param` shares (a const method in ATen).
    if unsafe { shift_set_grad(param.as_ptr(), grad.as_ptr(), &mut err) } == 0 {
        Ok(())
    } else {
        Err(take_error(err))
    }
}

pub(crate) fn set_deterministic(on: bool) -> Result<(), TensorError> {
    let mut err = std::ptr::null_mut();
    // SAFETY: plain call; err is written only on failure.
    if unsafe { shift_set_deterministic(on as c_int, &mut err) } == 0 {
        Ok(())
    } else {
        Err(take_error(err))
    }
}

/// The libtorch version the extension was compiled against (`TORCH_VERSION`, e.g. "2.11.0").
pub fn torch_version() -> String {
    // SAFETY: returns a pointer to a static string literal.
    unsafe { CStr::from_ptr(shift_torch_version()) }
        .to_string_lossy()
        .into_owned()
}

/// Whether the extension was built against a CUDA libtorch (and so keeps `libtorch_cuda` linked).
pub fn built_with_cuda() -> bool {
    // SAFETY: plain call without arguments.
    unsafe { shift_built_with_cuda() != 0 }
}

/// Whether libtorch's CUDA library is loaded in this process (its hooks registered), with or without a GPU.
pub fn libtorch_cuda_loaded() -> bool {
    // SAFETY: plain call without arguments; errors are reported as 0.
    unsafe { shift_cuda_hooks_built() != 0 }
}

/// cuDNN version as libtorch reports it (e.g. 91900), or None where cuDNN is absent.
pub fn cudnn_version() -> Option<i64> {
    // SAFETY: plain call without arguments; errors are reported as 0.
    let v = unsafe { shift_cudnn_version() } as i64;
    (v > 0).then_some(v)
}

/// The name of CUDA device `index` (e.g. "NVIDIA H200").
pub fn cuda_device_name(index: usize) -> Result<String, TensorError> {
    let mut out = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: out/err are written by the extension, each a strdup'd string on its path.
    if unsafe { shift_cuda_device_name(index as c_int, &mut out, &mut err) } != 0 {
        return Err(take_error(err));
    }
    // SAFETY: out is a NUL-terminated strdup'd string, freed once below.
    let name = unsafe { CStr::from_ptr(out) }.to_string_lossy().into_owned();
    unsafe { shift_free_error(out) };
    Ok(name)
}

/// ReLU then 2x2, stride-2 max pooling of a CPU float32 N x C x H x W tensor as one native kernel and one
/// autograd node (`native/relu_max_pool.cpp`): the same values and gradients as `x.relu().max_pool2d(2)`.
pub fn relu_max_pool2(x: &Tensor) -> Result<Tensor, TensorError> {
    let mut err = std::ptr::null_mut();
    // SAFETY: `x` is a live tensor for the duration of the call.
    let ptr = unsafe { shift_relu_max_pool2(x.as_ptr(), &mut err) };
    tensor_or_error(ptr, err)
}
