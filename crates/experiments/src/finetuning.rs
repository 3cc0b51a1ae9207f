//! The fine-tuning experiment (`shift experiment finetune`): the task's label budgets and `--quick` schedule,
//! the configuration's checks, the task's fine-tuning runs ([`crate::finetune`]) and the report.

use crate::finetune::{parse_k, plot, table, FinetuneConfig, FinetuneSetting};
use crate::report::Finished;
use crate::run_folder::write_atomic;
use crate::tasks::Task;
use crate::Invocation;
use anyhow::{bail, Result};
use std::time::Instant;

/// `--quick`: the task's short schedule, a few minutes on two CPU cores for the digits. Office-31 gets a short
/// schedule too, but a ResNet-50 step on two cores takes seconds, so it is a smoke run rather than a result.
pub fn quick(c: &mut FinetuneConfig, task: &Task) {
    task.finetune_quick(c);
}

/// The k values a task runs when `labels_per_class` is unset: 1, 5, 10, 50, 100, all for digits; 1, 3, 5, 10 for
/// Office-31 (whose unlabelled rest is the test set).
pub fn default_ks(c: &mut FinetuneConfig, task: &Task) {
    c.labels_per_class
        .get_or_insert_with(|| task.finetune_ks().iter().map(|k| k.to_string()).collect());
}

/// Runs the fine-tuning experiment `cfg` (validated first: errors name the key) and writes its report into
/// `at.out`. None when a stop was requested (finished runs are kept; `--resume` continues).
pub fn run(cfg: &FinetuneConfig, at: &Invocation) -> Result<Option<Finished>> {
    let task = Task::parse(&cfg.task)?;
    let mut cfg = cfg.clone();
    default_ks(&mut cfg, &task);
    let cfg = &cfg;
    let ks: Vec<Option<usize>> = cfg
        .labels_per_class
        .iter()
        .flatten()
        .map(|k| parse_k(k))
        .collect::<Result<_>>()?;
    if cfg.policies.is_empty() || cfg.pretraining.is_empty() || cfg.seeds.is_empty() || ks.is_empty() {
        bail!("`policies`, `pretraining`, `seeds` and `labels_per_class` each need at least one value");
    }
    if cfg.finetune_steps <= 0 || cfg.finetune_epochs == 0 {
        bail!("`finetune_steps` and `finetune_epochs` must be at least 1");
    }
    cfg.pretrain.validate_at("pretrain")?;
    if let Some(m) = cfg.regularisers.iter().find(|m| !m.data().regulariser) {
        let known: Vec<String> = shift_strategies::MethodName::all()
            .filter(|m| m.data().regulariser)
            .map(|m| m.to_string())
            .collect();
        bail!(
            "`regularisers`: {m} is not a fine-tuning regulariser (they are: {})",
            known.join(", ")
        );
    }
    crate::config::check_params(&cfg.params)?;
    cfg.finetune_lr.validate_at("finetune_lr")?;
    task.check_finetune(cfg, &ks)?;
    for (flag, path) in [("from", &cfg.from), ("from_dann", &cfg.from_dann)] {
        if let Some(p) = path.as_ref().filter(|p| !p.is_file()) {
            bail!(
                "`{flag}`: {} is not a file (give an earlier run's checkpoint.pt)",
                p.display()
            );
        }
    }
    task.check_step(cfg.step)?;
    let (device, stop) = crate::session::prepare(&cfg.device, cfg.deterministic)?;
    let started = Instant::now();
    let out = &at.out;
    let setting = FinetuneSetting {
        at,
        device,
        stop: &stop,
    };
    let results = task.finetune(cfg, &ks, setting)?;
    let Some((title, results)) = results else {
        return Ok(None);
    };
    let chart = plot(cfg, &ks, &results);
    write_atomic(&out.join("accuracy_vs_k.svg"), &chart.svg()?)?;
    chart.png(&out.join("accuracy_vs_k.png"))?;
    let doc = serde_json::json!({ "config": cfg, "runs": results });
    Ok(Some(Finished::write(
        out,
        table(&title, cfg, &ks, &results),
        &doc,
        "results.md, results.json, accuracy_vs_k.png, accuracy_vs_k.svg",
        started,
    )?))
}
