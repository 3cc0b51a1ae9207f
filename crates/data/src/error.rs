//! The data crate's error type: every variant names the file it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: data set missing or incomplete; run `{command}`")]
    NotDownloaded { path: PathBuf, command: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    #[error("{path}: cannot decode image: {msg}")]
    Image { path: PathBuf, msg: String },
    #[error("{what}: {msg}")]
    Invalid { what: String, msg: String },
    #[error(transparent)]
    Tensor(#[from] shift_tensor::TensorError),
    #[error(transparent)]
    Fetch(#[from] shift_fetch::FetchError),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }
}
