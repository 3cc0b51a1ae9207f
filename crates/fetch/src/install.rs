//! Installing an artifact: try the mirror, then the canonical sources; stage in a temporary folder beside the
//! destination, verify, rename into place, and write the completion marker last. A folder without the marker
//! is never accepted (by `xtask download` or by the loaders), so a crash leaves nothing half-usable.

use crate::error::FetchError;
use crate::extract::extract_tar_gz;
use crate::manifest::{Archive, Artifact};
use crate::source::{fetch, Location, Mirror};
use crate::verify::{check_artifact, check_file};
use std::path::{Path, PathBuf};

/// The completion marker's file name inside an installed artifact's folder.
pub const MARKER: &str = ".complete";

/// Whether `folder` holds a completely installed artifact (its marker is present).
pub fn is_complete(folder: &Path) -> bool {
    folder.join(MARKER).is_file()
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already installed and verified; nothing was downloaded.
    Present,
    /// Installed from this source.
    Installed { from: String },
    /// No source worked but the artifact can be rebuilt (manifest `rebuild`); `tried` says what failed.
    NeedsRebuild { tried: String },
}

/// Installs artifacts under `data_dir`.
#[derive(Debug, Clone)]
pub struct Installer {
    pub data_dir: PathBuf,
    pub mirror: Option<Mirror>,
    /// Reinstall even when a complete copy is present.
    pub force: bool,
    /// Progress bars on stderr.
    pub progress: bool,
}

/// One way to obtain an artifact.
#[derive(Debug)]
enum Plan {
    /// Each listed file from its location.
    Files(Vec<(String, Location)>),
    /// Archives to extract.
    Archives(Vec<(Archive, Location)>),
}

impl Installer {
    pub fn new(data_dir: impl Into<PathBuf>, mirror: Option<Mirror>) -> Self {
        Self {
            data_dir: data_dir.into(),
            mirror,
            force: false,
            progress: false,
        }
    }

    pub fn folder(&self, artifact: &Artifact) -> PathBuf {
        self.data_dir.join(&artifact.folder)
    }

    pub fn install(&self, artifact: &Artifact) -> Result<Outcome, FetchError> {
        let dest = self.folder(artifact);
        if !self.force && is_complete(&dest) {
            match check_artifact(&dest, artifact) {
                Ok(()) => return Ok(Outcome::Present),
                Err(e) => eprintln!(
                    "{}: installed copy fails verification ({e}); installing again",
                    artifact.name
                ),
            }
        }
        let mut tried = Vec::new();
        for (label, plan) in self.plans(artifact) {
            match self.install_with(artifact, &label, |staging| self.execute(artifact, &plan, staging)) {
                Ok(()) => return Ok(Outcome::Installed { from: label }),
                Err(e) => tried.push(format!("{label}: {e}")),
            }
        }
        if tried.is_empty() {
            tried.push(if artifact.has_sources() {
                "no mirror given and the manifest lists no canonical URL".into()
            } else {
                "the manifest lists no source: it is made from other artifacts".into()
            });
        }
        let tried = tried.join("\n  ");
        if artifact.rebuild.is_some() {
            Ok(Outcome::NeedsRebuild { tried })
        } else {
            Err(FetchError::NoSource {
                artifact: artifact.name.clone(),
                tried,
            })
        }
    }

