//! Slurm: the `sbatch --array` script of a launch (one array task per job, each reading its job from the
//! launch's jobs file), its submission, and the queue's view of the tasks (`squeue`).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What a cluster asks of a job array: the `[slurm]` table of the sweep file, each overridable by a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmSettings {
    /// `--partition`; none: the cluster's default partition.
    pub partition: Option<String>,
    /// `--time` of each array task (Slurm's `[D-]HH:MM:SS`, `MM`, ...).
    pub time: String,
    /// `--cpus-per-task`: also the threads each task trains with.
    pub cpus_per_task: u32,
    /// `--gpus-per-task` (0: no GPU line; the job then trains on the CPU unless `device` says otherwise).
    pub gpus_per_task: u32,
    /// `--mem` of each task (`16G`); none: the cluster's default.
    pub mem: Option<String>,
    /// The `%P` of `--array=0-K%P`: at most this many tasks at once; none: as many as the cluster gives.
    pub max_parallel: Option<u32>,
    /// Further `#SBATCH` options, as written (`--account=lab`, `--qos=short`).
    pub options: Vec<String>,
    /// Shell lines run before shift in each task (`module load cuda/12.4`).
    pub setup: Vec<String>,
}

impl Default for SlurmSettings {
    fn default() -> Self {
        Self {
            partition: None,
            time: "04:00:00".into(),
            cpus_per_task: 2,
            gpus_per_task: 0,
            mem: None,
            max_parallel: None,
            options: Vec::new(),
            setup: Vec::new(),
        }
    }
}

impl SlurmSettings {
    /// Refuses values sbatch would refuse later, naming the key.
    pub fn validate(&self) -> Result<()> {
        if self.cpus_per_task == 0 {
            bail!("`cpus_per_task`: give at least 1");
        }
        if self.max_parallel == Some(0) {
            bail!("`max_parallel`: give at least 1, or leave it out");
        }
        let time_ok = !self.time.is_empty() && self.time.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '-');
        if !time_ok {
            bail!(
                "`time = {:?}`: give Slurm's form, [D-]HH:MM:SS (e.g. 04:00:00)",
                self.time
            );
        }
        for (key, v) in [("partition", &self.partition), ("mem", &self.mem)] {
            if v.as_deref()
                .is_some_and(|v| v.is_empty() || v.contains(char::is_whitespace))
            {
                bail!("`{key} = {v:?}`: one word, no spaces");
            }
        }
        if let Some(o) = self.options.iter().find(|o| !o.starts_with('-') || o.contains('\n')) {
            bail!("`options`: `{o}` is not an sbatch option (`--account=lab`)");
        }
        Ok(())
    }
}

/// Where a launch runs shift: the binary, the data folder and the launch's jobs file (all absolute, since the
/// tasks start on other nodes, in the cluster's working directory).
#[derive(Debug, Clone)]
pub struct TaskCommand<'a> {
    pub exe: &'a Path,
    pub data: &'a Path,
    pub jobs_file: &'a Path,
    pub launch_dir: &'a Path,
}

/// The job-array script of a launch of `count` jobs.
pub fn script(name: &str, settings: &SlurmSettings, count: usize, task: &TaskCommand) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let mut opt = |o: String| s.push_str(&format!("#SBATCH {o}\n"));
    opt(format!("--job-name=shift-{name}"));
    let throttle = settings.max_parallel.map(|p| format!("%{p}")).unwrap_or_default();
    opt(format!("--array=0-{}{throttle}", count.saturating_sub(1)));
    if let Some(p) = &settings.partition {
        opt(format!("--partition={p}"));
    }
    opt(format!("--time={}", settings.time));
    opt("--ntasks=1".into());
    opt(format!("--cpus-per-task={}", settings.cpus_per_task));
    if settings.gpus_per_task > 0 {
        opt(format!("--gpus-per-task={}", settings.gpus_per_task));
    }
    if let Some(m) = &settings.mem {
        opt(format!("--mem={m}"));
    }
    // Slurm's own log of each task (what happens before shift starts); shift's is in the job's folder.
    opt(format!(
        "--output={}",
        task.launch_dir.join("slurm-%A_%a.out").display()
    ));
    for o in &settings.options {
        opt(o.clone());
    }
    s.push_str("set -euo pipefail\n");
    for line in &settings.setup {
        s.push_str(line);
        s.push('\n');
    }
    s.push_str(&format!(
        "exec {} sweep job --jobs {} --index \"$SLURM_ARRAY_TASK_ID\" --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\" --data {}\n",
        quote(task.exe),
        quote(task.jobs_file),
        settings.cpus_per_task,
        quote(task.data)
    ));
    s
}

