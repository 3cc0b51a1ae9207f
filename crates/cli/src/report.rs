//! `shift report validators RUNS...`: the validators ranked over every checkpoint of finished runs.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use shift_experiments::ranking;
use shift_experiments::run_folder::write_atomic;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Rank the validators over every epoch of the given runs (Spearman correlation with target accuracy, and
    /// the accuracy of each validator's picks beside the oracle's), one table per task.
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

pub fn run(cmd: ReportCommand) -> Result<()> {
    match cmd {
        ReportCommand::Validators(a) => validators(a),
    }
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
