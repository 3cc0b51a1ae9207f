//! `cargo xtask test`: what CI runs. libtorch first, then format, lints, and the whole workspace's tests.

use crate::{cmd, python, setup};
use anyhow::{anyhow, Context, Result};
use std::path::PathBuf;

/// The lints, as CI runs them (the prebuild below repeats it with `--keep-going`).
const CLIPPY: [&str; 3] = ["clippy", "--workspace", "--all-targets"];
const CLIPPY_FLAGS: [&str; 3] = ["--", "-D", "warnings"];

pub fn run() -> Result<()> {
    cmd::run(&mut cmd::cargo(["fmt", "--all", "--check"]))?;
    let libtorch = match setup::existing()? {
        Some(found) => found,
        None => {
            install_while_compiling()?;
            setup::run()?
        }
    };
    // The ResNet-50 parity test compares against torchvision; the converter test needs safetensors.
    let python = python::ensure()?;
    cmd::run(cmd::cargo(CLIPPY).args(CLIPPY_FLAGS).env("LIBTORCH", &libtorch))?;
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

/// On a fresh clone pip downloads libtorch's 4.1 GB of wheels for minutes while the CPUs mostly wait, so the
/// crates compile meanwhile, for the lints and for the tests: the lint command and `cargo build --profile test
/// --workspace --tests` (the units `cargo test --workspace` builds: measured, a `cargo test --no-run` after it
/// compiled nothing), both with `--keep-going`. While `.libtorch` (the link that the install makes last, once
/// every file is in place) is missing, torch-sys's build script fails, as expected, and what is above it waits
/// for the real commands; everything else is built once and reused by them. The output goes to a log; the
/// real builds that follow show any error that matters.
fn install_while_compiling() -> Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| cmd::root().join("target"), PathBuf::from);
    std::fs::create_dir_all(&target).with_context(|| format!("cannot create {}", target.display()))?;
    let log_path = target.join("xtask-prebuild.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("cannot write {}", log_path.display()))?;
    eprintln!(
        "xtask: test: libtorch is not installed yet; while pip installs it, the crates that do not need it \
         compile (log: {}; torch-sys failing there is expected)",
        log_path.display()
    );
    let install = std::thread::spawn(python::ensure);
    let lints = {
        let mut c = cmd::cargo(CLIPPY);
        c.arg("--keep-going").args(CLIPPY_FLAGS);
        c
    };
    let tests = cmd::cargo(["build", "--profile", "test", "--workspace", "--tests", "--keep-going"]);
    for mut c in [lints, tests] {
        let shown = cmd::show(&c);
        c.stdout(log.try_clone()?).stderr(log.try_clone()?);
        // A failure here is expected (torch-sys); only a command that cannot start is an error.
        let status = c.status().with_context(|| format!("cannot start `{shown}`"))?;
        eprintln!("xtask: test: prebuild `{shown}` ended ({status})");
    }
    install
        .join()
        .map_err(|_| anyhow!("the libtorch install panicked"))?
        .context("installing libtorch and the Python packages")?;
    Ok(())
}
