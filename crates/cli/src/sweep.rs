//! `shift sweep launch|resubmit|status|collect FILE.toml`, and `shift sweep job`, what each launched process or
//! Slurm array task runs.

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use shift_sweep::slurm::SlurmSettings;
use shift_sweep::{status, JobEnd, LaunchOptions, Launched, Launcher, Runner, Sweep};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Run every job of the grid that is not done (finished jobs are skipped; stopped ones continue from their
    /// checkpoints).
    Launch(LaunchArgs),
    /// Launch only what is neither done nor running nor queued (after a failure, a scancel or a time limit).
    Resubmit(LaunchArgs),
    /// Each job's state: done, running, queued, failed (with the end of its log), not launched.
    Status(SweepFileArgs),
    /// One table over the finished jobs (mean +- std over seeds per task x setting x method): results.md and
    /// results.json in the sweep's folder.
    Collect(SweepFileArgs),
    /// Run the job on line INDEX of a launch's jobs file (what each launched process and array task runs).
    #[command(hide = true)]
    Job(JobArgs),
}

#[derive(Debug, Args)]
pub struct SweepFileArgs {
    /// The sweep file (TOML: tasks, methods, seeds, [base], [grid], [slurm]).
    pub file: PathBuf,
    /// The sweep's folder [default: the file's `out`, else runs/sweeps/<name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LauncherKind {
    /// Processes side by side on this machine (--jobs), the cores shared out between them.
    Local,
    /// One `sbatch --array` job (--partition, --time, --cpus-per-task, --gpus-per-task, --parallel).
    Slurm,
}

#[derive(Debug, Args)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub sweep: SweepFileArgs,
    #[arg(long, value_enum, default_value = "local")]
    pub launcher: LauncherKind,
    /// Local: processes at once.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Data folder (installed by `cargo xtask download`), as the jobs see it.
    #[arg(long, default_value = "datasets")]
    pub data: PathBuf,
    /// Write the launch and print the script (or command) and the jobs file; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Slurm: the partition [default: the file's [slurm] partition, else the cluster's default].
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm: each task's time limit ([D-]HH:MM:SS).
    #[arg(long)]
    pub time: Option<String>,
    /// Slurm: CPUs of each task (also its threads).
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// Slurm: GPUs of each task.
    #[arg(long)]
    pub gpus_per_task: Option<u32>,
    /// Slurm: memory of each task (16G).
    #[arg(long)]
    pub mem: Option<String>,
    /// Slurm: at most this many tasks at once (the %P of --array).
    #[arg(long)]
    pub parallel: Option<u32>,
}

#[derive(Debug, Args)]
pub struct JobArgs {
    /// A launch's jobs file (one job folder per line).
    #[arg(long)]
    pub jobs: PathBuf,
    /// The line, from 0 (Slurm: $SLURM_ARRAY_TASK_ID).
    #[arg(long)]
    pub index: usize,
    /// Threads to train with.
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, default_value = "datasets")]
    pub data: PathBuf,
}

fn load(args: &SweepFileArgs) -> Result<Sweep> {
    Sweep::load(&args.file, args.out.as_deref())
}

/// The file's [slurm] table with the flags over it.
fn slurm_settings(base: &SlurmSettings, a: &LaunchArgs) -> Result<SlurmSettings> {
    let mut s = base.clone();
    if a.partition.is_some() {
        s.partition = a.partition.clone();
    }
    if let Some(t) = &a.time {
        s.time = t.clone();
    }
    if let Some(c) = a.cpus_per_task {
        s.cpus_per_task = c;
    }
    if let Some(g) = a.gpus_per_task {
        s.gpus_per_task = g;
    }
    if a.mem.is_some() {
        s.mem = a.mem.clone();
    }
    if a.parallel.is_some() {
        s.max_parallel = a.parallel;
    }
    s.validate().map_err(|e| anyhow::anyhow!("--launcher slurm: {e}"))?;
    Ok(s)
}

