//! Launching a sweep: the jobs still to run get their folders and a launch (a numbered folder with the jobs file),
//! then run as N local processes side by side or as one Slurm job array.

use crate::folder::JobFolder;
use crate::grid::{Job, Sweep};
use crate::slurm::{self, SlurmSettings, TaskCommand};
use crate::status::{self, State};
use anyhow::{bail, Context, Result};
use shift_experiments::run_folder::write_atomic;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;

/// Where the jobs run.
#[derive(Debug, Clone, PartialEq)]
pub enum Launcher {
    /// `jobs` processes side by side on this machine, the cores shared out between them.
    Local { jobs: usize },
    /// One `sbatch --array` job.
    Slurm(SlurmSettings),
}

/// What `launch` and `resubmit` take from the command line.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub launcher: Launcher,
    /// shift itself (the tasks run `shift sweep job`).
    pub exe: PathBuf,
    pub data: PathBuf,
    /// Write the launch and print the script and the jobs file, but run nothing.
    pub dry_run: bool,
    /// Leave out jobs that are running or queued (`resubmit`), not only finished ones (`launch`).
    pub skip_active: bool,
}

/// What a launch did.
#[derive(Debug, Clone, PartialEq)]
pub enum Launched {
    /// Every job was done (or, for resubmit, done or active): nothing to launch.
    Nothing { done: usize, active: usize },
    /// Local processes ran to their end.
    Local { finished: usize, stopped: Vec<String> },
    /// The array was submitted.
    Slurm {
        job_id: String,
        tasks: usize,
        launch_dir: PathBuf,
    },
    /// `--dry-run`: the script and the jobs file, not submitted.
    DryRun {
        script: String,
        jobs_file: PathBuf,
        listed: String,
    },
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot make {} absolute", p.display()))
}

/// The next launch's folder `<out>/launches/NNN`, created.
fn new_launch_dir(out: &Path) -> Result<PathBuf> {
    let root = out.join("launches");
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    for n in 0..10_000 {
        let dir = root.join(format!("{n:03}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    bail!("{}: 10,000 launches; clear the folder", root.display())
}

/// Launches the jobs of `sweep` that are not done (and, with `skip_active`, not running or queued).
pub fn launch(sweep: &Sweep, opts: &LaunchOptions) -> Result<Launched> {
    if opts.launcher == (Launcher::Local { jobs: 0 }) {
        bail!("--jobs 0: give at least 1");
    }
    let out = absolute(&sweep.out)?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let states = status::states(sweep)?;
    let mut pending: Vec<&Job> = Vec::new();
    let (mut done, mut active) = (0, 0);
    for (job, state) in sweep.jobs.iter().zip(&states) {
        match state {
            State::Done { .. } => done += 1,
            State::Running | State::Queued if opts.skip_active => active += 1,
            _ => pending.push(job),
        }
    }
    if pending.is_empty() {
        return Ok(Launched::Nothing { done, active });
    }
    for job in &pending {
        JobFolder::new(&out, &job.hash).prepare(job)?;
    }
    let launch_dir = new_launch_dir(&out)?;
    let jobs_file = launch_dir.join("jobs.txt");
    let listed: String = pending
        .iter()
        .map(|j| format!("{}\n", JobFolder::new(&out, &j.hash).dir.display()))
        .collect();
    write_atomic(&jobs_file, &listed)?;
    let (exe, data) = (absolute(&opts.exe)?, absolute(&opts.data)?);
    match &opts.launcher {
        Launcher::Slurm(settings) => {
            let task = TaskCommand {
                exe: &exe,
                data: &data,
                jobs_file: &jobs_file,
                launch_dir: &launch_dir,
            };
            let script = slurm::script(&sweep.name, settings, pending.len(), &task);
            let script_file = launch_dir.join("sweep.sbatch");
            write_atomic(&script_file, &script)?;
            if opts.dry_run {
                return Ok(Launched::DryRun {
                    script,
                    jobs_file,
                    listed,
                });
            }
            let job_id = slurm::submit(&script_file)?;
            write_atomic(&launch_dir.join("slurm_job_id"), &format!("{job_id}\n"))?;
            Ok(Launched::Slurm {
                job_id,
                tasks: pending.len(),
                launch_dir,
            })
        }
        Launcher::Local { jobs } => {
            let script = local_command(&exe, &jobs_file, &data, threads_per_job(*jobs));
            if opts.dry_run {
                return Ok(Launched::DryRun {
                    script,
                    jobs_file,
                    listed,
                });
            }
            run_local(&exe, &jobs_file, &data, pending.len(), *jobs)
        }
    }
}

/// The threads of each of `jobs` processes: this machine's cores shared out, at least one each.
pub fn threads_per_job(jobs: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    (cores / jobs.max(1)).max(1)
}

/// What each local process runs, for `--dry-run`.
fn local_command(exe: &Path, jobs_file: &Path, data: &Path, threads: usize) -> String {
    format!(
        "{} sweep job --jobs {} --index I --threads {threads} --data {}   (I = each line of the jobs file, from 0)\n",
        exe.display(),
        jobs_file.display(),
        data.display()
    )
}

/// Runs the `count` listed jobs as `jobs` processes side by side, each started when one ends.
fn run_local(exe: &Path, jobs_file: &Path, data: &Path, count: usize, jobs: usize) -> Result<Launched> {
    let threads = threads_per_job(jobs);
    let start = |index: usize| -> Result<Child> {
        Command::new(exe)
            .args(["sweep", "job", "--jobs"])
            .arg(jobs_file)
            .args([
                "--index",
                &index.to_string(),
                "--threads",
                &threads.to_string(),
                "--data",
            ])
            .arg(data)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))
    };
    // Ctrl-C reaches every process of the terminal's group: the jobs save their checkpoints and stop, and this
    // loop starts no more of them but waits for those it started.
    let interrupted = shift_experiments::session::stop_on_ctrl_c()
        .map_err(|why| anyhow::anyhow!("the local launcher could not stop its jobs cleanly: {why}"))?;
    let mut running: Vec<(usize, Child)> = Vec::new();
    let (mut next, mut finished, mut stopped) = (0, 0, Vec::new());
    let mut limit = count;
    while next < limit || !running.is_empty() {
        if interrupted.load(Ordering::SeqCst) {
            limit = next;
        }
        while running.len() < jobs && next < limit {
            running.push((next, start(next)?));
            next += 1;
        }
        let mut still = Vec::new();
        for (index, mut child) in running {
            match child.try_wait()? {
                Some(s) if s.success() => finished += 1,
                Some(s) => stopped.push(format!("line {index} of {} ({s})", jobs_file.display())),
                None => still.push((index, child)),
            }
        }
        running = still;
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    stopped.extend((limit..count).map(|i| format!("line {i} of {} (not started)", jobs_file.display())));
    Ok(Launched::Local { finished, stopped })
}
