//! `shift experiment dann`: source-only, DANN and target-only on MNIST -> MNIST-M (or Office-31), over seeds,
//! with a run folder per run, a results table beside the paper's numbers, and a plot.

mod anchors;
pub(crate) mod config;
pub(crate) mod estimate;
pub mod finetune;
mod report;
pub(crate) mod run_folder;

use anyhow::{bail, Context, Result};
use clap::Args;
use config::{ExperimentConfig, Task};
use run_folder::{Resumed, RunFolder, RunObserver, RunResult};
use shift_data::{DigitBatcher, Mnist, MnistM};
use shift_models::digit::DigitNet;
use shift_strategies::{fit, DigitTask, FitEnd, MethodName, Strategy};
use shift_tensor::tch::Device;
use shift_tensor::DeviceSpec;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct DannArgs {
    #[command(flatten)]
    common: config::CommonArgs,
    /// mnist:mnist-m, or office31:A-W (A, D, W in any pair).
    #[arg(long)]
    task: Option<String>,
    /// Comma-separated methods (the registry's names).
    #[arg(long, value_delimiter = ',', value_parser = method_parser())]
    methods: Option<Vec<MethodName>>,
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per domain per step.
    #[arg(long)]
    batch: Option<i64>,
    /// Steps per epoch (default: one pass over the labelled data).
    #[arg(long)]
    steps_per_epoch: Option<i64>,
    /// Use only the first N labelled source images.
    #[arg(long)]
    source_limit: Option<usize>,
    /// Use only the first N target train images.
    #[arg(long)]
    target_limit: Option<usize>,
    /// Office-31: resnet50.
    #[arg(long)]
    backbone: Option<String>,
    /// Office-31: torchvision-named ResNet-50 weights (.safetensors or .ot).
    #[arg(long)]
    pretrained: Option<PathBuf>,
    /// The train step: eager, or fast (one flat optimiser buffer, schedules on the device, the whole step
    /// replayed from a CUDA graph on CUDA).
    #[arg(long)]
    step: Option<shift_strategies::StepKind>,
}

/// `--methods` values: the registry's names, each with its line of help.
pub(crate) fn method_parser() -> impl clap::builder::TypedValueParser<Value = MethodName> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(MethodName::all().map(|m| PossibleValue::new(m.as_str()).help(m.info().help)))
        .try_map(|s| s.parse::<MethodName>())
}

impl DannArgs {
    fn config(&self) -> Result<ExperimentConfig> {
        let mut c: ExperimentConfig = match &self.common.config {
            Some(path) => config::load_experiment(path)?,
            None => ExperimentConfig::default(),
        };
        if self.common.quick {
            c = config::quick(c);
        }
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = &self.$field {
                    c.$field = v.clone();
                }
            };
        }
        set!(task);
        set!(methods);
        if self.backbone.is_some() {
            c.backbone = self.backbone.clone();
        }
        if let Some(v) = &self.common.seeds {
            c.seeds = v.clone();
        }
        if let Some(v) = &self.common.device {
            c.device = v.clone();
        }
        if let Some(v) = self.epochs {
            c.train.epochs = v;
        }
        if let Some(v) = self.batch {
            c.train.batch = v;
        }
        if self.steps_per_epoch.is_some() {
            c.train.steps_per_epoch = self.steps_per_epoch;
        }
        if self.source_limit.is_some() {
            c.source_limit = self.source_limit;
        }
        if self.target_limit.is_some() {
            c.target_limit = self.target_limit;
        }
        if self.pretrained.is_some() {
            c.pretrained = self.pretrained.clone();
        }
        if let Some(v) = self.step {
            c.step = v;
        }
        c.deterministic |= self.common.deterministic;
        Ok(c)
    }

    fn out(&self) -> PathBuf {
        self.common.out.clone().unwrap_or_else(|| "runs/dann".into())
    }
}

/// What every experiment does first: resolve the device (an error where it is absent), set determinism, and
/// turn Ctrl-C into a stop flag that the training loops check after each step.
pub(crate) fn prepare(device: &str, deterministic: bool) -> Result<(Device, Arc<AtomicBool>)> {
    if deterministic {
        // Before libtorch starts: the CPU code paths pinned (the process restarts itself once to get them).
        shift_tensor::cpu_pins::restart_pinned()?;
    }
    let device = device.parse::<DeviceSpec>()?.resolve()?;
    shift_tensor::set_deterministic(deterministic)?;
    let stop = stop_on_ctrl_c().unwrap_or_else(|why| {
        eprintln!("shift: {why}");
        Arc::new(AtomicBool::new(false))
    });
    Ok((device, stop))
}

