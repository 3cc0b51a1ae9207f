//! `cargo xtask convert-weights IN.pth OUT.safetensors`: a PyTorch state_dict (as torchvision publishes its
//! ImageNet weights) to the safetensors file `--pretrained` reads, with the `.venv`'s torch.

use crate::{cmd, python};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Args)]
pub struct ConvertArgs {
    /// A torch.save'd state_dict (e.g. ~/.cache/torch/hub/checkpoints/resnet50-0676ba61.pth).
    pub input: PathBuf,
    /// Where to write the safetensors file.
    pub output: PathBuf,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    if !args.input.is_file() {
        bail!("{}: no such file", args.input.display());
    }
    if args.output.extension().is_none_or(|e| e != "safetensors") {
        bail!("{}: the output name must end in .safetensors", args.output.display());
    }
    convert(&args.input, &args.output)
}

/// Converts `from` to `to` (written atomically by the script).
pub fn convert(from: &Path, to: &Path) -> Result<()> {
    let python = python::ensure()?;
    cmd::run(
        python::script(&python, "state_dict_to_safetensors.py")
            .arg(from)
            .arg(to),
    )
    .with_context(|| format!("converting {} to {}", from.display(), to.display()))
}
