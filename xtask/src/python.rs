//! The `.venv`'s Python and the few packages shift's tools use beside torch: torchvision (the ResNet-50 parity
//! reference), safetensors (weight conversion), numpy (the PyTorch benchmark peer). Installed on first need.

use crate::{cmd, setup};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Pins that match torch 2.11.0.
const PACKAGES: [(&str, &str); 3] = [
    ("torchvision", "torchvision==0.26.0"),
    ("safetensors", "safetensors==0.8.0"),
    ("numpy", "numpy==2.4.6"),
];

/// The `.venv` Python with torch and the packages above importable; installs what is missing.
pub fn ensure() -> Result<PathBuf> {
    setup::run()?;
    let python = cmd::root().join(".venv/bin/python");
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(module, _)| {
            !Command::new(&python)
                .args(["-c", &format!("import {module}")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|(_, pin)| *pin)
        .collect();
    if !missing.is_empty() {
        eprintln!("xtask: setup: installing {} into .venv", missing.join(" "));
        cmd::run(
            Command::new(&python)
                .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                .args(&missing),
        )
        .with_context(|| format!("pip could not install {} (is PyPI reachable?)", missing.join(" ")))?;
    }
    Ok(python)
}

/// `python xtask/python/<script> args...`.
pub fn script(python: &PathBuf, script: &str) -> Command {
    let mut c = Command::new(python);
    c.arg(cmd::root().join("xtask/python").join(script));
    c
}
