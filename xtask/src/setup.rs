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
    if let Some(found) = existing()? {
        return Ok(found);
    }
    let root = cmd::root();
    let (venv, ours) = (root.join(".venv"), root.join(".libtorch"));
    let python = find_python()?;
    if !venv.join("bin/python").exists() {
        eprintln!("xtask: setup: creating a Python environment in {}", venv.display());
        cmd::run(Command::new(&python).args(["-m", "venv"]).arg(&venv))
            .context("creating the virtual environment failed (Debian: apt-get install python3-venv)")?;
    }
    install_torch(&venv.join("bin/pip"), &root)?;
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

/// The libtorch that [`run`] would use without installing anything: the user's `LIBTORCH` (an error if it is not
/// libtorch {TORCH_VERSION}), or `.venv`'s torch, linked as `.libtorch`; None where pip has to run.
pub fn existing() -> Result<Option<PathBuf>> {
    let root = cmd::root();
    let ours = root.join(".libtorch");
    if let Some(user) = std::env::var_os("LIBTORCH").map(PathBuf::from) {
        if !same_path(&user, &ours) {
            check_libtorch(&user).with_context(|| format!("LIBTORCH={} (set by you)", user.display()))?;
            eprintln!("xtask: setup: using LIBTORCH={}", user.display());
            return Ok(Some(user));
        }
    }
    if let Some(torch) = installed_torch(&root.join(".venv")) {
        if check_libtorch(&torch).is_ok() && has_cuda_headers(&torch) {
            link(&torch, &ours)?;
            return Ok(Some(ours));
        }
    }
    Ok(None)
}

/// Packages of the torch wheel's dependency set that libtorch never loads: triton is torch.compile's kernel
/// compiler, a Python package (640 MB unpacked).
const NOT_NEEDED: &[&str] = &["triton"];
/// What the install takes on disk with [`NOT_NEEDED`] left out (measured: 4.1 GB), plus the largest wheel
/// while it unpacks; checked before pip starts so that a full disk is named as such.
const NEEDED_BYTES: u64 = 4_600_000_000;

/// Installs torch and its dependencies one package at a time, without pip's cache: the disk holds what is
/// installed plus one wheel, not every wheel twice (once cached, once unpacked; the 4.6 GB set then needs
/// about 10 GB, which filled a CI machine's disk). torch goes last, so a torch folder is only there once
/// every library it loads is.
fn install_torch(pip: &Path, root: &Path) -> Result<()> {
    let free = free_bytes(root)?;
    if free < NEEDED_BYTES {
        bail!(
            "installing libtorch {TORCH_VERSION} needs about {:.1} GB free under {}, but only {:.1} GB is \
             (df); free some space or point LIBTORCH at an existing libtorch {TORCH_VERSION}",
            NEEDED_BYTES as f64 / 1e9,
            root.display(),
            free as f64 / 1e9
        );
    }
    let report = root.join(".venv/torch-install-plan.json");
    cmd::run(
        Command::new(pip)
            .args([
                "install",
                "--disable-pip-version-check",
                "--no-cache-dir",
                "--quiet",
                "--dry-run",
            ])
            .arg("--report")
            .arg(&report)
            .arg(format!("torch=={TORCH_VERSION}"))
            .arg(CUDA_HEADERS),
    )
    .with_context(|| format!("pip could not resolve torch=={TORCH_VERSION} (is PyPI reachable?)"))?;
    let plan =
        install_plan(&std::fs::read_to_string(&report).with_context(|| format!("reading {}", report.display()))?)
            .with_context(|| format!("{}: not a pip installation report", report.display()))?;
    std::fs::remove_file(&report).ok();
    eprintln!(
        "xtask: setup: installing libtorch {TORCH_VERSION} from PyPI: {} packages (torch=={TORCH_VERSION} and what \
         it loads, about 4.1 GB, once; left out: {})",
        plan.len(),
        NOT_NEEDED.join(", ")
    );
    for package in &plan {
        cmd::run(
            Command::new(pip)
                .args([
                    "install",
                    "--disable-pip-version-check",
                    "--no-cache-dir",
                    "--progress-bar",
                    "off",
                ])
                .args(["--no-deps", "--quiet"])
                .arg(package),
        )
        .with_context(|| format!("pip could not install {package} (is PyPI reachable? is the disk full?)"))?;
    }
    Ok(())
}

/// `name==version` for each package a pip `--report` would install, torch last, [`NOT_NEEDED`] left out.
fn install_plan(report: &str) -> Result<Vec<String>> {
    let report: serde_json::Value = serde_json::from_str(report)?;
    let install = report["install"]
        .as_array()
        .context("the report has no \"install\" list")?;
    let mut plan = Vec::new();
    for item in install {
        let (Some(name), Some(version)) = (item["metadata"]["name"].as_str(), item["metadata"]["version"].as_str())
        else {
            bail!("an \"install\" entry has no metadata name and version: {item}");
        };
        if !NOT_NEEDED.contains(&name.to_ascii_lowercase().as_str()) {
            plan.push(format!("{name}=={version}"));
        }
    }
    let torch = format!("torch=={TORCH_VERSION}");
    plan.retain(|p| p != &torch);
    plan.push(torch);
    Ok(plan)
}

/// Bytes free on the file system holding `dir`, from POSIX `df -Pk`.
fn free_bytes(dir: &Path) -> Result<u64> {
    let out = Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .output()
        .context("running df to check free disk space")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kib = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok())
        .with_context(|| format!("df -Pk {} printed no free-space column: {text}", dir.display()))?;
    Ok(kib * 1024)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, version: &str) -> String {
        format!(r#"{{"metadata": {{"name": "{name}", "version": "{version}"}}, "download_info": {{}}}}"#)
    }

    #[test]
    fn the_plan_puts_torch_last_and_leaves_triton_out() {
        let report = format!(
            r#"{{"version": "1", "install": [{}, {}, {}, {}]}}"#,
            entry("torch", TORCH_VERSION),
            entry("nvidia-cublas", "13.1.0.3"),
            entry("triton", "3.6.0"),
            entry("Jinja2", "3.1.6"),
        );
        assert_eq!(
            install_plan(&report).unwrap(),
            [
                "nvidia-cublas==13.1.0.3".to_string(),
                "Jinja2==3.1.6".to_string(),
                format!("torch=={TORCH_VERSION}")
            ]
        );
    }

    #[test]
    fn a_report_without_names_or_an_install_list_is_refused() {
        let err = install_plan(r#"{"install": [{"metadata": {"version": "1"}}]}"#).unwrap_err();
        assert!(err.to_string().contains("no metadata name and version"), "{err}");
        let err = install_plan(r#"{"version": "1"}"#).unwrap_err();
        assert!(err.to_string().contains("no \"install\" list"), "{err}");
        assert!(install_plan("pip said no").is_err());
    }

    #[test]
    fn free_space_is_read_from_df() {
        let free = free_bytes(Path::new(".")).unwrap();
        assert!(free > 0);
        let err = free_bytes(Path::new("/no/such/folder")).unwrap_err();
        assert!(err.to_string().contains("/no/such/folder"), "{err}");
    }
}