    /// Fills a fresh staging folder with `build`, verifies it against the manifest, moves it into place and
    /// marks it complete. On any error the staging folder is removed and an existing copy is left as it was.
    pub fn install_with(
        &self,
        artifact: &Artifact,
        source: &str,
        build: impl FnOnce(&Path) -> Result<(), FetchError>,
    ) -> Result<(), FetchError> {
        std::fs::create_dir_all(&self.data_dir).map_err(FetchError::io(&self.data_dir))?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{}.partial-", artifact.folder.replace('/', "_")))
            .tempdir_in(&self.data_dir)
            .map_err(FetchError::io(&self.data_dir))?;
        build(staging.path())?;
        check_artifact(staging.path(), artifact)?;
        let dest = self.folder(artifact);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(FetchError::io(&dest))?;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(FetchError::io(parent))?;
        }
        let staged = staging.keep();
        std::fs::rename(&staged, &dest).map_err(FetchError::io(&dest))?;
        let marker = serde_json::json!({ "artifact": artifact.name, "source": source });
        std::fs::write(dest.join(MARKER), format!("{marker}\n")).map_err(FetchError::io(dest.join(MARKER)))?;
        Ok(())
    }

    fn plans(&self, a: &Artifact) -> Vec<(String, Plan)> {
        let mut plans = Vec::new();
        if let Some(m) = &self.mirror {
            let label = match m {
                Mirror::Dir(d) => format!("mirror {}", d.display()),
                Mirror::Url(u) => format!("mirror {u}"),
            };
            if let Some(ar) = &a.mirror_archive {
                let rel = ar.path.clone().unwrap_or_default();
                plans.push((label, Plan::Archives(vec![(ar.clone(), m.locate(&rel))])));
            } else if let Some(dir) = &a.mirror_dir {
                let files = a
                    .files
                    .iter()
                    .map(|f| (f.path.clone(), m.locate(&format!("{dir}/{}", f.path))))
                    .collect();
                plans.push((label, Plan::Files(files)));
            }
        }
        if !a.archives.is_empty() && a.archives.iter().all(|ar| !ar.urls.is_empty()) {
            // Each archive is tried from its first URL; the later URLs are listed as fallbacks.
            let n = a.archives.iter().map(|ar| ar.urls.len()).max().unwrap_or(0);
            for i in 0..n {
                let picks: Vec<_> = a
                    .archives
                    .iter()
                    .map(|ar| (ar.clone(), Location::from_url(&ar.urls[i.min(ar.urls.len() - 1)])))
                    .collect();
                let label = picks.iter().map(|(_, l)| l.to_string()).collect::<Vec<_>>().join(", ");
                plans.push((label, Plan::Archives(picks)));
            }
        } else if a.archives.is_empty() && !a.files.is_empty() && a.files.iter().all(|f| !f.urls.is_empty()) {
            let files = a
                .files
                .iter()
                .map(|f| (f.path.clone(), Location::from_url(&f.urls[0])))
                .collect();
            plans.push(("canonical URLs".into(), Plan::Files(files)));
        }
        plans
    }

    fn execute(&self, a: &Artifact, plan: &Plan, staging: &Path) -> Result<(), FetchError> {
        match plan {
            Plan::Files(files) => {
                for (rel, loc) in files {
                    let target = staging.join(rel);
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent).map_err(FetchError::io(parent))?;
                    }
                    let entry = a
                        .files
                        .iter()
                        .find(|f| &f.path == rel)
                        .expect("plan built from the files");
                    match loc {
                        Location::File(_) => {
                            fetch(loc, &target, self.progress)?;
                            check_file(&target, entry)?;
                        }
                        Location::Url(_) => {
                            let part = self.part_path(a, rel);
                            fetch(loc, &part, self.progress)?;
                            if let Err(e) = check_file(&part, entry) {
                                // A complete but wrong download: restart from zero next time.
                                let _ = std::fs::remove_file(&part);
                                return Err(e);
                            }
                            std::fs::rename(&part, &target).map_err(FetchError::io(&target))?;
                        }
                    }
                }
            }
            Plan::Archives(archives) => {
                for (ar, loc) in archives {
                    let into = match &ar.into {
                        Some(sub) => staging.join(sub),
                        None => staging.to_path_buf(),
                    };
                    std::fs::create_dir_all(&into).map_err(FetchError::io(&into))?;
                    match loc {
                        Location::File(path) => {
                            if !path.is_file() {
                                return Err(FetchError::Check {
                                    path: path.clone(),
                                    msg: "missing".into(),
                                });
                            }
                            extract_tar_gz(path, &into, ar.select.as_deref())?;
                        }
                        Location::Url(url) => {
                            let name = ar
                                .path
                                .clone()
                                .unwrap_or_else(|| url.rsplit('/').next().unwrap_or("archive").into());
                            let part = self.part_path(a, &name);
                            fetch(loc, &part, self.progress)?;
                            let result = extract_tar_gz(&part, &into, ar.select.as_deref());
                            // Extracted or broken, the complete download is not needed again.
                            let _ = std::fs::remove_file(&part);
                            result?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Where an HTTP download accumulates (kept across runs so that a broken transfer resumes).
    fn part_path(&self, a: &Artifact, rel: &str) -> PathBuf {
        let dir = self.data_dir.join(".downloads").join(&a.name);
        let _ = std::fs::create_dir_all(&dir);
        dir.join(format!("{}.part", rel.replace('/', "_")))
    }
}
