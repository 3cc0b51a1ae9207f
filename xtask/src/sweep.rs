//! `cargo xtask sweep [launch|resubmit|status|collect] FILE.toml [FLAGS]`: sets up libtorch, downloads the data
//! of the file's tasks (from `--mirror` or `SHIFT_MIRROR` when given) before a launch, builds shift in release
//! mode and runs `shift sweep ...`. A bare FILE launches.

use crate::experiment::{data_for, split_data_flags};
use crate::{cmd, download, setup};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;

const SUBCOMMANDS: [&str; 4] = ["launch", "resubmit", "status", "collect"];

pub fn run(args: Vec<String>) -> Result<()> {
    let (sub, rest) = split_subcommand(&args)?;
    let (place, passthrough) = split_data_flags(rest)?;
    let Some(file) = passthrough.iter().find(|a| !a.starts_with('-')) else {
        bail!("usage: cargo xtask sweep [launch|resubmit|status|collect] FILE.toml [FLAGS]");
    };
    let libtorch = setup::run()?;
    let mut shift_args: Vec<OsString> = vec!["sweep".into(), sub.into()];
    if sub == "launch" || sub == "resubmit" {
        for task in tasks_of(file)? {
            download::ensure_each(data_for(&task), &place)?;
        }
        shift_args.extend(["--data".into(), place.data_dir().into()]);
    }
    shift_args.extend(passthrough.iter().map(Into::into));
    cmd::run(cmd::shift_release(&libtorch).args(shift_args))
}

/// The subcommand and the rest: `launch` where the first argument is the file.
fn split_subcommand(args: &[String]) -> Result<(&str, &[String])> {
    match args.split_first() {
        Some((first, rest)) if SUBCOMMANDS.contains(&first.as_str()) => Ok((first.as_str(), rest)),
        Some((first, _)) if first.ends_with(".toml") => Ok(("launch", args)),
        Some((first, _)) => bail!(
            "unknown sweep command `{first}` (known: {}, or a FILE.toml to launch)",
            SUBCOMMANDS.join(", ")
        ),
        None => bail!("usage: cargo xtask sweep [launch|resubmit|status|collect] FILE.toml [FLAGS]"),
    }
}

/// The `tasks` of a sweep file (shift checks the rest).
fn tasks_of(file: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read sweep file {file}"))?;
    let doc: toml::Table = toml::from_str(&text).with_context(|| format!("sweep file {file}"))?;
    let tasks = doc.get("tasks").and_then(|t| t.as_array()).map(|a| {
        a.iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect::<Vec<_>>()
    });
    match tasks {
        Some(t) if !t.is_empty() => Ok(t),
        _ => bail!("sweep file {file}: `tasks` is missing: give a list such as [\"mnist:mnist-m\"]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_bare_file_launches_and_other_words_are_refused() {
        let a = strings(&["grid.toml", "--jobs", "2"]);
        assert_eq!(split_subcommand(&a).unwrap(), ("launch", &a[..]));
        let b = strings(&["status", "grid.toml"]);
        assert_eq!(split_subcommand(&b).unwrap(), ("status", &b[1..]));
        let err = split_subcommand(&strings(&["lunch", "grid.toml"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown sweep command `lunch`"), "{err}");
        assert!(split_subcommand(&[]).is_err());
    }

    #[test]
    fn the_tasks_are_read_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("g.toml");
        std::fs::write(&f, "tasks = [\"mnist:mnist-m\", \"office31:A-W\"]\n").unwrap();
        assert_eq!(
            tasks_of(f.to_str().unwrap()).unwrap(),
            ["mnist:mnist-m", "office31:A-W"]
        );
        std::fs::write(&f, "methods = [\"dann\"]\n").unwrap();
        let err = tasks_of(f.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("`tasks` is missing"), "{err}");
    }
}
