//! `cargo xtask bench data`: sets up libtorch and the data, builds shift in release mode, runs `shift bench`.

use crate::download::{self, DataPlace};
use crate::{cmd, setup};
use anyhow::Result;
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Which {
    /// Cold data load, MNIST-M rebuild, image pipeline throughput.
    Data,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    which: Which,
    #[command(flatten)]
    place: DataPlace,
    /// Also write the table as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let manifest = download::manifest()?;
    for name in ["mnist", "bsds500", "mnist-m"] {
        download::ensure(&manifest, name, &args.place, false)?;
    }
    let mut shift = cmd::shift_release(&setup::run()?);
    match args.which {
        Which::Data => shift.args(["bench", "data", "--data"]).arg(args.place.data_dir()),
    };
    if let Some(json) = &args.json {
        shift.arg("--json").arg(json);
    }
    cmd::run(&mut shift)
}
