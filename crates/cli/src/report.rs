//! `shift report results|validators RUNS...`: the results table of finished runs (of an experiment still running,
//! or of several), and the validators ranked over every checkpoint of them.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use shift_experiments::config::{self, ExperimentConfig};
use shift_experiments::run_folder::write_atomic;
use shift_experiments::{adaptation, ranking, selection, Task};
use shift_strategies::MethodName;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The results table (the experiment's own: mean +- std and per seed of the last epoch, the published
    /// number, the validator's pick, the oracle, the A-distance) over the finished runs given, one per task.
    Results(ResultsArgs),
    /// Rank the validators over every epoch of the given runs (weighted Spearman correlation with target
    /// accuracy as Musgrave et al. 2022, pooled and within each method, plain Spearman, and the accuracy of each
    /// validator's picks beside the oracle's), per task.
    Validators(ValidatorsArgs),
}

#[derive(Debug, Args)]
pub struct ValidatorsArgs {
    /// Run folders, experiment output folders or any folder above them: every result.json under them counts.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Also write the table and its numbers as validators.md and validators.json into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// Run folders, experiment output folders or any folder above them: every result.json under them counts.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The validator whose pick the table shows (any validator's name); default: the one the first run was
    /// configured with (`validation.select`).
    #[arg(long)]
    pub select: Option<String>,
}

pub fn run(cmd: ReportCommand) -> Result<()> {
    match cmd {
        ReportCommand::Results(a) => results(a),
        ReportCommand::Validators(a) => validators(a),
    }
}

/// One table per task; the schedule (and so whether published numbers stand beside the rows) and the validator
/// are the first run's (the validator `--select` where given), and runs of other schedules or validation
/// settings are refused, naming both folders. `validation.select` may differ between runs: it chooses nothing
/// in training, only the table's pick.
fn results(a: ResultsArgs) -> Result<()> {
    if let Some(name) = &a.select {
        selection::known_validator("--select", name)?;
    }
    let runs = ranking::find_runs(&a.runs)?;
    if runs.is_empty() {
        anyhow::bail!(
            "no result.json under {}",
            a.runs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut tasks: Vec<&str> = runs.iter().map(|r| r.task.as_str()).collect();
    tasks.dedup();
    for task in tasks {
        let of_task: Vec<&ranking::FoundRun> = runs.iter().filter(|r| r.task == task).collect();
        let config_of = |r: &ranking::FoundRun| -> Result<ExperimentConfig> {
            let dir = r.path.parent().unwrap_or(Path::new("."));
            config::load_experiment(&dir.join("config.json"))
        };
        let mut first = config_of(of_task[0])?;
        if let Some(name) = &a.select {
            first.validation.select.clone_from(name);
        }
        for r in &of_task[1..] {
            let mut cfg = config_of(r)?;
            cfg.validation.select.clone_from(&first.validation.select);
            if shift_experiments::tasks::off_schedule(&cfg)? != shift_experiments::tasks::off_schedule(&first)?
                || cfg.validation != first.validation
            {
                anyhow::bail!(
                    "{} and {} ran under different configurations (schedule or validation): give runs of one \
                     experiment",
                    of_task[0].path.display(),
                    r.path.display()
                );
            }
        }
        // Runs of an experiment over several tasks (amazon:all, fsdd:all) sit in one folder per part: each
        // part's table takes that part's name and published numbers.
        let whole = Task::parse(&first.task)?;
        let parsed = whole.part(task).unwrap_or(whole);
        let methods: Vec<MethodName> = MethodName::all()
            .filter(|m| of_task.iter().any(|r| r.result.method == m.as_str()))
            .collect();
        let results: Vec<_> = of_task.iter().map(|r| r.result.clone()).collect();
        let (_, table) = adaptation::results(&parsed, &first, &methods, &results)?;
        println!("{}", table.markdown());
    }
    Ok(())
}

fn validators(a: ValidatorsArgs) -> Result<()> {
    let runs = ranking::find_runs(&a.runs)?;
    let rankings = ranking::rank(&runs)?;
    let table: String = ranking::tables(&rankings).iter().map(|t| t.markdown() + "\n").collect();
    print!("{table}");
    if let Some(out) = a.out {
        std::fs::create_dir_all(&out).with_context(|| format!("--out {}: cannot create it", out.display()))?;
        write_atomic(&out.join("validators.md"), &table)?;
        write_atomic(&out.join("validators.json"), &serde_json::to_string_pretty(&rankings)?)?;
        eprintln!("shift: {} and validators.json", out.join("validators.md").display());
    }
    Ok(())
}
