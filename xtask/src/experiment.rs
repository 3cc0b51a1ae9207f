//! `cargo xtask experiment dann|finetune|dg|zero-shot|multitask [FLAGS]`: sets up libtorch, downloads the data the task needs (from
//! `--mirror` or `SHIFT_MIRROR` when given), builds shift in release mode and runs `shift experiment ...`.
//! Every flag except `--mirror` is passed on to shift (`--data` too, after the download has used it). `dg` is
//! `dann` on a DomainBed task with `--algorithms` in DomainBed's names ([`DOMAINBED_NAMES`]).

use crate::download::{self, DataPlace};
use crate::{cmd, setup};
use anyhow::{bail, Result};
use std::path::PathBuf;

pub fn run(args: Vec<String>) -> Result<()> {
    let Some((which, rest)) = args.split_first() else {
        bail!("usage: cargo xtask experiment dann [FLAGS]  (see `cargo xtask experiment dann --help`)");
    };
    if !["dann", "finetune", "dg", "zero-shot", "multitask"].contains(&which.as_str()) {
        bail!("unknown experiment `{which}` (known: dann, finetune, dg, zero-shot, multitask)");
    }
    let (place, passthrough) = split_data_flags(rest)?;
    let (which, passthrough) = if which == "dg" {
        ("dann".to_string(), domain_generalisation(&passthrough)?)
    } else {
        (which.clone(), passthrough)
    };
    let which = &which;
    if passthrough.iter().any(|a| a == "--help" || a == "-h") {
        // The binary's own help, kept beside xtask (a shift-cli test checks it is the same): no libtorch to
        // install and nothing to build for it.
        print!("{}{WRAPPER_HELP}", help(which));
        return Ok(());
    }
    // The multitask experiment's one task is built from MNIST.
    let data = if which == "multitask" {
        vec!["mnist"]
    } else {
        data_needed(&passthrough)?
    };
    let libtorch = setup::run()?;
    download::ensure_each(&data, &place)?;
    cmd::run(cmd::shift_release(&libtorch).args(shift_args(which, &place.data_dir(), &passthrough)))
}

/// What the runs of these flags read: the task's data sets, and for `--mnist-m rebuilt` (flag or `mnist_m` in
/// the `--config` file) MNIST-M's rebuilt train split beside the released set.
fn data_needed(args: &[String]) -> Result<Vec<&'static str>> {
    let task = task_of(args)?;
    let mut data = data_for(&task).to_vec();
    match setting_of(args, "--mnist-m", "mnist_m")?.as_deref() {
        None | Some("released") => {}
        Some("rebuilt") if data == download::DIGITS => data.push("mnist-m-rebuilt"),
        Some("rebuilt") => bail!("--mnist-m rebuilt: the digit task's MNIST-M train split; {task} has no MNIST-M"),
        Some(other) => bail!("--mnist-m {other}: unknown MNIST-M train split (known: released, rebuilt)"),
    }
    Ok(data)
}

/// What a task's runs read: the digit sets, Office-31 and the ImageNet weights, the Amazon reviews, the spoken
/// digits, or nothing
/// (the user's own folders or files).
pub(crate) fn data_for(task: &str) -> &'static [&'static str] {
    if task.starts_with("office31") {
        &["office31", "resnet50-imagenet"]
    } else if task.starts_with("amazon:") {
        &["amazon-reviews"]
    } else if task.starts_with("fsdd:") {
        &["fsdd"]
    } else if task.starts_with("colored-mnist") || task.starts_with("rotated-mnist") || task == "multi-mnist" {
        &["mnist"]
    } else if task == "moons" {
        // Generated on the fly.
        &[]
    } else if task.starts_with("folders:") || task.starts_with("vectors:") {
        // The researcher's own folders or files; ImageNet weights are used where installed, and the run is
        // marked where not.
        &[]
    } else {
        &download::DIGITS
    }
}

/// DomainBed's algorithm names (`domainbed/algorithms.py`, as its results tables print them) and the methods
/// shift registers them as: `dg-coral` and `dg-dann`, since `coral` and `dann` are the adaptation methods.
pub const DOMAINBED_NAMES: [(&str, &str); 9] = [
    ("ERM", "erm"),
    ("IRM", "irm"),
    ("VREx", "vrex"),
    ("GroupDRO", "groupdro"),
    ("Mixup", "mixup"),
    ("CORAL", "dg-coral"),
    ("MMD", "mmd"),
    ("DANN", "dg-dann"),
    ("CDANN", "cdann"),
];

