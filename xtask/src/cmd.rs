//! Running child processes from the repository root, with the command shown and failures named.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The workspace root (the folder above xtask/).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// A `cargo` command in the workspace root, using the same cargo that runs xtask.
pub fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root()).args(args);
    c
}

/// `cargo run --release -p shift-cli --` against `libtorch`: the shift binary, built when needed.
pub fn shift_release(libtorch: &std::path::Path) -> Command {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    if !target.join("release/shift").exists() {
        // The build below is quiet; say once why nothing seems to happen.
        eprintln!(
            "xtask: building shift in release mode for the first time: libtorch's Rust bindings, shift's C++ \
             extension and about 200 crates compile once (about 5 minutes on 2 cores); later runs start at once"
        );
    }
    let mut c = cargo(["run", "--release", "--quiet", "-p", "shift-cli", "--"]);
    c.env("LIBTORCH", libtorch);
    c
}

/// Runs `cmd` with inherited output; an error names the command and its exit status.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = show(cmd);
    eprintln!("xtask: $ {shown}");
    let status = cmd.status().with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

pub fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
