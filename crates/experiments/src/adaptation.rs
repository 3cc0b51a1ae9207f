//! The adaptation experiment (`shift experiment dann`): the configured methods over seeds on any registered task
//! ([`crate::tasks`]), one run folder per run, then the table beside the published numbers, results.json, the
//! accuracy plot and the task's figure.

use crate::config::ExperimentConfig;
use crate::report::Finished;
use crate::run_folder::RunResult;
use crate::table::Table;
use crate::tasks::{Outcome, Setting, Task};
use crate::{page, report, session, Invocation};
use anyhow::Result;
use std::time::Instant;

/// The results of `runs` (of `methods`, in that order) on `task` under `cfg`: the summaries and the table, with
/// the notes that qualify it (the runs' marks, where the schedule differs from the paper's, and the task's own).
pub fn results(
    task: &Task,
    cfg: &ExperimentConfig,
    methods: &[shift_strategies::MethodName],
    runs: &[RunResult],
) -> Result<(Vec<report::Summary>, Table)> {
    let off = crate::tasks::off_schedule(cfg)?;
    let summaries = report::summarise(
        methods,
        runs,
        |m| task.anchors(m, cfg.features),
        off.is_empty(),
        &cfg.validation.select,
    );
    let mut table = report::table(&task.slug(), &summaries);
    table.notes.extend(report::run_notes(runs));
    if summaries.iter().any(|s| s.published_withheld) {
        table.notes.push(format!(
            "published numbers are set beside runs of the paper's schedule only; this one differs in {}",
            off.join(", ")
        ));
    }
    table.notes.extend(task.notes(cfg, runs, &summaries));
    Ok((summaries, table))
}

/// Runs every method and seed of `cfg` (validated first: errors name the key), writes the report into
/// `at.out`. None when a stop was requested (every run's checkpoint is saved; `--resume` continues).
pub fn run(cfg: &ExperimentConfig, at: &Invocation) -> Result<Option<Finished>> {
    let task = cfg.validate()?;
    let (device, stop) = session::prepare(&cfg.device, cfg.deterministic)?;
    let started = Instant::now();
    eprintln!(
        "shift: {} on {device:?}: methods {:?}, seeds {:?}, {} epochs",
        task.slug(),
        cfg.methods,
        cfg.seeds,
        cfg.train.epochs
    );
    let setting = Setting {
        cfg,
        at,
        device,
        stop: &stop,
    };
    let runs = match task.run(&setting)? {
        None => return Ok(None),
        Some(Outcome::Reported(finished)) => return Ok(Some(finished)),
        Some(Outcome::Runs(runs)) => runs,
    };
    let config_json = serde_json::to_value(cfg)?;
    let (summaries, table) = results(&task, cfg, &cfg.methods, &runs)?;
    report::write(&at.out, &task.slug(), &config_json, &runs, &summaries, &table)?;
    let figure = task.figure(at, &runs, device)?;
    page::write(&at.out, &task.slug(), &table, &runs, figure.as_deref())?;
    let mut files = "results.md, results.json, accuracy.png, accuracy.svg, report.html".to_string();
    if let Some(name) = figure.as_ref().and_then(|f| f.file_name()) {
        files.push_str(&format!(", {}", name.to_string_lossy()));
    }
    Ok(Some(Finished {
        table: table.markdown(),
        seconds: started.elapsed().as_secs_f64(),
        files,
    }))
}