/// `dg`'s flags as `dann`'s: `--algorithms A,B` (DomainBed's names, any case, or shift's) as `--methods`, and
/// `--task` required to be one of DomainBed's (`colored-mnist...`, `rotated-mnist...`).
fn domain_generalisation(args: &[String]) -> Result<Vec<String>> {
    let task = flag_value(args, "--task").unwrap_or_default();
    if !(task.starts_with("colored-mnist") || task.starts_with("rotated-mnist")) {
        bail!(
            "--task: `experiment dg` runs DomainBed's colored-mnist[:DOMAIN] or rotated-mnist[:DOMAIN], got `{task}`"
        );
    }
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let list = if a == "--algorithms" {
            let Some(v) = it.next() else {
                bail!("--algorithms needs a value")
            };
            v.clone()
        } else if let Some(v) = a.strip_prefix("--algorithms=") {
            v.to_string()
        } else {
            out.push(a.clone());
            continue;
        };
        let names: Vec<String> = list
            .split(',')
            .map(|n| {
                let n = n.trim();
                DOMAINBED_NAMES
                    .iter()
                    .find(|(theirs, _)| theirs.eq_ignore_ascii_case(n))
                    .map_or_else(|| n.to_string(), |(_, ours)| ours.to_string())
            })
            .collect();
        out.push("--methods".into());
        out.push(names.join(","));
    }
    Ok(out)
}

/// What `cargo xtask experiment` adds to the binary's flags.
const WRAPPER_HELP: &str = "
Flags of `cargo xtask experiment` (taken before shift runs):
      --mirror <DIR|URL>
          A mirror laid out like ../shared/datasets, for the data downloads [env: SHIFT_MIRROR]

      --data <DATA>
          Data folder the downloads fill, passed on to shift [env: SHIFT_DATA; default: datasets/]

It installs libtorch (once), downloads and verifies the data the task needs, builds shift in release mode and
runs `shift experiment ...` with the other flags.
";

/// `shift experiment <which> --help`, as the binary prints it.
fn help(which: &str) -> &'static str {
    match which {
        "finetune" => include_str!("../help/experiment-finetune.txt"),
        "zero-shot" => include_str!("../help/experiment-zero-shot.txt"),
        "multitask" => include_str!("../help/experiment-multitask.txt"),
        _ => include_str!("../help/experiment-dann.txt"),
    }
}

/// The value of `flag` among the arguments (`--flag X` or `--flag=X`), the last one given.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let mut found = None;
    for (i, a) in args.iter().enumerate() {
        if a == flag {
            found = args.get(i + 1).map(String::as_str);
        } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            found = Some(v);
        }
    }
    found
}

/// The experiment's task: `--task`, or else the `task` of the `--config` file, or else the digits.
fn task_of(args: &[String]) -> Result<String> {
    Ok(setting_of(args, "--task", "task")?.unwrap_or_else(|| "mnist:mnist-m".into()))
}

/// A setting of the run: the flag's value, or else the key of the `--config` file (TOML, or JSON by extension;
/// a run's saved config.json keeps it under `experiment`), or else None.
fn setting_of(args: &[String], flag: &str, key: &str) -> Result<Option<String>> {
    if let Some(v) = flag_value(args, flag) {
        return Ok(Some(v.to_string()));
    }
    let Some(path) = flag_value(args, "--config") else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--config {path}: {e}"))?;
    let doc: serde_json::Value = if path.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("--config {path}: {e}"))?
    } else {
        let v: toml::Value = toml::from_str(&text).map_err(|e| anyhow::anyhow!("--config {path}: {e}"))?;
        serde_json::to_value(v)?
    };
    let value = doc[key].as_str().or(doc["experiment"][key].as_str());
    Ok(value.map(str::to_string))
}

/// The arguments of `shift`: the named experiment, on the data folder the download filled, with the rest of
/// the flags.
fn shift_args(which: &str, data: &std::path::Path, passthrough: &[String]) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["experiment".into(), which.into(), "--data".into(), data.into()];
    args.extend(passthrough.iter().map(Into::into));
    args
}

