//! The deterministic switch: cuDNN deterministic without benchmarking, deterministic kernels where libtorch has them.

use crate::{native, TensorError};

/// Turns determinism on or off for the whole process. With `on`, cuDNN autotuning is off, cuDNN picks
/// deterministic algorithms, libtorch uses its deterministic kernels where it has them (and warns where it has
/// none), and cuBLAS gets a fixed workspace (`CUBLAS_WORKSPACE_CONFIG=:4096:8`, unless the user set it).
pub fn set_deterministic(on: bool) -> Result<(), TensorError> {
    if on && std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        // Must be in the environment before cuBLAS initialises; shift calls this at start-up.
        std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
    }
    native::set_deterministic(on)
}
