//! The fetch crate's error type: every variant names the file, URL or artifact involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("manifest {path}: {msg}")]
    Manifest { path: PathBuf, msg: String },
    #[error("unknown data set `{0}` (known: {1})")]
    UnknownArtifact(String, String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{url}: {msg}")]
    Transfer { url: String, msg: String },
    #[error("{path}: checksum mismatch: expected {expected}, got {actual}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{path}: {msg}")]
    Check { path: PathBuf, msg: String },
    #[error("archive {archive}: entry `{entry}` would land outside the target folder")]
    UnsafeEntry { archive: PathBuf, entry: String },
    #[error("archive {archive}: {msg}")]
    Archive { archive: PathBuf, msg: String },
    #[error("`{artifact}`: no source worked:\n  {tried}")]
    NoSource { artifact: String, tried: String },
}

impl FetchError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
