//! Checkpoint IO: named tensors written atomically (temporary file, then rename), read back with clear errors.

use crate::error::TensorError;
use std::path::Path;
use tch::Tensor;

/// Saves named tensors to `path`. Writes `path.tmp` first and renames it, so a crash never leaves a torn file.
pub fn save_named(path: &Path, tensors: &[(String, Tensor)]) -> Result<(), TensorError> {
    let err = |msg: String| TensorError::Checkpoint {
        path: path.to_path_buf(),
        msg,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create folder: {e}")))?;
    }
    let tmp = path.with_extension("tmp");
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    Tensor::save_multi(&refs, &tmp).map_err(|e| err(format!("write failed: {e}")))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(format!("rename failed: {e}"))
    })
}

/// Loads the named tensors saved by [`save_named`] onto the CPU.
pub fn load_named(path: &Path) -> Result<Vec<(String, Tensor)>, TensorError> {
    if !path.is_file() {
        return Err(TensorError::Checkpoint {
            path: path.to_path_buf(),
            msg: "no such file".into(),
        });
    }
    Tensor::load_multi(path).map_err(|e| TensorError::Checkpoint {
        path: path.to_path_buf(),
        msg: format!("not a readable checkpoint: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn round_trip_is_exact_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ck.pt");
        let a = Tensor::linspace(-1.0, 2.0, 12, (Kind::Float, Device::Cpu)).view([3, 4]);
        let b = Tensor::arange(5, (Kind::Int64, Device::Cpu));
        save_named(
            &path,
            &[("a".into(), a.shallow_clone()), ("b".into(), b.shallow_clone())],
        )
        .unwrap();
        assert!(!path.with_extension("tmp").exists());
        let back = load_named(&path).unwrap();
        assert_eq!(back.len(), 2);
        let get = |n: &str| &back.iter().find(|(k, _)| k == n).unwrap().1;
        assert!(get("a").equal(&a));
        assert!(get("b").equal(&b));
    }

    #[test]
    fn missing_and_garbage_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pt");
        let e = load_named(&missing).unwrap_err().to_string();
        assert!(e.contains("none.pt") && e.contains("no such file"), "{e}");
        let junk = dir.path().join("junk.pt");
        std::fs::write(&junk, b"not a checkpoint").unwrap();
        let e = load_named(&junk).unwrap_err().to_string();
        assert!(e.contains("junk.pt") && e.contains("not a readable checkpoint"), "{e}");
    }
}
