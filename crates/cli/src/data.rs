//! `shift data`: data-set work that needs the data crate (`rebuild-mnist-m`), called by `cargo xtask download`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use shift_data::{bsds500, Mnist, MnistM};
use shift_fetch::{FetchError, Installer, Manifest};
use std::path::{Path, PathBuf};

/// The manifest shift was built with (the same file `cargo xtask download` reads).
pub const MANIFEST: &str = include_str!("../../../datasets/manifest.toml");

pub fn manifest() -> Result<Manifest> {
    Ok(Manifest::parse(MANIFEST, Path::new("datasets/manifest.toml"))?)
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Rebuild MNIST-M from MNIST + BSDS500 (the released layout), verified and marked: into <data>/mnist_m where
    /// no released copy is reachable, or into <data>/mnist_m_rebuilt (`--into mnist-m-rebuilt`), the train split
    /// of `experiment dann --mnist-m rebuilt`.
    RebuildMnistM(RebuildArgs),
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Data folder holding mnist/ and bsds500/ (installed by `cargo xtask download`).
    #[arg(long, default_value = "datasets")]
    data: PathBuf,
    /// Seed of the background crops.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The data manifest's artifact to install it as: mnist-m or mnist-m-rebuilt.
    #[arg(long, default_value = "mnist-m")]
    into: String,
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::RebuildMnistM(args) => rebuild_mnist_m(&args.data, args.seed, &args.into),
    }
}

pub fn rebuild_mnist_m(data: &Path, seed: u64, into: &str) -> Result<()> {
    let manifest = manifest()?;
    let artifact = manifest.get(into).with_context(|| format!("--into {into}"))?;
    if artifact.rebuild.as_deref() != Some("mnist-m") {
        anyhow::bail!(
            "--into {into}: the manifest has no MNIST-M rebuild recipe for it (use mnist-m or mnist-m-rebuilt)"
        );
    }
    let start = std::time::Instant::now();
    let mnist = Mnist::load(&data.join("mnist"))?;
    let photos = bsds500::load_train_photos(&data.join("bsds500"))?;
    let rebuilt = MnistM::rebuild(&mnist, &photos, seed)?;
    let installer = Installer::new(data, None);
    installer
        .install_with(
            artifact,
            &format!("rebuilt from MNIST + BSDS500, seed {seed}"),
            |staging| {
                rebuilt.write(staging).map_err(|e| FetchError::Check {
                    path: staging.to_path_buf(),
                    msg: e.to_string(),
                })
            },
        )
        .context("writing the rebuilt MNIST-M")?;
    eprintln!(
        "shift: rebuilt MNIST-M ({} train / {} test) in {} in {:.1}s",
        rebuilt.train.len(),
        rebuilt.test.len(),
        installer.folder(artifact).display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