/// Takes `--mirror X`, `--data X` (and their `=` forms) out of the flags.
pub(crate) fn split_data_flags(args: &[String]) -> Result<(DataPlace, Vec<String>)> {
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
    fn dg_takes_domainbed_s_algorithm_names_and_refuses_a_task_of_another_kind() {
        let args = strings(&[
            "--task",
            "colored-mnist",
            "--algorithms",
            "ERM,irm,CORAL,dann,cdann",
            "--seeds",
            "0",
        ]);
        assert_eq!(
            domain_generalisation(&args).unwrap(),
            strings(&[
                "--task",
                "colored-mnist",
                "--methods",
                "erm,irm,dg-coral,dg-dann,cdann",
                "--seeds",
                "0"
            ])
        );
        let e = domain_generalisation(&strings(&["--task", "mnist:mnist-m"]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--task: `experiment dg` runs DomainBed's"), "{e}");
        let e = domain_generalisation(&strings(&["--task=rotated-mnist:15", "--algorithms"])).unwrap_err();
        assert_eq!(e.to_string(), "--algorithms needs a value");
        assert_eq!(data_for("colored-mnist:-90%"), ["mnist"]);
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

    #[test]
    fn the_rebuilt_train_split_is_installed_beside_the_released_set_for_the_digits_only() {
        assert_eq!(data_needed(&strings(&["--quick"])).unwrap(), download::DIGITS);
        assert_eq!(
            data_needed(&strings(&["--task", "amazon:all"])).unwrap(),
            ["amazon-reviews"]
        );
        assert_eq!(data_needed(&strings(&["--task", "fsdd:all"])).unwrap(), ["fsdd"]);
        for own in ["moons", "vectors:a.csv:b.csv", "folders:a:b"] {
            assert!(data_needed(&strings(&["--task", own])).unwrap().is_empty(), "{own}");
        }
        assert_eq!(
            data_needed(&strings(&["--mnist-m", "released"])).unwrap(),
            download::DIGITS
        );
        assert_eq!(
            data_needed(&strings(&["--mnist-m=rebuilt", "--seeds", "0"])).unwrap(),
            ["mnist", "bsds500", "mnist-m", "mnist-m-rebuilt"]
        );
        let e = data_needed(&strings(&["--mnist-m", "fresh"])).unwrap_err().to_string();
        assert_eq!(
            e,
            "--mnist-m fresh: unknown MNIST-M train split (known: released, rebuilt)"
        );
        let e = data_needed(&strings(&["--task", "office31:A-W", "--mnist-m", "rebuilt"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("office31:A-W has no MNIST-M"), "{e}");
        let dir = tempfile_dir("mnist-m");
        let saved = dir.join("config.json");
        std::fs::write(
            &saved,
            r#"{"experiment": {"task": "mnist:mnist-m", "mnist_m": "rebuilt"}, "seed": 0}"#,
        )
        .unwrap();
        let args = strings(&["--config", saved.to_str().unwrap()]);
        assert_eq!(data_needed(&args).unwrap().last(), Some(&"mnist-m-rebuilt"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir(what: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn office_task(args: &[String]) -> Result<bool> {
        Ok(task_of(args)?.starts_with("office31"))
    }

    #[test]
    fn the_task_is_read_from_the_flags_and_from_a_config_file() {
        assert!(office_task(&strings(&["--task", "office31:A-W"])).unwrap());
        assert!(office_task(&strings(&["--task=office31:D-A"])).unwrap());
        assert!(!office_task(&strings(&["--task", "mnist:mnist-m", "--quick"])).unwrap());
        assert_eq!(task_of(&strings(&["--task", "folders:a:b"])).unwrap(), "folders:a:b");
        assert_eq!(task_of(&strings(&["--quick"])).unwrap(), "mnist:mnist-m");
        let dir = std::env::temp_dir().join(format!("xtask-office-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml = dir.join("c.toml");
        std::fs::write(&toml, "task = \"office31:W-A\"\n[train]\nepochs = 2\n").unwrap();
        let saved = dir.join("config.json");
        std::fs::write(&saved, r#"{"experiment": {"task": "office31:A-D"}, "seed": 0}"#).unwrap();
        let digits = dir.join("d.json");
        std::fs::write(&digits, r#"{"task": "mnist:mnist-m"}"#).unwrap();
        for (file, office) in [(&toml, true), (&saved, true), (&digits, false)] {
            let args = strings(&["--config", file.to_str().unwrap()]);
            assert_eq!(office_task(&args).unwrap(), office, "{}", file.display());
        }
        // A flag wins over the file, as in shift.
        let args = strings(&["--config", toml.to_str().unwrap(), "--task", "mnist:mnist-m"]);
        assert!(!office_task(&args).unwrap());
        std::fs::write(&toml, "task = [").unwrap();
        let e = office_task(&strings(&["--config", toml.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--config") && e.contains("c.toml"), "{e}");
        let e = office_task(&strings(&["--config", "/nonexistent/x.toml"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/x.toml"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
