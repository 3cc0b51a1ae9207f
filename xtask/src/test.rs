//! `cargo xtask test`: what CI runs. libtorch first, then format, lints, and the whole workspace's tests.

use crate::{cmd, setup};
use anyhow::Result;

pub fn run() -> Result<()> {
    let libtorch = setup::run()?;
    cmd::run(&mut cmd::cargo(["fmt", "--all", "--check"]))?;
    cmd::run(
        cmd::cargo(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]).env("LIBTORCH", &libtorch),
    )?;
    cmd::run(cmd::cargo(["test", "--workspace"]).env("LIBTORCH", &libtorch))?;
    eprintln!("xtask: test: all checks passed");
    Ok(())
}
