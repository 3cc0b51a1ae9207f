//! The sweep file (TOML) and its expansion: tasks x settings x methods x seeds, one experiment configuration per
//! job, each named by the hash of that configuration (the bookkeeping of DomainBed's `sweep.py`, Gulrajani &
//! Lopez-Paz, ICLR 2021).

use crate::slurm::SlurmSettings;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shift_experiments::config::{self, ExperimentConfig};
use shift_strategies::MethodName;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file as written: the grid's axes, what every job shares, and the Slurm settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    name: Option<String>,
    out: Option<PathBuf>,
    tasks: Vec<String>,
    methods: Vec<String>,
    seeds: Vec<u64>,
    #[serde(default)]
    base: toml::Table,
    #[serde(default)]
    grid: toml::Table,
    #[serde(default)]
    slurm: SlurmSettings,
}

/// One job: one task, method and seed under one setting of the grid's keys, as the experiment configuration it
/// runs. `hash` names its folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub hash: String,
    pub task: String,
    pub method: MethodName,
    pub seed: u64,
    /// The grid's keys and this job's values, in key order (empty when the file has no `[grid]`).
    pub setting: Vec<(String, serde_json::Value)>,
    pub experiment: ExperimentConfig,
}

impl Job {
    /// "train.lambda.gamma=5.0, train.lr.lr0=0.01", or "defaults" where the grid is empty.
    pub fn setting_label(&self) -> String {
        setting_label(&self.setting)
    }
}

