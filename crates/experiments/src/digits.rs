//! MNIST -> MNIST-M runs of `shift experiment dann`: the data on the device, one run per method and seed in its
//! folder (fresh, resumed or reused), the streams each method trains on.

use crate::config::{self, ExperimentConfig};
use crate::estimate;
use crate::run::{run_one, run_steps, Run};
use crate::run_folder::{RunFolder, RunResult};
use anyhow::Result;
use shift_data::{DigitBatcher, Mnist, MnistM};
use shift_models::digit::DigitNet;
use shift_strategies::{DigitTask, MethodName};
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
    // The quick form's steps, in steps of this configuration's batch (a step's time goes with its batch).
    let short = config::quick(cfg.clone()).train;
    let quick_steps =
        runs * short.epochs as i64 * short.steps_per_epoch.unwrap_or(0) * short.batch / cfg.train.batch.max(1);
    estimate::begin(per_run, (!quick).then_some(quick_steps));
    let mut results = Vec::new();
    for &method in &cfg.methods {
        for &seed in &cfg.seeds {
            let task = digit_task(method, &source, &target, &test);
            let folder = RunFolder::new(out, "mnist-mnistm", method.as_str(), seed);
            match run_digits(&folder, cfg, method, seed, device, &task, stop, resume)? {
                Some(r) => results.push(r),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(results))
}

type Pair = (shift_tensor::tch::Tensor, shift_tensor::tch::Tensor);

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

/// One digit run in its folder: the paper's digit net, the configured step, through the run driver. None when
/// a stop was requested.
#[allow(clippy::too_many_arguments)]
pub fn run_digits(
    folder: &RunFolder,
    cfg: &ExperimentConfig,
    method: MethodName,
    seed: u64,
    device: Device,
    task: &DigitTask,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<RunResult>> {
    let run = Run {
        folder,
        cfg,
        method,
        seed,
        device,
        random_init_backbone: false,
    };
    run_one(&run, task, stop, resume, || {
        let (strategy, note) = cfg.step.build(
            DigitNet::new(device),
            cfg.spec(method)?,
            cfg.train.momentum,
            cfg.train.weight_decay,
        )?;
        if let Some(note) = note {
            eprintln!("shift: {note}");
        }
        Ok(strategy)
    })
}
