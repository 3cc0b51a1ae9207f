//! Content checks: sha256 of bytes or of gunzipped content, recursive file counts by extension, and the layout
//! and completeness of WAV files (decoded with `hound`).

use crate::error::FetchError;
use crate::manifest::{Artifact, CountCheck, FileEntry, WavCheck};
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

/// Every `.wav` file under `dir`, recursively.
fn wav_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), FetchError> {
    for e in std::fs::read_dir(dir).map_err(FetchError::io(dir))? {
        let e = e.map_err(FetchError::io(dir))?;
        let path = e.path();
        if e.file_type().map_err(FetchError::io(&path))?.is_dir() {
            wav_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")) {
            out.push(path);
        }
    }
    Ok(())
}

/// One WAV file: its header gives the layout `w` asks for, and every sample it declares is there.
pub fn check_wav(path: &Path, w: &WavCheck) -> Result<(), FetchError> {
    let bad = |msg: String| FetchError::Check {
        path: path.to_path_buf(),
        msg,
    };
    let reader = hound::WavReader::open(path).map_err(|e| bad(format!("not a WAV file: {e}")))?;
    let spec = reader.spec();
    if spec.channels != w.channels
        || spec.sample_rate != w.sample_rate
        || spec.bits_per_sample != w.bits
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(bad(format!(
            "expected {} channel(s) of {}-bit PCM at {} Hz, found {} channel(s) of {}-bit {:?} at {} Hz",
            w.channels,
            w.bits,
            w.sample_rate,
            spec.channels,
            spec.bits_per_sample,
            spec.sample_format,
            spec.sample_rate
        )));
    }
    // hound reads the data chunk's declared length: data that ends before it is an error here.
    let declared = reader.len();
    for (read, s) in reader.into_samples::<i32>().enumerate() {
        s.map_err(|e| bad(format!("truncated or corrupt after {read} of {declared} samples: {e}")))?;
    }
    Ok(())
}

fn check_wavs(root: &Path, w: &WavCheck) -> Result<(), FetchError> {
    let mut files = Vec::new();
    wav_files(&root.join(&w.dir), &mut files)?;
    files.sort();
    files.iter().try_for_each(|f| check_wav(f, w))
}

/// Everything the manifest says about the installed folder `root`.
pub fn check_artifact(root: &Path, artifact: &Artifact) -> Result<(), FetchError> {
    for f in &artifact.files {
        check_file(&root.join(&f.path), f)?;
    }
    for c in &artifact.counts {
        check_count(root, c)?;
    }
    for w in &artifact.wavs {
        check_wavs(root, w)?;
    }
    Ok(())
}
