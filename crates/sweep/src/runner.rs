//! `shift sweep job`: runs one job of a launch (a local process or a Slurm array task), under the job's lock, as
//! `shift experiment dann --resume` in its folder with the output in its log; the `done` marker once it finished.

use crate::folder::{Attempt, Done, JobFolder};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a job's process ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    /// It ran to the end now; the marker is written.
    Finished { target_acc: f64 },
    /// Its marker was there already: nothing ran.
    AlreadyDone,
    /// Another process holds its lock (it runs elsewhere): nothing ran.
    Busy,
    /// The experiment stopped without finishing (a signal, a time limit, an error): no marker; the exit code,
    /// and the tail of the log.
    Stopped { code: Option<i32>, tail: String },
}

/// What runs a job: shift itself, the data folder, and the threads to train with.
#[derive(Debug, Clone)]
pub struct Runner {
    pub exe: PathBuf,
    pub data: PathBuf,
    pub threads: Option<usize>,
}

/// The job folder on line `index` (from 0) of a launch's jobs file.
pub fn listed(jobs_file: &Path, index: usize) -> Result<JobFolder> {
    let text =
        std::fs::read_to_string(jobs_file).with_context(|| format!("cannot read --jobs {}", jobs_file.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let Some(line) = lines.get(index) else {
        bail!(
            "--index {index}: {} lists {} jobs (0 to {})",
            jobs_file.display(),
            lines.len(),
            lines.len().saturating_sub(1)
        );
    };
    Ok(JobFolder {
        dir: PathBuf::from(line.trim()),
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

impl Runner {
    /// Runs the job in `folder`: skipped when done or locked by another process; else one attempt, recorded,
    /// whose experiment continues from the run's checkpoint where there is one. A SIGINT or SIGTERM to this
    /// process is passed to the experiment, which saves its checkpoint and stops.
    pub fn run(&self, folder: &JobFolder) -> Result<JobEnd> {
        let job = folder.read_job()?;
        let Some(_lock) = folder.try_lock()? else {
            return Ok(JobEnd::Busy);
        };
        // Checked under the lock: a process that finished it a moment ago wrote the marker before letting go.
        if folder.is_done() {
            return Ok(JobEnd::AlreadyDone);
        }
        let run = folder.run_folder(&job)?;
        let slurm_task = match (
            std::env::var("SLURM_ARRAY_JOB_ID"),
            std::env::var("SLURM_ARRAY_TASK_ID"),
        ) {
            (Ok(j), Ok(t)) => Some(format!("{j}_{t}")),
            _ => None,
        };
        folder.record_attempt(&Attempt {
            started_unix_s: now(),
            host: hostname(),
            pid: std::process::id(),
            slurm_task,
            resumed: run.checkpoint().is_file(),
        })?;
        let log_path = folder.log_file();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(["experiment", "dann", "--resume", "--config"])
            .arg(folder.job_file())
            .arg("--out")
            .arg(&folder.dir)
            .arg("--data")
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(t) = self.threads {
            // Each library's own pool too, read at its start: no process takes more cores than it was given.
            for var in ["SHIFT_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] {
                cmd.env(var, t.to_string());
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        // The process's one flag, shared by every job it runs (a handler is installed once per process).
        let stop = shift_experiments::session::stop_on_ctrl_c()
            .map_err(|why| anyhow::anyhow!("a job could not be stopped cleanly: {why}"))?;
        let mut passed_on = false;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if stop.load(Ordering::SeqCst) && !passed_on {
                // SAFETY: kill(2) on the child's pid, which this process has not reaped yet.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                passed_on = true;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if !status.success() {
            return Ok(JobEnd::Stopped {
                code: status.code(),
                tail: folder.log_tail(5),
            });
        }
        let result = folder.result(&job)?;
        folder.mark_done(&Done {
            target_acc: (!result.target_acc.is_nan()).then_some(result.target_acc),
            wall_s: result.wall_s,
            finished_unix_s: now(),
        })?;
        Ok(JobEnd::Finished {
            target_acc: result.target_acc,
        })
    }
}
