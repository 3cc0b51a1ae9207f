//! CUDA graphs through libtorch's `at::cuda::CUDAGraph`: record the kernels a closure launches once, then replay
//! them with one launch. Inputs and outputs must live at fixed addresses (static tensors updated in place).

use crate::native::{self, take_error};
use crate::TensorError;
use std::ffi::c_void;
use tch::Device;

/// A captured CUDA graph. Replays on the current stream; freed on drop.
#[derive(Debug)]
pub struct CudaGraph {
    ptr: *mut c_void,
}

impl CudaGraph {
    /// Captures the device work `body` issues on `device` (a side stream is made current meanwhile). Nothing
    /// runs during capture: the work happens at each [`replay`](Self::replay). Errors from libtorch (capture is
    /// not possible, e.g. an op synchronises with the host) and from `body` are returned; the graph is then
    /// discarded and the stream restored.
    pub fn capture<E: From<TensorError>>(device: Device, body: impl FnOnce() -> Result<(), E>) -> Result<Self, E> {
        let Device::Cuda(index) = device else {
            return Err(TensorError::Native(format!("CUDA graphs need a CUDA device, not {device:?}")).into());
        };
        let mut err = std::ptr::null_mut();
        // SAFETY: plain allocation; err is written only on failure.
        let ptr = unsafe { native::shift_graph_new(&mut err) };
        if ptr.is_null() {
            return Err(take_error(err).into());
        }
        let graph = Self { ptr };
        // SAFETY: `ptr` is a live ShiftGraph until `graph` drops.
        if unsafe { native::shift_graph_begin(graph.ptr, index as i32, &mut err) } != 0 {
            return Err(take_error(err).into());
        }
        // A panic in the body (tch panics on libtorch errors, e.g. an op that is not allowed while capturing)
        // becomes an error too: capture must end whatever the body did, so that the stream is restored.
        let body_result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|panic| {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the captured step panicked".into());
            Err(TensorError::Native(msg).into())
        });
        // SAFETY: as above; begin succeeded.
        let end = unsafe { native::shift_graph_end(graph.ptr, &mut err) };
        body_result?;
        if end != 0 {
            return Err(take_error(err).into());
        }
        Ok(graph)
    }

    /// Launches the captured work once.
    pub fn replay(&self) -> Result<(), TensorError> {
        let mut err = std::ptr::null_mut();
        // SAFETY: `ptr` is a live, captured ShiftGraph.
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
    fn capture_on_the_cpu_is_refused_and_the_body_never_runs() {
        let mut ran = false;
        let e = CudaGraph::capture::<TensorError>(Device::Cpu, || {
            ran = true;
            Ok(())
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "libtorch: CUDA graphs need a CUDA device, not Cpu");
        assert!(!ran);
    }
}
