//! MNIST -> MNIST-M runs of `shift experiment dann`: the data on the device, one run per method and seed in its
//! folder (fresh, resumed or reused), the streams each method trains on.

use super::config::{self, ExperimentConfig};
use super::estimate;
use super::run_folder::{Resumed, RunFolder, RunObserver, RunResult};
use anyhow::{Context, Result};
use shift_data::{DigitBatcher, Mnist, MnistM};
use shift_models::digit::DigitNet;
use shift_strategies::{fit, DigitTask, FitEnd, MethodName, Strategy};
use shift_tensor::tch::Device;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// MNIST -> MNIST-M: every method and seed; None when interrupted.
pub fn run(
    data: &Path,
    out: &Path,
    cfg: &ExperimentConfig,
    device: Device,
    stop: &AtomicBool,
    (resume, quick): (bool, bool),
) -> Result<Option<Vec<RunResult>>> {
    let t = Instant::now();
    let mnist = Mnist::load(&data.join("mnist"))?;
    let mnist_m = MnistM::load(&data.join("mnist_m"))?;
    let limit = |d: &shift_data::Digits, l: Option<usize>| l.map_or_else(|| d.clone(), |n| d.take(n));
    let source = limit(&mnist.train, cfg.source_limit).to_tensors(device)?;
    let target = limit(&mnist_m.train, cfg.target_limit).to_tensors(device)?;
    let test = mnist_m.test.to_tensors(device)?;
    eprintln!(
        "shift: data on {device:?} in {:.1}s: MNIST train {} -> MNIST-M train {} (labels unused except by target-only), test {}",
        t.elapsed().as_secs_f64(),
        source.0.size()[0],
        target.0.size()[0],
        test.0.size()[0]
    );
    // The whole experiment's steps, for the estimate in the progress line (and its --quick form's).
    let runs = (cfg.methods.len() * cfg.seeds.len()) as i64;
    let per_run: i64 = cfg
        .methods
        .iter()
        .map(|&m| run_steps(cfg, &digit_task(m, &source, &target, &test)))
        .sum::<i64>()
        * cfg.seeds.len() as i64;
    let short = config::quick(cfg.clone()).train;
    let quick_steps = runs * short.epochs as i64 * short.steps_per_epoch.unwrap_or(0);
    estimate::begin(per_run, (!quick).then_some(quick_steps));
    let mut results = Vec::new();
    for &method in &cfg.methods {
        for &seed in &cfg.seeds {
            let task = digit_task(method, &source, &target, &test);
            let folder = RunFolder::new(out, "mnist-mnistm", method.as_str(), seed);
            match run_one(&folder, cfg, method, seed, device, &task, stop, resume)? {
                Some(r) => results.push(r),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(results))
}

type Pair = (shift_tensor::tch::Tensor, shift_tensor::tch::Tensor);

/// The steps of one run of `task` under `cfg`.
fn run_steps(cfg: &ExperimentConfig, task: &DigitTask) -> i64 {
    let per_epoch = cfg
        .train
        .steps_per_epoch
        .unwrap_or_else(|| task.labelled.steps_per_epoch(cfg.train.batch));
    cfg.train.epochs as i64 * per_epoch
}

/// The streams `method` trains on (its registry entry's data needs): labelled source or labelled target, and the
/// unlabelled target for methods that adapt.
pub fn digit_task(method: MethodName, source: &Pair, target: &Pair, test: &Pair) -> DigitTask {
    let needs = method.data();
    let labelled = if needs.labelled_target { target } else { source };
    let batcher = |t: &Pair| DigitBatcher::new(t.0.shallow_clone(), t.1.shallow_clone());
    DigitTask {
        labelled: batcher(labelled),
        unlabelled: needs.unlabelled_target.then(|| batcher(target)),
        test: (test.0.shallow_clone(), test.1.shallow_clone()),
    }
}

fn build_strategy(method: MethodName, net: DigitNet, cfg: &ExperimentConfig) -> Result<Box<dyn Strategy>> {
    let (strategy, note) = cfg
        .step
        .build(net, method, cfg.train.momentum, cfg.train.weight_decay)?;
    if let Some(note) = note {
        eprintln!("shift: {note}");
    }
    Ok(strategy)
}

/// One run in its folder: fresh, resumed from its checkpoint, or reused when finished (with --resume).
#[allow(clippy::too_many_arguments)]
pub fn run_one(
    folder: &RunFolder,
    cfg: &ExperimentConfig,
    method: MethodName,
    seed: u64,
    device: Device,
    task: &DigitTask,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<RunResult>> {
    let label = format!("{method} seed {seed}");
    if let Some(done) = folder.finished_earlier(cfg, resume, &label)? {
        estimate::skip(run_steps(cfg, task));
        return Ok(Some(done));
    }
    shift_tensor::seed_everything(seed);
    let mut strategy = build_strategy(method, DigitNet::new(device), cfg)?;
    let mut config =
        serde_json::json!({ "experiment": cfg, "method": method, "seed": seed, "device": format!("{device:?}") });
    if let Some(why) = strategy.fallback() {
        config["step_fallback"] = why.into();
    }
    if cfg.deterministic {
        config["cpu_pins"] = serde_json::json!(shift_tensor::cpu_pins::recorded()
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>());
    }
    let Resumed {
        next: start,
        seconds,
        accuracy,
    } = folder.resume_or_start(strategy.as_mut(), resume, config)?;
    estimate::skip(run_steps(cfg, task) / cfg.train.epochs as i64 * start.epoch as i64 + start.step);
    let mut observer = RunObserver::new(folder, stop, label, cfg.train.epochs, seconds, accuracy);
    let end = fit(strategy.as_mut(), task, &cfg.train, seed, start, &mut observer)
        .with_context(|| format!("{method} seed {seed} (run folder {})", folder.dir.display()))?;
    observer.bar.finish_and_clear();
    if let FitEnd::Interrupted { .. } = end {
        return Ok(None);
    }
    let acc = observer.accuracy.clone();
    let mut result =
        super::run_folder::finish(folder, method, seed, device, acc, observer.seconds(), cfg.train.epochs)?;
    if let Some(why) = strategy.fallback() {
        result.step_fallback = Some(why);
        folder.write_result(&result)?;
    }
    Ok(Some(result))
}
