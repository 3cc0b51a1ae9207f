//! `cargo xtask setup`: libtorch 2.11.0 from PyPI's `torch` wheel into `.venv`, linked as `.libtorch`.
//!
//! A user's own `LIBTORCH` wins. Otherwise the check is cheap (a few file reads), so every command that needs
//! libtorch calls [`run`] first; only a missing or wrong install runs pip.

use crate::cmd;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The torch wheel whose libtorch matches `tch = "=0.24.0"`.
pub const TORCH_VERSION: &str = "2.11.0";
/// CUDA headers (`crt/`) for the native extension's CUDA parts; the wheel set matches torch's cu130 build.
const CUDA_HEADERS: &str = "cuda-toolkit[crt]==13.0.2";

/// Makes sure libtorch is available; returns its folder (the one holding `lib/` and `include/`).
pub fn run() -> Result<PathBuf> {
    let root = cmd::root();
    let ours = root.join(".libtorch");
    if let Some(user) = std::env::var_os("LIBTORCH").map(PathBuf::from) {
        if !same_path(&user, &ours) {
            check_libtorch(&user).with_context(|| format!("LIBTORCH={} (set by you)", user.display()))?;
            eprintln!("xtask: setup: using LIBTORCH={}", user.display());
            return Ok(user);
        }
    }
    let venv = root.join(".venv");
    if let Some(torch) = installed_torch(&venv) {
        if check_libtorch(&torch).is_ok() && has_cuda_headers(&torch) {
            link(&torch, &ours)?;
            return Ok(ours);
        }
    }
    let python = find_python()?;
    if !venv.join("bin/python").exists() {
        eprintln!("xtask: setup: creating a Python environment in {}", venv.display());
        cmd::run(Command::new(&python).args(["-m", "venv"]).arg(&venv))
            .context("creating the virtual environment failed (Debian: apt-get install python3-venv)")?;
    }
    eprintln!(
        "xtask: setup: installing libtorch {TORCH_VERSION} from PyPI (torch=={TORCH_VERSION}, about 4.6 GB, once)"
    );
    let pip = venv.join("bin/pip");
    cmd::run(
        Command::new(&pip)
            .args(["install", "--disable-pip-version-check", "--progress-bar", "off"])
            .arg(format!("torch=={TORCH_VERSION}"))
            .arg(CUDA_HEADERS),
    )
    .with_context(|| format!("pip could not install torch=={TORCH_VERSION} (is PyPI reachable?)"))?;
    let torch = installed_torch(&venv).context("pip finished but no torch package is in .venv")?;
    check_libtorch(&torch)?;
    link(&torch, &ours)?;
    eprintln!(
        "xtask: setup: libtorch ready at {} -> {}",
        ours.display(),
        torch.display()
    );
    Ok(ours)
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn find_python() -> Result<PathBuf> {
    for name in ["python3", "python"] {
        if let Ok(out) = Command::new(name)
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
        {
            if out.status.success() {
                let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let pip = Command::new(&path).args(["-m", "pip", "--version"]).output();
                if !matches!(pip, Ok(ref o) if o.status.success()) {
                    bail!("{path} has no pip (Debian: apt-get install python3-pip python3-venv)");
                }
                return Ok(PathBuf::from(path));
            }
        }
    }
    bail!("python3 was not found on PATH; install Python 3.10 or newer (with pip and venv) or set LIBTORCH")
}

/// `.venv/lib/python3.X/site-packages/torch` when it holds torch == TORCH_VERSION.
fn installed_torch(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    for entry in lib.flatten() {
        let torch = entry.path().join("site-packages/torch");
        let version = std::fs::read_to_string(torch.join("version.py")).unwrap_or_default();
        if version.contains(&format!("__version__ = '{TORCH_VERSION}")) {
            return Some(torch);
        }
    }
    None
}

fn check_libtorch(dir: &Path) -> Result<()> {
    const HEADER: &str = "include/torch/headeronly/version.h";
    for needed in ["lib/libtorch_cpu.so", "lib/libc10.so", HEADER] {
        if !dir.join(needed).exists() {
            bail!(
                "{} is not a libtorch {TORCH_VERSION} folder: {needed} is missing",
                dir.display()
            );
        }
    }
    let header = std::fs::read_to_string(dir.join(HEADER))?;
    let part = |name: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define TORCH_VERSION_{name} ")))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let found = format!("{}.{}.{}", part("MAJOR"), part("MINOR"), part("PATCH"));
    if found != TORCH_VERSION {
        bail!(
            "{}: libtorch is version {found}, but tch 0.24.0 needs {TORCH_VERSION}",
            dir.display()
        );
    }
    Ok(())
}

/// The CUDA headers are needed only where libtorch itself has CUDA.
fn has_cuda_headers(torch: &Path) -> bool {
    if !torch.join("lib/libtorch_cuda.so").exists() {
        return true;
    }
    let Some(site) = torch.parent() else { return false };
    std::fs::read_dir(site.join("nvidia"))
        .map(|d| {
            d.flatten()
                .any(|e| e.path().join("include/crt/host_defines.h").exists())
        })
        .unwrap_or(false)
}

/// Points `.libtorch` at the torch folder with a relative link (the repository can move).
fn link(torch: &Path, link: &Path) -> Result<()> {
    let root = link.parent().expect("link in the root");
    let target = torch.strip_prefix(root).unwrap_or(torch);
    if std::fs::read_link(link).map(|t| t == target).unwrap_or(false) {
        return Ok(());
    }
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(link).with_context(|| format!("cannot replace {}", link.display()))?;
    }
    std::os::unix::fs::symlink(target, link).with_context(|| format!("cannot link {}", link.display()))
}
