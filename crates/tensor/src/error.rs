//! The tensor crate's error type.

use std::path::PathBuf;

/// Errors from device choice, the native extension and checkpoint IO.
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    #[error("device `{0}`: expected auto, cpu, cuda or cuda:N")]
    BadDevice(String),
    #[error("device `{asked}`: CUDA is not available here ({why})")]
    NoCuda { asked: String, why: String },
    #[error("device `{asked}`: only {count} CUDA device(s) present")]
    NoSuchCuda { asked: String, count: usize },
    #[error("libtorch: {0}")]
    Native(String),
    #[error("deterministic mode: {0}")]
    Pins(String),
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
}
