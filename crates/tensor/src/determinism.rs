//! The deterministic switch: cuDNN deterministic without benchmarking, deterministic kernels where libtorch has them.

use crate::{error::TensorError, native};

/// What deterministic mode promises and what it does not, as a run records it (config.json's
/// `deterministic_algorithms`) and says it: libtorch is asked for its deterministic kernels with `warn_only`, so
/// an op that has no deterministic kernel warns and runs its usual one instead of stopping the run.
pub const WARN_ONLY: &str = "libtorch's deterministic kernels where it has them; an op without one warns and runs its \
     usual kernel (warn_only), so such an op may still vary between runs";

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