fn launch(a: LaunchArgs, skip_active: bool) -> Result<ExitCode> {
    let sweep = load(&a.sweep)?;
    let launcher = match a.launcher {
        LauncherKind::Local => Launcher::Local { jobs: a.jobs },
        LauncherKind::Slurm => Launcher::Slurm(slurm_settings(&sweep.slurm, &a)?),
    };
    let opts = LaunchOptions {
        launcher,
        exe: std::env::current_exe()?,
        data: a.data.clone(),
        dry_run: a.dry_run,
        skip_active,
    };
    let code = match shift_sweep::launch(&sweep, &opts)? {
        Launched::Nothing { done, active } => {
            println!(
                "sweep {}: nothing to launch ({done} done, {active} running or queued)",
                sweep.name
            );
            ExitCode::SUCCESS
        }
        Launched::Local { finished, stopped } => {
            println!("sweep {}: {finished} jobs finished", sweep.name);
            for s in &stopped {
                println!("  stopped: {s}");
            }
            if stopped.is_empty() {
                ExitCode::SUCCESS
            } else {
                println!("`shift sweep status {}` shows their logs", a.sweep.file.display());
                ExitCode::FAILURE
            }
        }
        Launched::Slurm {
            job_id,
            tasks,
            launch_dir,
        } => {
            println!(
                "sweep {}: submitted Slurm job {job_id} ({tasks} array tasks; script and jobs file in {})",
                sweep.name,
                launch_dir.display()
            );
            ExitCode::SUCCESS
        }
        Launched::DryRun {
            script,
            jobs_file,
            listed,
        } => {
            println!("{script}");
            println!("# {} ({} jobs):\n{listed}", jobs_file.display(), listed.lines().count());
            ExitCode::SUCCESS
        }
    };
    Ok(code)
}

fn job(a: JobArgs) -> Result<ExitCode> {
    let runner = Runner {
        exe: std::env::current_exe()?,
        data: a.data,
        threads: a.threads,
    };
    let folder = shift_sweep::runner::listed(&a.jobs, a.index)?;
    let end = runner.run(&folder)?;
    let dir = folder.dir.display();
    Ok(match end {
        JobEnd::Finished { target_acc } => {
            eprintln!("shift: sweep job {dir}: done, target accuracy {target_acc:.4}");
            ExitCode::SUCCESS
        }
        JobEnd::AlreadyDone => {
            eprintln!("shift: sweep job {dir}: done earlier; nothing ran");
            ExitCode::SUCCESS
        }
        JobEnd::Busy => {
            eprintln!("shift: sweep job {dir}: another process runs it (its lock is held); left to it");
            ExitCode::SUCCESS
        }
        JobEnd::Stopped { code, tail } => {
            eprintln!(
                "shift: sweep job {dir}: stopped without finishing (exit {}); no marker, a relaunch continues it. \
                 The end of its log:\n{tail}",
                code.map_or("by a signal".into(), |c| c.to_string())
            );
            ExitCode::from(code.and_then(|c| u8::try_from(c).ok()).filter(|&c| c != 0).unwrap_or(1))
        }
    })
}

pub fn run(cmd: SweepCommand) -> Result<ExitCode> {
    match cmd {
        SweepCommand::Launch(a) => launch(a, false),
        SweepCommand::Resubmit(a) => launch(a, true),
        SweepCommand::Status(a) => {
            let sweep = load(&a)?;
            let states = status::states(&sweep)?;
            print!("{}", status::report(&sweep, &states));
            Ok(ExitCode::SUCCESS)
        }
        SweepCommand::Collect(a) => {
            let sweep = load(&a)?;
            let table = shift_sweep::collect::collect(&sweep)?;
            println!("{table}");
            println!("results: {} (results.md, results.json)", sweep.out.display());
            Ok(ExitCode::SUCCESS)
        }
        SweepCommand::Job(a) => job(a),
    }
}