/// The label of a setting: its `key=value` pairs, or "defaults".
pub fn setting_label(setting: &[(String, serde_json::Value)]) -> String {
    if setting.is_empty() {
        return "defaults".into();
    }
    setting
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The hash that names a job's folder: the first 16 hex digits of the SHA-256 of its configuration's JSON (field
/// order fixed by the struct, maps sorted), so equal configurations share a folder and any change of a value
/// gives another.
pub fn config_hash(experiment: &ExperimentConfig) -> Result<String> {
    let text = serde_json::to_string(experiment)?;
    let digest = Sha256::digest(text.as_bytes());
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// An expanded sweep: its name, its output folder, every job in order, and the Slurm settings of the file.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub name: String,
    pub file: PathBuf,
    pub out: PathBuf,
    pub jobs: Vec<Job>,
    pub slurm: SlurmSettings,
}

/// The keys that are the grid's own axes (`tasks`, `methods`, `seeds`): not settable in `[base]` or `[grid]`.
const AXES: [&str; 3] = ["task", "methods", "seeds"];

impl Sweep {
    /// Reads and expands `file`; `out` overrides the file's `out` (default `runs/sweeps/<name>`). Every job's
    /// configuration is validated here, so a bad key, value, task or method is refused, naming the file and the
    /// key, before anything runs.
    pub fn load(file: &Path, out: Option<&Path>) -> Result<Self> {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("cannot read sweep file {}", file.display()))?;
        let parsed: SweepFile = toml::from_str(&text).with_context(|| format!("sweep file {}", file.display()))?;
        Self::expand(parsed, file, out).with_context(|| format!("sweep file {}", file.display()))
    }

    fn expand(f: SweepFile, file: &Path, out: Option<&Path>) -> Result<Self> {
        let name = match f.name {
            Some(n) => n,
            None => file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sweep".into()),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            bail!("`name = {name:?}`: use letters, digits, '-', '_' and '.' (it names the Slurm job)");
        }
        for (axis, empty) in [
            ("tasks", f.tasks.is_empty()),
            ("methods", f.methods.is_empty()),
            ("seeds", f.seeds.is_empty()),
        ] {
            if empty {
                bail!("`{axis}` is empty: give at least one");
            }
        }
        let methods = f
            .methods
            .iter()
            .map(|m| m.parse::<MethodName>().map_err(|e| anyhow::anyhow!("`methods`: {e}")))
            .collect::<Result<Vec<_>>>()?;
        let base = leaves("base", &f.base)?;
        let grid: Vec<(String, Vec<serde_json::Value>)> = leaves("grid", &f.grid)?
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::Array(values) if !values.is_empty() => Ok((k, values)),
                serde_json::Value::Array(_) => bail!("[grid] `{k}` is an empty list: give its values"),
                other => bail!("[grid] `{k} = {other}`: give a list of values (`{k} = [{other}]` for one)"),
            })
            .collect::<Result<_>>()?;
        for (section, key) in base
            .iter()
            .map(|(k, _)| ("base", k))
            .chain(grid.iter().map(|(k, _)| ("grid", k)))
        {
            let top = key.split('.').next().unwrap_or(key);
            if AXES.contains(&top) {
                bail!("[{section}] `{key}`: tasks, methods and seeds are the sweep's own lists, set at the top");
            }
        }
        if let Some((k, _)) = base.iter().find(|(k, _)| grid.iter().any(|(g, _)| g == k)) {
            bail!("`{k}` is in both [base] and [grid]: keep it in one");
        }
        let assign = |pairs: &[(String, serde_json::Value)]| -> Vec<String> {
            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect()
        };
        let base_config = config::set(&ExperimentConfig::default(), &assign(&base)).context("[base]")?;
        let mut jobs = Vec::new();
        for task in &f.tasks {
            // The task's own schedule (as `shift experiment dann --task` takes it), read with [base] set (the
            // Amazon reviews' rate follows `features`), then [base] over it.
            let own = shift_experiments::Task::parse(task)
                .with_context(|| format!("tasks: `{task}`"))?
                .defaults(ExperimentConfig {
                    task: task.clone(),
                    ..base_config.clone()
                });
            let mut template = config::set(&own, &assign(&base)).context("[base]")?;
            template.methods.clear();
            for setting in product(&grid) {
                for &method in &methods {
                    for &seed in &f.seeds {
                        let mut experiment = template.clone();
                        experiment.task = task.clone();
                        experiment.methods = vec![method];
                        experiment.seeds = vec![seed];
                        let experiment = config::set(&experiment, &assign(&setting))
                            .with_context(|| format!("[grid] {}", setting_label(&setting)))?;
                        experiment.validate().with_context(|| {
                            format!("the job {task} {method} seed {seed} ({})", setting_label(&setting))
                        })?;
                        jobs.push(Job {
                            hash: config_hash(&experiment)?,
                            task: task.clone(),
                            method,
                            seed,
                            setting: setting.clone(),
                            experiment,
                        });
                    }
                }
            }
        }
        let mut seen = BTreeMap::new();
        for j in &jobs {
            if let Some(first) = seen.insert(j.hash.clone(), j) {
                bail!(
                    "two jobs are the same configuration ({} {} seed {}: {} and {}): a list repeats a value",
                    j.task,
                    j.method,
                    j.seed,
                    first.setting_label(),
                    j.setting_label()
                );
            }
        }
        let out = out
            .map(Path::to_path_buf)
            .or(f.out)
            .unwrap_or_else(|| Path::new("runs/sweeps").join(&name));
        f.slurm.validate().context("[slurm]")?;
        Ok(Self {
            name,
            file: file.to_path_buf(),
            out,
            jobs,
            slurm: f.slurm,
        })
    }

    /// The job whose folder is named `hash`.
    pub fn job(&self, hash: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.hash == hash)
    }
}

/// A TOML table's leaves as dotted key paths (`[base.train] epochs = 2` and `"train.epochs" = 2` are the same
/// key), with their values as JSON.
fn leaves(section: &str, table: &toml::Table) -> Result<Vec<(String, serde_json::Value)>> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<(String, serde_json::Value)>) -> Result<()> {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out)?,
                other => out.push((key, serde_json::to_value(other)?)),
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk("", table, &mut out).with_context(|| format!("[{section}]"))?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        bail!("[{section}] `{}` is given twice", w[0].0);
    }
    Ok(out)
}

