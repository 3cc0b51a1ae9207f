//! The strategies crate's error type.

#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    #[error("`{field}`: {msg}")]
    Invalid { field: String, msg: String },
    #[error("epoch {epoch}: {what} is {value} (not finite); stopped, the last good checkpoint is kept")]
    NonFinite {
        epoch: usize,
        what: &'static str,
        value: f64,
    },
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error(transparent)]
    Tensor(#[from] shift_tensor::TensorError),
    #[error("{0}")]
    Other(String),
}
