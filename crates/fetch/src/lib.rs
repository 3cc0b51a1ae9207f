//! Verified data downloads: a manifest of artifacts, mirrors (a folder or an HTTP base URL), resumable
//! transfers, checksums of bytes or of decompressed content, safe tar.gz extraction, and an install that
//! stages everything and renames it into place only after verification, with a completion marker last.

mod error;
pub mod extract;
pub mod install;
pub mod manifest;
pub mod source;
pub mod verify;

pub use error::FetchError;
pub use install::{Installer, Outcome};
pub use manifest::{Artifact, Manifest};
pub use source::Mirror;
