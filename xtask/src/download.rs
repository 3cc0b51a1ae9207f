//! `cargo xtask download [NAME|all] [--mirror DIR|URL] [--data DIR] [--force]`: verified data downloads.
//!
//! Reads `datasets/manifest.toml`; the mirror also comes from `SHIFT_MIRROR`, the data folder from `SHIFT_DATA`.
//! When no source has MNIST-M it is rebuilt from MNIST + BSDS500 by `shift data rebuild-mnist-m`.

use crate::{cmd, convert_weights, setup};
use anyhow::{bail, Context, Result};
use clap::Args;
use shift_fetch::{Installer, Manifest, Mirror, Outcome};
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct DownloadArgs {
    /// mnist, mnist-m, mnist-m-rebuilt (MNIST-M's train split made here from MNIST + BSDS500, for `--mnist-m
    /// rebuilt`), bsds500, office31, resnet50-imagenet (torchvision's ImageNet weights, converted to
    /// safetensors), amazon-reviews (the DANN paper's text benchmark), fsdd (the Free Spoken Digit
    /// Dataset's recordings), or all (the data sets the digit
    /// experiments need).
    #[arg(default_value = "all")]
    pub name: String,
    #[command(flatten)]
    pub place: DataPlace,
    /// Download and verify again even when a complete copy is present.
    #[arg(long)]
    pub force: bool,
}

/// Where data comes from and goes to (shared by `download` and `experiment`).
#[derive(Debug, Clone, Args)]
pub struct DataPlace {
    /// A mirror laid out like ../shared/datasets: a folder or an http(s) base URL [env: SHIFT_MIRROR]
    #[arg(long)]
    pub mirror: Option<String>,
    /// Data folder [env: SHIFT_DATA; default: datasets/]
    #[arg(long)]
    pub data: Option<PathBuf>,
}

impl DataPlace {
    pub fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .or_else(|| std::env::var_os("SHIFT_DATA").map(PathBuf::from))
            .unwrap_or_else(|| cmd::root().join("datasets"))
    }

    pub fn mirror(&self) -> Result<Option<Mirror>> {
        let spec = self
            .mirror
            .clone()
            .or_else(|| std::env::var("SHIFT_MIRROR").ok().filter(|s| !s.is_empty()));
        spec.map(|s| Mirror::parse(&s).with_context(|| format!("--mirror {s}")))
            .transpose()
    }
}

/// What the digit experiments need, in install order (MNIST-M may be rebuilt from the other two).
pub const DIGITS: [&str; 3] = ["mnist", "bsds500", "mnist-m"];

/// Installs, or verifies, each named artifact in `place`.
pub fn ensure_each(names: &[&str], place: &DataPlace) -> Result<()> {
    let manifest = manifest()?;
    for name in names {
        ensure(&manifest, name, place, false)?;
    }
    Ok(())
}

pub fn manifest() -> Result<Manifest> {
    Ok(Manifest::load(&cmd::root().join("datasets/manifest.toml"))?)
}

pub fn run(args: DownloadArgs) -> Result<()> {
    let manifest = manifest()?;
    let names: Vec<String> = if args.name == "all" {
        // Office-31 has no reachable canonical source from most machines; `all` takes it only from a mirror.
        DIGITS.map(String::from).to_vec()
    } else {
        manifest.get(&args.name)?;
        vec![args.name.clone()]
    };
    for name in &names {
        ensure(&manifest, name, &args.place, args.force)?;
    }
    Ok(())
}

/// Installs one artifact (and, for a rebuild, what it is built from); prints what happened.
pub fn ensure(manifest: &Manifest, name: &str, place: &DataPlace, force: bool) -> Result<()> {
    let artifact = manifest.get(name)?;
    let mut installer = Installer::new(place.data_dir(), place.mirror()?);
    installer.force = force;
    installer.progress = true;
    let folder = installer.folder(artifact);
    eprintln!("xtask: download: {name}: {}", artifact.about);
    if let Some(licence) = &artifact.licence {
        eprintln!("xtask: download: {name}: licence: {licence}");
    }
    let outcome = installer.install(artifact)?;
    match &outcome {
        Outcome::Present => eprintln!("xtask: download: {name}: present and verified in {}", folder.display()),
        Outcome::Installed { from } => {
            eprintln!("xtask: download: {name}: installed in {} from {from}", folder.display())
        }
        Outcome::NeedsRebuild { tried } => {
            let Some(recipe) = &artifact.rebuild else {
                unreachable!("NeedsRebuild only for rebuildable artifacts")
            };
            if recipe != "mnist-m" {
                bail!("{name}: unknown rebuild recipe `{recipe}` in the manifest");
            }
            eprintln!("xtask: download: {name}: not downloaded:\n  {tried}");
            eprintln!(
                "xtask: download: {name}: rebuilding MNIST-M from MNIST + BSDS500 (Ganin et al.'s recipe, seed 0)"
            );
            ensure(manifest, "mnist", place, false)?;
            ensure(manifest, "bsds500", place, false)?;
            let libtorch = setup::run()?;
            let data = place.data_dir();
            cmd::run(
                cmd::cargo([
                    "run",
                    "--release",
                    "--quiet",
                    "-p",
                    "shift-cli",
                    "--",
                    "data",
                    "rebuild-mnist-m",
                    "--into",
                    name,
                    "--data",
                ])
                .arg(&data)
                .env("LIBTORCH", libtorch),
            )?;
        }
    }
    if let Some(convert) = &artifact.convert {
        let to = folder.join(&convert.to);
        if !to.is_file() || matches!(outcome, Outcome::Installed { .. }) {
            convert_weights::convert(&folder.join(&convert.from), &to)?;
        }
        eprintln!("xtask: download: {name}: ready: {}", to.display());
    }
    Ok(())
}
