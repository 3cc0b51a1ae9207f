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
    // Doctests are built in a temporary folder, out of reach of the rpath that test binaries use.
    let lib = libtorch.join("lib");
    let ld_path = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(old) if !old.is_empty() => std::env::join_paths(std::iter::once(lib).chain(std::env::split_paths(&old)))?,
        _ => lib.into_os_string(),
    };
    cmd::run(
        cmd::cargo(["test", "--workspace"])
            .env("LIBTORCH", &libtorch)
            .env("LD_LIBRARY_PATH", ld_path)
            .env("SHIFT_PYTHON", &python),
    )?;
    eprintln!("xtask: test: all checks passed");
    Ok(())
}
