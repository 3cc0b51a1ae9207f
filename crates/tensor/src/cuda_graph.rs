//! CUDA graphs through libtorch's `at::cuda::CUDAGraph`: record the kernels a closure launches once, then replay
//! them with one launch. Inputs and outputs must live at fixed addresses (static tensors updated in place).

use crate::error::TensorError;
use crate::native::{self, take_error};
use std::ffi::c_void;
use tch::Device;

/// Turns a panic in a closure run on the side stream (tch panics on libtorch errors, e.g. an op that is not
/// allowed while capturing) into an error, so that the stream is always left.
fn caught<T, E: From<TensorError>>(body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the step panicked on the side stream".into());
        Err(TensorError::Native(msg).into())
    })
}

/// A CUDA stream from libtorch's pool on which a step warms up and is then captured (capture needs a non-default
/// stream; warming up on the same stream lets cuBLAS and cuDNN set up their per-stream state outside the
/// capture). Entering and leaving it wait for the device, so its work is ordered against the default stream.
#[derive(Debug)]
pub struct SideStream {
    ptr: *mut c_void,
}

impl SideStream {
    pub fn new(device: Device) -> Result<Self, TensorError> {
        let Device::Cuda(index) = device else {
            return Err(TensorError::Native(format!(
                "CUDA graphs need a CUDA device, not {device:?}"
            )));
        };
        let mut err = std::ptr::null_mut();
        // SAFETY: plain allocation; err is written only on failure.
        let ptr = unsafe { native::shift_stream_new(index as i32, &mut err) };
        if ptr.is_null() {
            return Err(take_error(err));
        }
        Ok(Self { ptr })
    }

    /// Runs `body` with this stream current (a step's eager warm-up), then makes the previous stream current.
    pub fn run<T, E: From<TensorError>>(&self, body: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut err = std::ptr::null_mut();
        // SAFETY: `ptr` is a live ShiftStream until `self` drops.
        if unsafe { native::shift_stream_enter(self.ptr, &mut err) } != 0 {
            return Err(take_error(err).into());
        }
        let result = caught(body);
        // SAFETY: as above; enter succeeded.
        let left = unsafe { native::shift_stream_leave(self.ptr, &mut err) };
        let value = result?;
        if left != 0 {
            return Err(take_error(err).into());
        }
        Ok(value)
    }
}

impl Drop for SideStream {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from shift_stream_new and is freed once.
        unsafe { native::shift_stream_free(self.ptr) }
    }
}

/// A captured CUDA graph. Replays on the current stream; freed on drop.
#[derive(Debug)]
pub struct CudaGraph {
    ptr: *mut c_void,
}

impl CudaGraph {
    /// Captures the device work `body` issues, on `stream` (made current meanwhile). Nothing runs during
    /// capture: the work happens at each [`replay`](Self::replay). Errors from libtorch (capture is not possible,
    /// e.g. an op synchronises with the host) and from `body` are returned; the graph is then discarded and the
    /// previous stream made current again.
    pub fn capture<E: From<TensorError>>(stream: &SideStream, body: impl FnOnce() -> Result<(), E>) -> Result<Self, E> {
        let mut err = std::ptr::null_mut();
        // SAFETY: plain allocation; err is written only on failure.
        let ptr = unsafe { native::shift_graph_new(&mut err) };
        if ptr.is_null() {
            return Err(take_error(err).into());
        }
        let graph = Self { ptr };
        // SAFETY: `graph.ptr` and `stream.ptr` are live until they drop.
        if unsafe { native::shift_graph_begin(graph.ptr, stream.ptr, &mut err) } != 0 {
            return Err(take_error(err).into());
        }
        // Capture must end whatever the body did, so that the stream is left.
        let body_result = caught(body);
        // SAFETY: as above; begin succeeded.
        let end = unsafe { native::shift_graph_end(graph.ptr, stream.ptr, &mut err) };
        body_result?;
        if end != 0 {
            return Err(take_error(err).into());
        }
        Ok(graph)
    }

    /// Launches the captured work once.
    pub fn replay(&self) -> Result<(), TensorError> {
        let mut err = std::ptr::null_mut();
        // SAFETY: `ptr` is a live, captured graph.
        if unsafe { native::shift_graph_replay(self.ptr, &mut err) } == 0 {
            Ok(())
        } else {
            Err(take_error(err))
        }
    }
}

impl Drop for CudaGraph {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from shift_graph_new and is freed once.
        unsafe { native::shift_graph_free(self.ptr) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_stream_on_the_cpu_is_refused() {
        let e = SideStream::new(Device::Cpu).unwrap_err();
        assert_eq!(e.to_string(), "libtorch: CUDA graphs need a CUDA device, not Cpu");
    }

    #[test]
    fn a_panic_on_the_side_stream_becomes_an_error() {
        let e = caught::<(), TensorError>(|| panic!("not allowed while capturing")).unwrap_err();
        assert_eq!(e.to_string(), "libtorch: not allowed while capturing");
        assert_eq!(caught::<u8, TensorError>(|| Ok(7)).unwrap(), 7);
    }
}
