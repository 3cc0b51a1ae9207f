//! The one run driver: a run in its folder, fresh, resumed from its checkpoint, or reused when it finished
//! earlier (`--resume`), trained by the epoch loop ([`shift_strategies::fit`]) on any [`EpochData`].

use crate::config::ExperimentConfig;
use crate::estimate;
use crate::run_folder::{History, Resumed, RunFolder, RunObserver, RunResult};
use anyhow::{bail, Context, Result};
use shift_strategies::{fit, EpochData, FitEnd, MethodName, Strategy};
use shift_tensor::tch::Device;
use std::sync::atomic::AtomicBool;

/// Which run: its folder, the experiment's configuration, the method, the seed and the device.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub folder: &'a RunFolder,
    pub cfg: &'a ExperimentConfig,
    pub method: MethodName,
    pub seed: u64,
    pub device: Device,
    /// An Office-31 backbone without ImageNet weights: marked in result.json and the table.
    pub random_init_backbone: bool,
}

impl Run<'_> {
    /// "dann seed 0".
    pub fn label(&self) -> String {
        format!("{} seed {}", self.method, self.seed)
    }

    /// The steps of the whole run on `data`.
    pub fn steps(&self, data: &dyn EpochData) -> i64 {
        run_steps(self.cfg, data)
    }
}

/// The steps of one run on `data` under `cfg`.
pub fn run_steps(cfg: &ExperimentConfig, data: &dyn EpochData) -> i64 {
    let per_epoch = cfg
        .train
        .steps_per_epoch
        .unwrap_or_else(|| data.full_pass(cfg.train.batch));
    cfg.train.epochs as i64 * per_epoch
}

/// Runs `run` on `data` with the strategy `build` makes (called after the run's seed is set, so the network's
/// initial weights follow the seed): reused when it finished earlier with the same configuration (`resume`),
/// continued from its checkpoint (`resume`), or started afresh. config.json records the experiment, the method,
/// its resolved hyper-parameters, the seed, the device, the fast step's fallback and the CPU pins. None when a stop was requested (the
/// checkpoint is saved).
pub fn run_one(
    run: &Run,
    data: &dyn EpochData,
    stop: &AtomicBool,
    resume: bool,
    build: impl FnOnce() -> Result<Box<dyn Strategy>>,
) -> Result<Option<RunResult>> {
    let (cfg, folder, label) = (run.cfg, run.folder, run.label());
    let hyper_parameters = serde_json::json!(cfg.spec(run.method)?.values());
    if let Some(done) = folder.finished_earlier(cfg, &hyper_parameters, resume, &label)? {
        estimate::skip(run.steps(data));
        return Ok(Some(done));
    }
    shift_tensor::seed_everything(run.seed);
    let mut strategy = build()?;
    let mut config = serde_json::json!({
        "experiment": cfg,
        "method": run.method,
        "seed": run.seed,
        "device": format!("{:?}", run.device),
        "hyper_parameters": hyper_parameters,
    });
    if let Some(why) = strategy.fallback() {
        config["step_fallback"] = why.into();
    }
    if cfg.deterministic {
        config["cpu_pins"] = serde_json::json!(shift_tensor::cpu_pins::recorded()
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>());
        config["deterministic_algorithms"] = shift_tensor::determinism::WARN_ONLY.into();
    }
    let Resumed {
        next: start,
        seconds,
        history,
    } = folder.resume_or_start(strategy.as_mut(), resume, config)?;
    estimate::skip(run.steps(data) / cfg.train.epochs as i64 * start.epoch as i64 + start.step);
    let mut observer = RunObserver::new(folder, stop, label.clone(), cfg.train.epochs, seconds, history);
    let end = fit(strategy.as_mut(), data, &cfg.train, run.seed, start, &mut observer)
        .with_context(|| format!("{label} (run folder {})", folder.dir.display()))?;
    if let FitEnd::Interrupted { .. } = end {
        return Ok(None);
    }
    observer.bar.finish_and_clear();
    let wall_s = observer.seconds();
    finish(run, observer.history, wall_s, strategy.fallback()).map(Some)
}

/// Writes a finished run's result.json, once, from its accuracy per epoch (the last epoch's is the headline)
/// and its validators' scores, with the marks that qualify its numbers: the fast step's fallback, a random-init
/// backbone.
fn finish(run: &Run, history: History, wall_s: f64, step_fallback: Option<String>) -> Result<RunResult> {
    let History {
        accuracy: acc,
        validators,
        validator_errors,
    } = history;
    let Some(&last) = acc.last() else {
        bail!("{}: no epoch finished", run.folder.dir.display())
    };
    let result = RunResult {
        method: run.method.as_str().into(),
        seed: run.seed,
        target_acc: last,
        // NaN where the target is unlabelled (every epoch's accuracy is NaN).
        oracle_best_acc: acc.iter().copied().reduce(f64::max).unwrap_or(f64::NAN),
        epochs: run.cfg.train.epochs,
        wall_s,
        device: format!("{:?}", run.device),
        accuracy_per_epoch: acc,
        validators_per_epoch: validators,
        validator_errors,
        proxy_a_distance: None,
        step_fallback,
        random_init_backbone: run.random_init_backbone,
        cpu_threads: (run.device == Device::Cpu).then(|| shift_tensor::tch::get_num_threads() as usize),
    };
    run.folder.write_result(&result)?;
    eprintln!(
        "shift: {}: target accuracy {last:.4} (last epoch), {wall_s:.1}s",
        run.label()
    );
    Ok(result)
}
