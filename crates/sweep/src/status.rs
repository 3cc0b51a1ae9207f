//! `shift sweep status`: each job's state, from its folder (the marker, the lock, the attempts) and, where Slurm
//! is there, from the queue's view of the launches' array tasks.

use crate::folder::JobFolder;
use crate::grid::Sweep;
use crate::slurm;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Where a job stands.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Done {
        target_acc: Option<f64>,
    },
    /// Its lock is held, or the queue says its task runs.
    Running,
    /// Its array task waits in the queue.
    Queued,
    /// It started and stopped without finishing: the exit was a failure, a signal or a time limit. The tail of
    /// its log.
    Failed {
        attempts: usize,
        tail: String,
    },
    NotLaunched,
}

impl State {
    fn word(&self) -> &'static str {
        match self {
            State::Done { .. } => "done",
            State::Running => "running",
            State::Queued => "queued",
            State::Failed { .. } => "failed",
            State::NotLaunched => "not launched",
        }
    }
}

/// The Slurm array tasks of every launch, by job folder: the latest launch's (array job id, index).
fn slurm_tasks(out: &Path) -> Result<BTreeMap<PathBuf, (String, usize)>> {
    let mut tasks = BTreeMap::new();
    let root = out.join("launches");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(tasks);
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for dir in dirs {
        let Ok(id) = std::fs::read_to_string(dir.join("slurm_job_id")) else {
            continue;
        };
        let jobs = dir.join("jobs.txt");
        let text = std::fs::read_to_string(&jobs).with_context(|| format!("cannot read {}", jobs.display()))?;
        for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            tasks.insert(PathBuf::from(line.trim()), (id.trim().to_string(), i));
        }
    }
    Ok(tasks)
}

/// Every job's state, in the sweep's order.
pub fn states(sweep: &Sweep) -> Result<Vec<State>> {
    let out = std::path::absolute(&sweep.out).with_context(|| format!("cannot resolve {}", sweep.out.display()))?;
    let tasks = slurm_tasks(&out)?;
    let queue = if tasks.is_empty() { None } else { slurm::queue() };
    sweep
        .jobs
        .iter()
        .map(|job| {
            let folder = JobFolder::new(&out, &job.hash);
            if !folder.dir.exists() {
                return Ok(State::NotLaunched);
            }
            folder.read_job()?;
            if let Some(done) = folder.done()? {
                return Ok(State::Done {
                    target_acc: done.target_acc,
                });
            }
            if folder.is_running()? {
                return Ok(State::Running);
            }
            let queued = tasks
                .get(&folder.dir)
                .and_then(|t| queue.as_ref().and_then(|q| q.get(t)))
                .map(String::as_str);
            match queued {
                Some("RUNNING" | "COMPLETING" | "CONFIGURING") => return Ok(State::Running),
                Some("PENDING" | "REQUEUED" | "RESIZING" | "SUSPENDED") => return Ok(State::Queued),
                _ => {}
            }
            let attempts = folder.attempts()?.len();
            Ok(if attempts == 0 {
                State::NotLaunched
            } else {
                State::Failed {
                    attempts,
                    tail: folder.log_tail(5),
                }
            })
        })
        .collect()
}

/// The status table: one line per job, the counts, and the log tail of every failed job.
pub fn report(sweep: &Sweep, states: &[State]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sweep {} ({} jobs) in {}\n",
        sweep.name,
        sweep.jobs.len(),
        sweep.out.display()
    );
    let _ = writeln!(s, "| job | task | method | seed | setting | state | target acc |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (job, state) in sweep.jobs.iter().zip(states) {
        *counts.entry(state.word()).or_default() += 1;
        let acc = match state {
            State::Done { target_acc: Some(a) } => format!("{a:.4}"),
            State::Done { target_acc: None } => "none (target unlabelled)".into(),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {acc} |",
            job.hash,
            job.task,
            job.method,
            job.seed,
            job.setting_label(),
            state.word()
        );
    }
    let summary: Vec<String> = ["done", "running", "queued", "failed", "not launched"]
        .iter()
        .map(|w| format!("{} {w}", counts.get(w).copied().unwrap_or(0)))
        .collect();
    let _ = writeln!(s, "\n{}", summary.join(", "));
    for (job, state) in sweep.jobs.iter().zip(states) {
        if let State::Failed { attempts, tail } = state {
            let _ = writeln!(
                s,
                "\nfailed: {} ({} {} seed {}), {attempts} attempt(s); the end of {}:\n{tail}",
                job.hash,
                job.task,
                job.method,
                job.seed,
                JobFolder::new(&sweep.out, &job.hash).log_file().display()
            );
        }
    }
    s
}