/// A path in single quotes for the shell.
fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// Whether this machine reaches a Slurm controller: `sinfo` runs and answers.
pub fn available() -> Result<(), String> {
    match Command::new("sinfo").args(["-h", "-o", "%P %a"]).output() {
        Err(e) => Err(format!("`sinfo` cannot run ({e}): Slurm's client is not installed")),
        Ok(o) if !o.status.success() => Err(format!(
            "`sinfo` failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(o) if o.stdout.is_empty() => Err("`sinfo` lists no partition".into()),
        Ok(_) => Ok(()),
    }
}

/// Submits `script_file` with `sbatch --parsable`; the job id.
pub fn submit(script_file: &Path) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(script_file)
        .output()
        .context("cannot run `sbatch` (is Slurm's client installed? --dry-run writes the script without it)")?;
    if !out.status.success() {
        bail!(
            "`sbatch {}` failed ({}): {}",
            script_file.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("`sbatch --parsable` printed {text:?}, not a job id");
    }
    Ok(id)
}

/// The state of every array task the queue holds, by (array job id, task index): `PENDING`, `RUNNING`, ...
/// Finished tasks leave the queue (their state is then in the job folders). None when `squeue` cannot run.
pub fn queue() -> Option<BTreeMap<(String, usize), String>> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-o", "%F|%K|%T"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(parse_queue(&String::from_utf8_lossy(&out.stdout)))
}

/// `squeue -h -r -o "%F|%K|%T"` lines: array job id, task index, state (jobs that are not arrays print N/A).
fn parse_queue(text: &str) -> BTreeMap<(String, usize), String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split('|');
            let (job, index, state) = (f.next()?, f.next()?, f.next()?);
            Some(((job.to_string(), index.parse().ok()?), state.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_asks_for_what_the_settings_say() {
        let settings = SlurmSettings {
            partition: Some("gpu".into()),
            time: "01:30:00".into(),
            cpus_per_task: 4,
            gpus_per_task: 1,
            mem: Some("16G".into()),
            max_parallel: Some(3),
            options: vec!["--account=lab".into()],
            setup: vec!["module load cuda".into()],
        };
        let task = TaskCommand {
            exe: Path::new("/opt/shift/bin/shift"),
            data: Path::new("/data/it's"),
            jobs_file: Path::new("/runs/s/launches/000/jobs.txt"),
            launch_dir: Path::new("/runs/s/launches/000"),
        };
        let s = script("grid", &settings, 12, &task);
        assert_eq!(
            s,
            "#!/bin/bash\n\
             #SBATCH --job-name=shift-grid\n\
             #SBATCH --array=0-11%3\n\
             #SBATCH --partition=gpu\n\
             #SBATCH --time=01:30:00\n\
             #SBATCH --ntasks=1\n\
             #SBATCH --cpus-per-task=4\n\
             #SBATCH --gpus-per-task=1\n\
             #SBATCH --mem=16G\n\
             #SBATCH --output=/runs/s/launches/000/slurm-%A_%a.out\n\
             #SBATCH --account=lab\n\
             set -euo pipefail\n\
             module load cuda\n\
             exec '/opt/shift/bin/shift' sweep job --jobs '/runs/s/launches/000/jobs.txt' --index \"$SLURM_ARRAY_TASK_ID\" \
             --threads \"${SLURM_CPUS_PER_TASK:-4}\" --data '/data/it'\\''s'\n"
        );
        let plain = script("g", &SlurmSettings::default(), 1, &task);
        assert!(
            plain.contains("--array=0-0\n") && !plain.contains("partition") && !plain.contains("gpus"),
            "{plain}"
        );
    }

    #[test]
    fn settings_that_sbatch_would_refuse_are_refused_naming_the_key() {
        let bad = |f: fn(&mut SlurmSettings), want: &str| {
            let mut s = SlurmSettings::default();
            f(&mut s);
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        };
        bad(|s| s.cpus_per_task = 0, "`cpus_per_task`");
        bad(|s| s.max_parallel = Some(0), "`max_parallel`");
        bad(|s| s.time = "two hours".into(), "`time = \"two hours\"`");
        bad(|s| s.partition = Some("a b".into()), "`partition");
        bad(|s| s.options = vec!["account=lab".into()], "`options`");
        assert!(SlurmSettings::default().validate().is_ok());
    }

    #[test]
    fn the_queue_lines_are_read_by_array_task() {
        let q = parse_queue("17|0|RUNNING\n17|3|PENDING\n18|N/A|RUNNING\ngarbage\n");
        assert_eq!(q.len(), 2);
        assert_eq!(q[&("17".to_string(), 0)], "RUNNING");
        assert_eq!(q[&("17".to_string(), 3)], "PENDING");
    }
}
