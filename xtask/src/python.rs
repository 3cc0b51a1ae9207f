//! The `.venv`'s Python and the few packages shift's tools use beside torch: torchvision (the ResNet-50 parity
//! reference), safetensors (weight conversion), numpy (the PyTorch benchmark peer). Installed on first need.

use crate::{cmd, setup};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Pins that match torch 2.11.0, with the dependencies of each (torchvision needs numpy, pillow and torch), so
/// that pip installs them with `--no-deps`: left to resolve, it would also install torch's own dependency set
/// again, triton among them (640 MB that libtorch never loads, which setup leaves out).
const PACKAGES: [(&str, &str); 4] = [
    ("PIL", "pillow==13.0.0"),
    ("numpy", "numpy==2.4.6"),
    ("safetensors", "safetensors==0.8.0"),
    ("torchvision", "torchvision==0.26.0"),
];

/// The `.venv` Python with torch and the packages above importable; installs what is missing.
pub fn ensure() -> Result<PathBuf> {
    setup::run()?;
    let python = cmd::root().join(".venv/bin/python");
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(module, _)| import_error(&python, module).is_some())
        .map(|(_, pin)| *pin)
        .collect();
    if !missing.is_empty() {
        eprintln!("xtask: setup: installing {} into .venv", missing.join(" "));
        cmd::run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "--no-cache-dir",
                    "--no-deps",
                ])
                .args(&missing),
        )
        .with_context(|| format!("pip could not install {} (is PyPI reachable?)", missing.join(" ")))?;
        // An install that pip calls done but Python cannot import is said now, with Python's reason, not found
        // again by the next caller.
        for (module, pin) in PACKAGES.iter().filter(|(_, pin)| missing.contains(pin)) {
            if let Some(reason) = import_error(&python, module) {
                bail!("pip installed {pin} into .venv, but `import {module}` fails: {reason}");
            }
        }
    }
    Ok(python)
}

/// Why `python -c "import MODULE"` fails (the last line Python printed), or `None` when it imports.
fn import_error(python: &Path, module: &str) -> Option<String> {
    match Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .map_or_else(|| format!("exit {}", out.status), |l| l.trim().to_string()),
        ),
        Err(e) => Some(format!("cannot start {}: {e}", python.display())),
    }
}

/// `python xtask/python/<script> args...`.
pub fn script(python: &PathBuf, script: &str) -> Command {
    let mut c = Command::new(python);
    c.arg(cmd::root().join("xtask/python").join(script));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_that_fails_says_python_s_reason() {
        let python = Path::new("python3");
        assert_eq!(import_error(python, "sys"), None);
        let reason = import_error(python, "shift_no_such_module").expect("the import fails");
        assert!(
            reason.starts_with("ModuleNotFoundError") && reason.contains("shift_no_such_module"),
            "{reason}"
        );
        let missing = import_error(Path::new("/nonexistent/python"), "sys").expect("no such program");
        assert!(missing.starts_with("cannot start /nonexistent/python"), "{missing}");
    }

    #[test]
    fn every_pin_names_one_exact_version() {
        for (module, pin) in PACKAGES {
            let (name, version) = pin.split_once("==").unwrap_or_else(|| panic!("{pin} has no =="));
            assert!(!name.is_empty() && !module.is_empty() && version.split('.').all(|p| p.parse::<u32>().is_ok()));
        }
    }
}
