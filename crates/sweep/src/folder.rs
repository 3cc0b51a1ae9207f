//! One job's folder `<sweep>/<hash>/`: job.json (written before the job starts), a lock held while it runs, one
//! line per attempt, the log, the experiment's own run folder, and the `done` marker, written last.

use crate::grid::{config_hash, Job};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shift_experiments::run_folder::{write_atomic, RunFolder, RunResult};
use shift_experiments::Task;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the `done` marker holds: the run's headline numbers and when it finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub target_acc: Option<f64>,
    pub wall_s: f64,
    pub finished_unix_s: u64,
}

/// One start of a job (a line of attempts.jsonl): when, where, and under which Slurm task if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub started_unix_s: u64,
    pub host: String,
    pub pid: u32,
    /// `<array job>_<task>` under Slurm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_task: Option<String>,
    /// Whether a checkpoint was there to continue from.
    pub resumed: bool,
}

#[derive(Debug, Clone)]
pub struct JobFolder {
    pub dir: PathBuf,
}

impl JobFolder {
    pub fn new(sweep_out: &Path, hash: &str) -> Self {
        Self {
            dir: sweep_out.join(hash),
        }
    }

    pub fn job_file(&self) -> PathBuf {
        self.dir.join("job.json")
    }
    pub fn done_file(&self) -> PathBuf {
        self.dir.join("done")
    }
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("log")
    }
    fn lock_file(&self) -> PathBuf {
        self.dir.join("lock")
    }
    fn attempts_file(&self) -> PathBuf {
        self.dir.join("attempts.jsonl")
    }

    /// The experiment's run folder inside this one.
    pub fn run_folder(&self, job: &Job) -> Result<RunFolder> {
        let slug = Task::parse(&job.task)?.slug();
        Ok(RunFolder::new(&self.dir, &slug, job.method.as_str(), job.seed))
    }

    /// Writes job.json for `job` (atomically) where the folder is new; where it exists, checks that it holds
    /// this job.
    pub fn prepare(&self, job: &Job) -> Result<()> {
        if self.job_file().exists() {
            let stored = self.read_job()?;
            if stored != *job {
                bail!(
                    "{}: job.json holds another job than the sweep's {} (the sweep's file changed how a job is \
                     described): move the folder away to run it again",
                    self.dir.display(),
                    job.hash
                );
            }
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomic(&self.job_file(), &serde_json::to_string_pretty(job)?)
    }

    /// The job in job.json, refused (naming the folder) where its configuration no longer hashes to the folder's
    /// name: it was edited after the job was written, or written by a shift that describes configurations
    /// otherwise.
    pub fn read_job(&self) -> Result<Job> {
        let path = self.job_file();
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let job: Job = serde_json::from_str(&text).with_context(|| format!("{} is not a job", path.display()))?;
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hash = config_hash(&job.experiment)?;
        if hash != name || job.hash != name {
            bail!(
                "{}: its configuration hashes to {hash}, not to the folder's name: job.json was changed after the \
                 job was written. Restore it, or move the folder away to run the job afresh",
                self.dir.display()
            );
        }
        Ok(job)
    }

    pub fn is_done(&self) -> bool {
        self.done_file().is_file()
    }

    pub fn done(&self) -> Result<Option<Done>> {
        let path = self.done_file();
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t)
                .map(Some)
                .with_context(|| format!("{} is not a done marker", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the marker, last: the job is done once it is there.
    pub fn mark_done(&self, done: &Done) -> Result<()> {
        write_atomic(&self.done_file(), &serde_json::to_string_pretty(done)?)
    }

    /// The job's lock, held until the returned file is dropped (or the process ends, however it ends). None
    /// when another process holds it.
    pub fn try_lock(&self) -> Result<Option<File>> {
        let path = self.lock_file();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
    }

    /// Whether a process holds the job's lock now (a job running on this machine, or on another that shares
    /// the folder's file system and its locks).
    pub fn is_running(&self) -> Result<bool> {
        if !self.lock_file().exists() {
            return Ok(false);
        }
        Ok(self.try_lock()?.is_none())
    }

    pub fn record_attempt(&self, attempt: &Attempt) -> Result<()> {
        let path = self.attempts_file();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        writeln!(f, "{}", serde_json::to_string(attempt)?).with_context(|| format!("cannot write {}", path.display()))
    }

    pub fn attempts(&self) -> Result<Vec<Attempt>> {
        let path = self.attempts_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{} line {}", path.display(), i + 1)))
            .collect()
    }

    /// The last `n` lines of the log ("" when there is none).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read(self.log_file()).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        // Progress bars redraw with carriage returns: keep what the last draw left.
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.rsplit('\r').next().unwrap_or(l))
            .filter(|l| !l.trim().is_empty())
            .collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The finished run's result.json.
    pub fn result(&self, job: &Job) -> Result<RunResult> {
        let folder = self.run_folder(job)?;
        folder.result()?.with_context(|| {
            format!(
                "{}: done, but {} has no result.json",
                self.dir.display(),
                folder.dir.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Sweep;

    fn job() -> (tempfile::TempDir, Job) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "tasks = [\"mnist:mnist-m\"]\nmethods = [\"dann\"]\nseeds = [0]\n",
        )
        .unwrap();
        let job = Sweep::load(&file, None).unwrap().jobs.remove(0);
        (dir, job)
    }

    #[test]
    fn a_folder_holds_its_job_and_refuses_an_edited_one() {
        let (dir, job) = job();
        let folder = JobFolder::new(dir.path(), &job.hash);
        folder.prepare(&job).unwrap();
        assert_eq!(folder.read_job().unwrap(), job);
        folder.prepare(&job).unwrap();
        let edited = std::fs::read_to_string(folder.job_file())
            .unwrap()
            .replace("\"epochs\": 20", "\"epochs\": 21");
        assert!(edited.contains("\"epochs\": 21"));
        std::fs::write(folder.job_file(), edited).unwrap();
        let err = folder.read_job().unwrap_err().to_string();
        assert!(
            err.contains(&folder.dir.display().to_string()) && err.contains("not to the folder's name"),
            "{err}"
        );
        let err = format!("{:#}", folder.prepare(&job).unwrap_err());
        assert!(err.contains("not to the folder's name"), "{err}");
        std::fs::write(folder.job_file(), "{").unwrap();
        let err = format!("{:#}", folder.read_job().unwrap_err());
        assert!(err.contains("job.json is not a job"), "{err}");
    }

    #[test]
    fn the_lock_is_held_by_one_holder_at_a_time() {
        let (dir, job) = job();
        let folder = JobFolder::new(dir.path(), &job.hash);
        folder.prepare(&job).unwrap();
        assert!(!folder.is_running().unwrap());
        let held = folder.try_lock().unwrap().expect("a free lock");
        assert!(folder.try_lock().unwrap().is_none());
        assert!(folder.is_running().unwrap());
        drop(held);
        assert!(!folder.is_running().unwrap());
    }

    #[test]
    fn attempts_the_marker_and_the_log_tail_read_back() {
        let (dir, job) = job();
        let folder = JobFolder::new(dir.path(), &job.hash);
        folder.prepare(&job).unwrap();
        assert!(folder.attempts().unwrap().is_empty() && folder.done().unwrap().is_none());
        let a = Attempt {
            started_unix_s: 5,
            host: "n1".into(),
            pid: 7,
            slurm_task: Some("12_3".into()),
            resumed: false,
        };
        folder.record_attempt(&a).unwrap();
        folder
            .record_attempt(&Attempt {
                resumed: true,
                ..a.clone()
            })
            .unwrap();
        assert_eq!(folder.attempts().unwrap().len(), 2);
        assert!(folder.attempts().unwrap()[1].resumed);
        let d = Done {
            target_acc: Some(0.5),
            wall_s: 1.5,
            finished_unix_s: 9,
        };
        folder.mark_done(&d).unwrap();
        assert!(folder.is_done());
        assert_eq!(folder.done().unwrap(), Some(d));
        std::fs::write(folder.log_file(), "a\nb\r  c\n\nd\n").unwrap();
        assert_eq!(folder.log_tail(2), "  c\nd");
        std::fs::write(folder.dir.join("attempts.jsonl"), "{\n").unwrap();
        let err = format!("{:#}", folder.attempts().unwrap_err());
        assert!(err.contains("attempts.jsonl line 1"), "{err}");
    }
}
