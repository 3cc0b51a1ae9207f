//! `cargo xtask test`: what CI runs. libtorch first, then format, lints, and the whole workspace's tests.

use crate::{cmd, python, setup};
use anyhow::Result;

pub fn run() -> Result<()> {
    let libtorch = setup::run()?;
    // The ResNet-50 parity test compares against torchvision; the converter test needs safetensors.
    let python = python::ensure()?;
    cmd::run(&mut cmd::cargo(["fmt", "--all", "--check"]))?;
    cmd::run(
        cmd::cargo(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]).env("LIBTORCH", &libtorch),
    )?;
    cmd::run(
        cmd::cargo(["test", "--workspace"])
            .env("LIBTORCH", &libtorch)
            .env("SHIFT_PYTHON", &python),
    )?;
    eprintln!("xtask: test: all checks passed");
    Ok(())
}
