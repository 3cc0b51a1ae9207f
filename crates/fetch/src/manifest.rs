//! The data manifest (`datasets/manifest.toml`): per artifact its folder, canonical URLs, mirror paths,
//! checksums and post-checks. Parsed with serde and validated so that a broken manifest names its problem.

use crate::error::FetchError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    #[serde(rename = "artifact")]
    pub artifacts: Vec<Artifact>,
}

/// One data set as it must look on disk once installed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// What users type: `cargo xtask download NAME`.
    pub name: String,
    /// Folder under the data directory.
    pub folder: String,
    pub about: String,
    /// The terms the data set is distributed under, as its authors state them (or that they state none).
    #[serde(default)]
    pub licence: Option<String>,
    /// In a mirror, each listed file sits at `<mirror>/<mirror_dir>/<file.path>`.
    #[serde(default)]
    pub mirror_dir: Option<String>,
    /// In a mirror, the artifact is one archive at this path.
    #[serde(default)]
    pub mirror_archive: Option<Archive>,
    /// Canonical archives (used when there is no mirror, or the mirror lacks the artifact).
    #[serde(default, rename = "archive")]
    pub archives: Vec<Archive>,
    /// Files the installed folder must hold, with their checksums and per-file canonical URLs.
    #[serde(default, rename = "file")]
    pub files: Vec<FileEntry>,
    /// Counts the installed folder must show.
    #[serde(default, rename = "count")]
    pub counts: Vec<CountCheck>,
    /// Audio layouts the installed folder's WAV files must have.
    #[serde(default, rename = "wav")]
    pub wavs: Vec<WavCheck>,
    /// When no source works, the artifact can be rebuilt from others (`mnist-m`: from MNIST + BSDS500).
    #[serde(default)]
    pub rebuild: Option<String>,
    /// After install, a file of the artifact is converted into another format beside it (model weights:
    /// a PyTorch state_dict to safetensors).
    #[serde(default)]
    pub convert: Option<Convert>,
}

/// `from` (a file of the artifact) is converted to `to` in the same folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Convert {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the artifact's folder (and inside `mirror_dir`).
    pub path: String,
    #[serde(default)]
    pub urls: Vec<String>,
    /// sha256 of the file's bytes.
    #[serde(default)]
    pub sha256: Option<String>,
    /// sha256 of the gunzipped content, where the .gz bytes differ between sources.
    #[serde(default)]
    pub gunzip_sha256: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// Mirror-relative path (for `mirror_archive`) or a file name for the download.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    /// Only `tar.gz` (also `.tgz`).
    pub extract: String,
    /// Take only entries under this prefix, with the prefix removed (e.g. `mnist_m/`).
    #[serde(default)]
    pub select: Option<String>,
    /// Put the selected entries under this sub-folder of the artifact's folder.
    #[serde(default)]
    pub into: Option<String>,
    #[serde(default)]
    pub md5_note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountCheck {
    /// Sub-folder of the artifact's folder; files are counted recursively.
    pub dir: String,
    /// File extension counted (case-insensitive).
    pub ext: String,
    pub n: usize,
}

/// Every `.wav` file under `dir` (recursively) must decode completely as PCM integers of `bits` bits, with
/// `channels` channels at `sample_rate` Hz.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WavCheck {
    pub dir: String,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
}

impl Artifact {
    /// Whether anything can download it: a mirror location, a canonical archive, or per-file URLs.
    pub fn has_sources(&self) -> bool {
        self.mirror_dir.is_some()
            || self.mirror_archive.is_some()
            || !self.archives.is_empty()
            || self.files.iter().any(|f| !f.urls.is_empty())
    }
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self, FetchError> {
        let text = std::fs::read_to_string(path).map_err(FetchError::io(path))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Self, FetchError> {
        let err = |msg: String| FetchError::Manifest {
            path: origin.to_path_buf(),
            msg,
        };
        let m: Manifest = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        if m.version != 1 {
            return Err(err(format!("version {} is not supported (expected 1)", m.version)));
        }
        for a in &m.artifacts {
            let ctx = |msg: &str| err(format!("artifact `{}`: {msg}", a.name));
            if a.folder.is_empty() || !is_relative_clean(&a.folder) {
                return Err(ctx("`folder` must be a plain relative path"));
            }
            for f in &a.files {
                if !is_relative_clean(&f.path) {
                    return Err(ctx(&format!("file path `{}` must be a plain relative path", f.path)));
                }
                for h in [&f.sha256, &f.gunzip_sha256].into_iter().flatten() {
                    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(ctx(&format!("`{}`: `{h}` is not a sha256", f.path)));
                    }
                }
            }
            for ar in a.archives.iter().chain(&a.mirror_archive) {
                if ar.extract != "tar.gz" {
                    return Err(ctx(&format!("extract `{}` is not supported (only tar.gz)", ar.extract)));
                }
            }
            if let Some(c) = &a.convert {
                if !a.files.iter().any(|f| f.path == c.from) {
                    return Err(ctx(&format!(
                        "convert.from `{}` is not one of the artifact's files",
                        c.from
                    )));
                }
                if !is_relative_clean(&c.to) || c.to == c.from {
                    return Err(ctx(&format!("convert.to `{}` must be a new plain relative path", c.to)));
                }
            }
            for w in &a.wavs {
                if !is_relative_clean(&w.dir) || !matches!(w.bits, 8 | 16 | 24 | 32) || w.channels == 0 {
                    return Err(ctx(&format!(
                        "wav check of `{}`: needs a plain relative dir, 1 or more channels and 8, 16, 24 or 32 bits",
                        w.dir
                    )));
                }
            }
            if a.files.is_empty() && a.counts.is_empty() {
                return Err(ctx("needs at least one file or count to verify"));
            }
            if !a.has_sources() && a.rebuild.is_none() {
                return Err(ctx(
                    "has no source (mirror, archive or file URLs) and no `rebuild` recipe",
                ));
            }
        }
        Ok(m)
    }

    pub fn get(&self, name: &str) -> Result<&Artifact, FetchError> {
        self.artifacts
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| FetchError::UnknownArtifact(name.to_string(), self.names().join(", ")))
    }

    pub fn names(&self) -> Vec<String> {
        self.artifacts.iter().map(|a| a.name.clone()).collect()
    }
}

/// A relative path without `..`, root or empty components.
pub fn is_relative_clean(p: &str) -> bool {
    let path = PathBuf::from(p);
    !p.is_empty() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)))
}
