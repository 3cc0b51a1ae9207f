//! `cargo xtask experiment dann|finetune [FLAGS]`: sets up libtorch, downloads the data the task needs (from
//! `--mirror` or `SHIFT_MIRROR` when given), builds shift in release mode and runs `shift experiment ...`.
//! Every flag except `--mirror` is passed on to shift (`--data` too, after the download has used it).

use crate::download::{self, DataPlace};
use crate::{cmd, setup};
use anyhow::{bail, Result};
use std::path::PathBuf;

pub fn run(args: Vec<String>) -> Result<()> {
    let Some((which, rest)) = args.split_first() else {
        bail!("usage: cargo xtask experiment dann [FLAGS]  (see `cargo xtask experiment dann --help`)");
    };
    if which != "dann" && which != "finetune" {
        bail!("unknown experiment `{which}` (known: dann, finetune)");
    }
    let (place, passthrough) = split_data_flags(rest)?;
    if passthrough.iter().any(|a| a == "--help" || a == "-h") {
        return cmd::run(cmd::shift_release(&setup::run()?).args(["experiment", which, "--help"]));
    }
    let libtorch = setup::run()?;
    let office = passthrough.iter().any(|a| a.contains("office31"));
    let needed: &[&str] = if office { &["office31"] } else { &download::DIGITS };
    download::ensure_each(needed, &place)?;
    cmd::run(cmd::shift_release(&libtorch).args(shift_args(which, &place.data_dir(), &passthrough)))
}

/// The arguments of `shift`: the named experiment, on the data folder the download filled, with the rest of
/// the flags.
fn shift_args(which: &str, data: &std::path::Path, passthrough: &[String]) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["experiment".into(), which.into(), "--data".into(), data.into()];
    args.extend(passthrough.iter().map(Into::into));
    args
}

/// Takes `--mirror X`, `--data X` (and their `=` forms) out of the flags.
fn split_data_flags(args: &[String]) -> Result<(DataPlace, Vec<String>)> {
    let mut place = DataPlace {
        mirror: None,
        data: None,
    };
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f == "--mirror" || f == "--data" => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        match flag {
            "--mirror" | "--data" => {
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| anyhow::anyhow!("`{flag}` needs a value"))?,
                };
                if flag == "--mirror" {
                    place.mirror = Some(value);
                } else {
                    place.data = Some(PathBuf::from(value));
                }
            }
            _ => rest.push(a.clone()),
        }
    }
    Ok((place, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_experiment_runs_under_its_own_name_with_the_data_flags_taken_out() {
        let (place, rest) =
            split_data_flags(&strings(&["--quick", "--mirror", "../m", "--data=/d", "--seeds", "0"])).unwrap();
        assert_eq!(
            (place.mirror.as_deref(), place.data.as_deref()),
            (Some("../m"), Some(std::path::Path::new("/d")))
        );
        for which in ["dann", "finetune"] {
            let args = shift_args(which, std::path::Path::new("/d"), &rest);
            let args: Vec<_> = args.iter().map(|a| a.to_str().unwrap()).collect();
            assert_eq!(args, ["experiment", which, "--data", "/d", "--quick", "--seeds", "0"]);
        }
        let e = split_data_flags(&strings(&["--mirror"])).unwrap_err().to_string();
        assert_eq!(e, "`--mirror` needs a value");
    }
}