/// A flag that Ctrl-C sets (the loops check it after each step and save a checkpoint), or why there is none: then
/// Ctrl-C ends the run without a checkpoint, and the caller says so.
pub(crate) fn stop_on_ctrl_c() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A second Ctrl-C while the checkpoint is written is ignored; the run stops at the next step.
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot handle Ctrl-C ({e}): an interrupt ends the run without saving a checkpoint"))?;
    Ok(stop)
}

pub fn run(args: DannArgs) -> Result<()> {
    let cfg = args.config()?;
    let task = cfg.validate()?;
    let (device, stop) = prepare(&cfg.device, cfg.deterministic)?;
    let started = Instant::now();
    eprintln!(
        "shift: {} on {device:?}: methods {:?}, seeds {:?}, {} epochs",
        task.slug(),
        cfg.methods,
        cfg.seeds,
        cfg.train.epochs
    );
    let runs = match task {
        Task::MnistToMnistM => run_digits(&args, &cfg, device, &stop)?,
        Task::Office31 { .. } => super::office::run(
            &args.common.data,
            &args.out(),
            &cfg,
            task,
            device,
            &stop,
            args.common.resume,
        )?,
    };
    let Some(runs) = runs else {
        eprintln!("shift: interrupted; the checkpoint is saved. Continue with the same command and --resume.");
        std::process::exit(130);
    };
    let config_json = serde_json::to_value(&cfg)?;
    let summaries = report::summarise(&cfg.methods, &runs, |m| anchors::anchor(task, m));
    let table = report::table(&task.slug(), &summaries) + &report::run_notes(&runs);
    report::write(&args.out(), &task.slug(), &config_json, &runs, &summaries, &table)?;
    println!("\n{table}");
    println!(
        "results: {} (results.md, results.json, accuracy.svg); total {:.1} s",
        args.out().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// MNIST -> MNIST-M: every method and seed; None when interrupted.
fn run_digits(
    args: &DannArgs,
    cfg: &ExperimentConfig,
    device: Device,
    stop: &AtomicBool,
) -> Result<Option<Vec<RunResult>>> {
    let t = Instant::now();
    let mnist = Mnist::load(&args.common.data.join("mnist"))?;
    let mnist_m = MnistM::load(&args.common.data.join("mnist_m"))?;
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
    let quick = config::quick(cfg.clone()).train;
    let quick_steps = runs * quick.epochs as i64 * quick.steps_per_epoch.unwrap_or(0);
    estimate::begin(per_run, (!args.common.quick).then_some(quick_steps));
    let mut results = Vec::new();
    for &method in &cfg.methods {
        for &seed in &cfg.seeds {
            let task = digit_task(method, &source, &target, &test);
            let folder = RunFolder::new(&args.out(), "mnist-mnistm", method.as_str(), seed);
            match run_one(&folder, cfg, method, seed, device, &task, stop, args.common.resume)? {
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
pub(crate) fn digit_task(method: MethodName, source: &Pair, target: &Pair, test: &Pair) -> DigitTask {
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
pub(crate) fn run_one(
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
    if resume {
        folder.check_same_config(&serde_json::json!({ "experiment": cfg }))?;
        if let Some(done) = folder.result()? {
            eprintln!("shift: {label}: finished earlier, reusing {}", folder.dir.display());
            estimate::skip(run_steps(cfg, task));
            return Ok(Some(done));
        }
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
    let mut result = finish(folder, method, seed, device, acc, observer.seconds(), cfg.train.epochs)?;
    if let Some(why) = strategy.fallback() {
        result.step_fallback = Some(why);
        folder.write_result(&result)?;
    }
    Ok(Some(result))
}

pub(crate) fn finish(
    folder: &RunFolder,
    method: MethodName,
    seed: u64,
    device: Device,
    acc: Vec<f64>,
    wall_s: f64,
    epochs: usize,
) -> Result<RunResult> {
    let Some(&last) = acc.last() else {
        bail!("{}: no epoch finished", folder.dir.display())
    };
    let result = RunResult {
        method: method.as_str().into(),
        seed,
        target_acc: last,
        oracle_best_acc: acc.iter().copied().fold(f64::MIN, f64::max),
        epochs,
        wall_s,
        device: format!("{device:?}"),
        accuracy_per_epoch: acc,
        step_fallback: None,
        random_init_backbone: false,
    };
    folder.write_result(&result)?;
    eprintln!("shift: {method} seed {seed}: target accuracy {last:.4} (last epoch), {wall_s:.1}s");
    Ok(result)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_ctrl_c_handler_is_reported() {
        // The first handler of the process installs; a second cannot, and says what that means.
        let first = super::stop_on_ctrl_c();
        assert!(first.is_ok(), "{:?}", first.err());
        let why = super::stop_on_ctrl_c().unwrap_err();
        assert!(
            why.contains("cannot handle Ctrl-C") && why.contains("without saving a checkpoint"),
            "{why}"
        );
    }
}