/// Every combination of the grid's values, the last key varying fastest; one empty setting for an empty grid.
fn product(grid: &[(String, Vec<serde_json::Value>)]) -> Vec<Vec<(String, serde_json::Value)>> {
    grid.iter().fold(vec![Vec::new()], |acc, (key, values)| {
        acc.iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut s = prefix.clone();
                    s.push((key.clone(), v.clone()));
                    s
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Sweep> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("grid.toml");
        std::fs::write(&file, text).unwrap();
        Sweep::load(&file, None)
    }

    const GRID: &str = r#"
tasks = ["mnist:mnist-m", "office31:A-W"]
methods = ["source-only", "dann", "cdan"]
seeds = [0, 1]
[base]
"train.epochs" = 2
device = "cpu"
[grid]
"train.lr.lr0" = [0.01, 0.003]
"train.lambda.gamma" = [5.0, 10.0]
"#;

    #[test]
    fn the_grid_expands_into_every_combination_with_distinct_hashes() {
        let s = load(GRID).unwrap();
        assert_eq!(s.jobs.len(), 2 * 3 * 2 * 2 * 2);
        assert_eq!(s.name, "grid");
        assert_eq!(s.out, Path::new("runs/sweeps/grid"));
        let hashes: std::collections::BTreeSet<_> = s.jobs.iter().map(|j| j.hash.clone()).collect();
        assert_eq!(hashes.len(), s.jobs.len());
        assert!(s
            .jobs
            .iter()
            .all(|j| j.hash.len() == 16 && j.hash.chars().all(|c| c.is_ascii_hexdigit())));
        let first = &s.jobs[0];
        assert_eq!(
            (first.task.as_str(), first.method.as_str(), first.seed),
            ("mnist:mnist-m", "source-only", 0)
        );
        assert_eq!(first.setting_label(), "train.lambda.gamma=5.0, train.lr.lr0=0.01");
        assert_eq!(first.experiment.train.epochs, 2);
        assert_eq!(first.experiment.device, "cpu");
        assert_eq!(first.experiment.seeds, vec![0]);
        let train = serde_json::to_value(&first.experiment.train).unwrap();
        assert_eq!(
            (train["lr"]["lr0"].as_f64(), train["lambda"]["gamma"].as_f64()),
            (Some(0.01), Some(5.0))
        );
        // The last key varies fastest over settings, seeds fastest of all.
        assert_eq!(s.jobs[1].seed, 1);
        assert_eq!(s.jobs[6].setting_label(), "train.lambda.gamma=5.0, train.lr.lr0=0.003");
        assert_eq!(s.jobs[24].task, "office31:A-W");
        // The same file expands to the same hashes: the folders of a second launch are the first's.
        assert_eq!(load(GRID).unwrap().jobs, s.jobs);
    }

    /// A task's own schedule is each job's start, as `shift experiment dann --task` takes it; [base] and [grid]
    /// set keys over it.
    #[test]
    fn a_tasks_own_schedule_is_the_start_and_the_file_sets_keys_over_it() {
        let s = load(
            "tasks = [\"fsdd:theo\", \"mnist:mnist-m\"]\nmethods = [\"daae\"]\nseeds = [0]\nname = \"t\"\n\
             [base]\n\"train.epochs\" = 3\n[grid]\n\"train.lr.lr0\" = [0.02]\n",
        );
        let e = format!("{:#}", s.unwrap_err());
        assert!(
            e.contains("the job mnist:mnist-m daae seed 0") && e.contains("latent sequence"),
            "{e}"
        );
        let s = load(
            "tasks = [\"fsdd:theo\"]\nmethods = [\"daae\"]\nseeds = [0]\nname = \"t\"\n[base]\n\"train.epochs\" = 3\n",
        )
        .unwrap();
        let c = &s.jobs[0].experiment;
        assert_eq!(
            (
                c.backbone.as_deref(),
                c.train.batch,
                c.train.epochs,
                c.validation.source_split
            ),
            (Some("audio-cnn"), 32, 3, 0.1)
        );
        let e = load("tasks = [\"fsdd:bob\"]\nmethods = [\"dann\"]\nseeds = [0]\nname = \"t\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("tasks: `fsdd:bob`"), "{e:#}");
    }

    /// The sweep files shipped in sweeps/ expand: the README's example and the spoken digits' table.
    #[test]
    fn the_shipped_sweep_files_expand() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sweeps");
        let example = Sweep::load(&dir.join("example.toml"), None).unwrap();
        assert_eq!(example.jobs.len(), 8);
        let fsdd = Sweep::load(&dir.join("fsdd.toml"), None).unwrap();
        assert_eq!(fsdd.jobs.len(), 72);
        assert!(fsdd
            .jobs
            .iter()
            .all(|j| j.experiment.backbone.as_deref() == Some("audio-cnn")));
    }

    #[test]
    fn the_hash_is_that_of_the_configuration() {
        let a = ExperimentConfig::default();
        let mut b = a.clone();
        assert_eq!(config_hash(&a).unwrap(), config_hash(&b).unwrap());
        b.train.epochs += 1;
        assert_ne!(config_hash(&a).unwrap(), config_hash(&b).unwrap());
    }

    #[test]
    fn an_empty_grid_gives_one_setting() {
        let s = load("tasks = [\"mnist:mnist-m\"]\nmethods = [\"dann\"]\nseeds = [3]\nname = \"one\"\nout = \"x/y\"\n")
            .unwrap();
        assert_eq!(s.jobs.len(), 1);
        assert_eq!(s.jobs[0].setting_label(), "defaults");
        assert_eq!((s.name.as_str(), s.out.as_path()), ("one", Path::new("x/y")));
    }

    #[test]
    fn bad_files_are_refused_naming_the_file_and_the_key() {
        let head = "tasks = [\"mnist:mnist-m\"]\nmethods = [\"dann\"]\nseeds = [0]\n";
        let cases = [
            (
                "tasks = [\"mnist:mnist-m\"]\nmethods = [\"dann\"]\nseeds = [0]\ncolour = 1\n",
                "unknown field `colour`",
            ),
            ("tasks = []\nmethods = [\"dann\"]\nseeds = [0]\n", "`tasks` is empty"),
            (
                "tasks = [\"mnist:mnist-m\"]\nmethods = [\"danish\"]\nseeds = [0]\n",
                "`methods`",
            ),
            (
                &format!("{head}[grid]\n\"train.lr.lr0\" = 0.01\n"),
                "give a list of values",
            ),
            (
                &format!("{head}[grid]\n\"train.lr.lr0\" = []\n"),
                "`train.lr.lr0` is an empty list",
            ),
            (&format!("{head}[grid]\n\"train.colour\" = [1]\n"), "train.colour=1"),
            (&format!("{head}[base]\n\"train.colour\" = 1\n"), "[base]"),
            (&format!("{head}[base]\nseeds = [1]\n"), "the sweep's own lists"),
            (
                &format!("{head}[base]\n\"train.epochs\" = 1\n[grid]\n\"train.epochs\" = [1, 2]\n"),
                "both [base] and [grid]",
            ),
            (
                &format!("{head}[base]\n\"train.epochs\" = 1\n[base.train]\nepochs = 3\n"),
                "given twice",
            ),
            (
                &format!("{head}[grid]\n\"train.epochs\" = [2, 2]\n"),
                "a list repeats a value",
            ),
            (
                "tasks = [\"mnist:svhn\"]\nmethods = [\"dann\"]\nseeds = [0]\n",
                "tasks: `mnist:svhn`: `task`: unknown task `mnist:svhn`",
            ),
            (&format!("{head}name = \"a b\"\n"), "`name = \"a b\"`"),
            (&format!("{head}[slurm]\ncpus_per_task = 0\n"), "cpus_per_task"),
            ("tasks = [", "grid.toml"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", load(text).unwrap_err());
            assert!(err.contains("grid.toml"), "{err}");
            assert!(err.contains(want), "want {want:?} in: {err}");
        }
        let missing = format!("{:#}", Sweep::load(Path::new("/nonexistent/g.toml"), None).unwrap_err());
        assert!(
            missing.contains("cannot read sweep file /nonexistent/g.toml"),
            "{missing}"
        );
    }
}
