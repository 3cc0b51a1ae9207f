//! Content checks: sha256 of bytes or of gunzipped content, and recursive file counts by extension.

use crate::manifest::{Artifact, CountCheck, FileEntry};
use crate::FetchError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// Hex sha256 of everything `reader` yields.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let f = std::fs::File::open(path).map_err(FetchError::io(path))?;
    sha256_reader(std::io::BufReader::new(f)).map_err(FetchError::io(path))
}

/// sha256 of the decompressed content of a gzip file; a truncated or corrupt gzip is an error naming the file.
pub fn gunzip_sha256_file(path: &Path) -> Result<String, FetchError> {
    let f = std::fs::File::open(path).map_err(FetchError::io(path))?;
    sha256_reader(flate2::read::GzDecoder::new(std::io::BufReader::new(f))).map_err(|e| FetchError::Check {
        path: path.to_path_buf(),
        msg: format!("not a valid gzip file: {e}"),
    })
}

/// Checks one file's checksums (those the manifest gives).
pub fn check_file(path: &Path, entry: &FileEntry) -> Result<(), FetchError> {
    if !path.is_file() {
        return Err(FetchError::Check {
            path: path.to_path_buf(),
            msg: "missing".into(),
        });
    }
    let compare = |expected: &str, actual: String| {
        if expected.eq_ignore_ascii_case(&actual) {
            Ok(())
        } else {
            Err(FetchError::Checksum {
                path: path.to_path_buf(),
                expected: expected.to_string(),
                actual,
            })
        }
    };
    if let Some(expected) = &entry.sha256 {
        compare(expected, sha256_file(path)?)?;
    }
    if let Some(expected) = &entry.gunzip_sha256 {
        compare(expected, gunzip_sha256_file(path)?)?;
    }
    Ok(())
}

/// Counts files with extension `ext` under `dir`, recursively.
pub fn count_files(dir: &Path, ext: &str) -> Result<usize, FetchError> {
    let mut n = 0;
    let entries = std::fs::read_dir(dir).map_err(FetchError::io(dir))?;
    for e in entries {
        let e = e.map_err(FetchError::io(dir))?;
        let path = e.path();
        let kind = e.file_type().map_err(FetchError::io(&path))?;
        if kind.is_dir() {
            n += count_files(&path, ext)?;
        } else if path.extension().is_some_and(|x| x.eq_ignore_ascii_case(ext)) {
            n += 1;
        }
    }
    Ok(n)
}

fn check_count(root: &Path, c: &CountCheck) -> Result<(), FetchError> {
    let dir = root.join(&c.dir);
    let n = count_files(&dir, &c.ext)?;
    if n != c.n {
        return Err(FetchError::Check {
            path: dir,
            msg: format!("expected {} .{} files, found {n}", c.n, c.ext),
        });
    }
    Ok(())
}

/// Everything the manifest says about the installed folder `root`.
pub fn check_artifact(root: &Path, artifact: &Artifact) -> Result<(), FetchError> {
    for f in &artifact.files {
        check_file(&root.join(&f.path), f)?;
    }
    for c in &artifact.counts {
        check_count(root, c)?;
    }
    Ok(())
}
