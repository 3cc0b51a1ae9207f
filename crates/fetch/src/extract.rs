//! Safe tar.gz extraction: no entry may leave the target folder (`..`, absolute paths, links are refused).

use crate::error::FetchError;
use std::path::{Component, Path, PathBuf};

/// Extracts `archive` into `into`, taking only entries under `select` (with that prefix removed), and
/// returns the number of files written. Directory entries are created; symbolic and hard links are refused.
pub fn extract_tar_gz(archive: &Path, into: &Path, select: Option<&str>) -> Result<usize, FetchError> {
    let bad = |msg: String| FetchError::Archive {
        archive: archive.to_path_buf(),
        msg,
    };
    let file = std::fs::File::open(archive).map_err(FetchError::io(archive))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let mut written = 0;
    for entry in tar.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(format!("corrupt or truncated: {e}")))?;
        let raw = entry.path_bytes();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let rel = safe_relative(&name).ok_or_else(|| FetchError::UnsafeEntry {
            archive: archive.to_path_buf(),
            entry: name.clone(),
        })?;
        let rel = match select {
            Some(prefix) => match rel.strip_prefix(prefix.trim_end_matches('/')) {
                Ok(r) if !r.as_os_str().is_empty() => r.to_path_buf(),
                _ => continue,
            },
            None => rel,
        };
        let target = into.join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(FetchError::io(&target))?;
        } else if kind.is_file() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(FetchError::io(parent))?;
            }
            let mut out = std::fs::File::create(&target).map_err(FetchError::io(&target))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| bad(format!("corrupt or truncated at `{name}`: {e}")))?;
            written += 1;
        } else if kind.is_symlink() || kind.is_hard_link() {
            return Err(FetchError::UnsafeEntry {
                archive: archive.to_path_buf(),
                entry: name,
            });
        }
    }
    Ok(written)
}

/// The entry's path when it is relative and stays inside the target (`./` components are dropped).
fn safe_relative(name: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}
