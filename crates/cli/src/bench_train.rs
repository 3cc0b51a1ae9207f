//! `shift bench train`: the digit DANN train step (paper net, batch 64 source + 64 target, SGD momentum 0.9,
//! gradient reversal), eager and fast (flat optimiser, device-side schedules, CUDA graph on CUDA); with
//! `--backbone audio-cnn`, the spoken digits' step (the audio CNN, batch 32 + 32 log-mel spectrograms of 40 bands
//! and 101 frames, eager); with `--backbone mnist-cnn`, the multi-domain step of domain generalisation (DomainBed's
//! MNIST ConvNet, 64 ColoredMNIST-shaped images from each of two training domains drawn with replacement, Adam at
//! 1e-3, eager).
//! 1. Steps/s and images (or recordings)/s on synthetic device-resident data, like `bench/reference_dann.py
//!    --mode speed`: after warm-up, the median of several timed windows.
//! 2. With `--data DIR` (MNIST + MNIST-M installed): one full epoch (937 steps with on-device batch drawing, the
//!    metrics read and the test evaluation), and with `--to-accuracy A` the wall time until MNIST-M test accuracy
//!    reaches A under the paper's 20-epoch schedule (evaluated every quarter epoch, evaluations included).
//!
//! Prints a table; `--json FILE` writes the numbers.

use anyhow::{Context, Result};
use clap::Args;
use shift_data::{DigitBatcher, Mnist, MnistM};
use shift_models::audio_cnn::AudioCnn;
use shift_models::mnist_cnn::MnistCnn;
use shift_models::{AdaptNet, DigitBackbone};
use shift_strategies::synthetic::SyntheticDigits;
use shift_strategies::{
    fit, methods::EpochStart, DigitTask, EpochRecord, FitEnd, MethodName, MethodSpec, Observer, Position, StepBatch,
    StepKind, Strategy, StrategyError, TrainConfig,
};
use shift_tensor::tch::{Device, Kind, Tensor};
use shift_tensor::DeviceSpec;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchTrainArgs {
    #[arg(long, default_value = "auto")]
    device: String,
    /// Steps per timed window.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Timed windows (the median is reported).
    #[arg(long, default_value_t = 5)]
    windows: usize,
    /// Which steps to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "eager,fast")]
    step: Vec<StepKind>,
    /// The methods whose step rate to measure (comma-separated; the full epoch and time-to-accuracy runs are
    /// DANN's). A method the fast step cannot capture gets a row saying why.
    #[arg(long, value_delimiter = ',', value_parser = crate::experiment::method_parser(), default_value = "dann")]
    methods: Vec<MethodName>,
    /// The backbone the step rates are measured on: digit (the paper's net), digit-bn, vada-cnn, vada-cnn-in
    /// (3 x 32 x 32 inputs, batch 64 + 64), audio-cnn (the spoken digits' net: 40 x 101 log-mel inputs, batch
    /// 32 + 32, eager step only), mnist-cnn (DomainBed's net: 2 x 28 x 28 inputs, 64 from each of two training
    /// domains, Adam, eager step only; for the methods over domains: erm, irm, dg-coral, dg-dann, ...), or
    /// multi-lenet (MultiMNIST's net: 1 x 28 x 28 inputs with a class for each of two tasks, batch 256, eager step
    /// only; for the multitask weightings: equal, uncertainty, mgda-ub, pcgrad, single-task).
    #[arg(long, default_value = "digit")]
    backbone: BenchBackbone,
    /// Data folder with MNIST and MNIST-M: adds the full-epoch measurement.
    #[arg(long)]
    data: Option<PathBuf>,
    /// With --data: also the wall time to reach this MNIST-M test accuracy (paper schedule, DANN, seed 0).
    #[arg(long)]
    to_accuracy: Option<f64>,
    /// cuDNN deterministic without benchmarking (as `experiment --deterministic`); by default cuDNN times its
    /// algorithms, as the experiments do.
    #[arg(long)]
    deterministic: bool,
    #[arg(long)]
    json: Option<PathBuf>,
}

/// A backbone of `shift bench train`: one of the digit nets, the audio CNN, DomainBed's MNIST ConvNet, or
/// MultiLeNet.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BenchBackbone {
    Digit(DigitBackbone),
    AudioCnn,
    MnistCnn,
    MultiLeNet,
}

/// The training domains of the multi-domain step (ColoredMNIST's, testing on one of its three).
const BENCH_DOMAINS: i64 = 2;

impl std::str::FromStr for BenchBackbone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "audio-cnn" => Ok(Self::AudioCnn),
            "mnist-cnn" => Ok(Self::MnistCnn),
            "multi-lenet" => Ok(Self::MultiLeNet),
            other => other
                .parse()
                .map(Self::Digit)
                .map_err(|e: String| format!("{e}, audio-cnn, mnist-cnn or multi-lenet")),
        }
    }
}

impl BenchBackbone {
    fn build(self, device: Device) -> Box<dyn AdaptNet> {
        match self {
            Self::Digit(d) => d.build(device),
            Self::AudioCnn => Box::new(AudioCnn::new(device, 10)),
            Self::MnistCnn => Box::new(MnistCnn::new(device, 2, 2)),
            Self::MultiLeNet => Box::new(shift_models::multi_lenet::MultiLeNet::new(device, 2)),
        }
    }

    /// Whether the step trains on blocks of several training domains (domain generalisation).
    fn multi_domain(self) -> bool {
        self == Self::MnistCnn
    }

    /// Whether the step trains a head per task (MultiMNIST's two).
    fn multitask(self) -> bool {
        self == Self::MultiLeNet
    }

    /// The synthetic data: examples per domain, the batch of each domain, and an example's shape.
    fn data(self) -> (i64, i64, &'static [i64]) {
        match self {
            Self::Digit(_) => (8192, 64, &[3, 32, 32]),
            Self::AudioCnn => (2048, 32, &[40, 101]),
            Self::MnistCnn => (4096, 64, &[2, 28, 28]),
            Self::MultiLeNet => (8192, 256, &[1, 28, 28]),
        }
    }

    /// The network's name in the table's title, and what its examples are (the throughput row's unit).
    fn names(self) -> (String, &'static str) {
        match self {
            Self::Digit(d) => (format!("{d} net"), "images/s"),
            Self::AudioCnn => ("audio-cnn".into(), "recordings/s"),
            Self::MnistCnn => ("mnist-cnn".into(), "images/s"),
            Self::MultiLeNet => ("multi-lenet".into(), "images/s"),
        }
    }
}

/// DANN on the paper's digit net: the step the full-epoch and time-to-accuracy measurements train.
fn paper_dann(kind: StepKind, device: Device) -> Result<Box<dyn Strategy>> {
    strategy(
        kind,
        device,
        MethodName::DANN,
        BenchBackbone::Digit(DigitBackbone::Digit),
    )
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        shift_tensor::tch::Cuda::synchronize(i as i64);
    }
}

/// A strategy for `method` with the given step on a fresh `backbone` (seed 0): SGD with momentum 0.9, or on the
/// multi-domain backbone DomainBed's Adam over its training domains.
fn strategy(kind: StepKind, device: Device, method: MethodName, backbone: BenchBackbone) -> Result<Box<dyn Strategy>> {
    shift_tensor::seed_everything(0);
    let (spec, update) = if backbone.multi_domain() {
        (
            MethodSpec::from(method).with_domains(BENCH_DOMAINS),
            shift_strategies::Update::adam(0.0),
        )
    } else {
        (MethodSpec::from(method), shift_strategies::Update::sgd(0.9, 0.0))
    };
    let (strategy, note) = kind.build(backbone.build(device), spec, update)?;
    if let Some(note) = note {
        eprintln!("shift: {note}");
    }
    Ok(strategy)
}

/// Median steps/s over timed windows on synthetic data, and every window's rate.
fn step_rate(kind: StepKind, device: Device, method: MethodName, args: &BenchTrainArgs) -> Result<(f64, Vec<f64>)> {
    if args.backbone.multi_domain() || args.backbone.multitask() {
        return block_step_rate(device, method, args);
    }
    let mut s = strategy(kind, device, method, args.backbone)?;
    let (n, batch, shape) = args.backbone.data();
    let data = SyntheticDigits::with_shape(n, batch, shape, device);
    // Placed past the end of a one-step schedule, a method in phases (ADDA, DIRT-T, SHOT) times its last,
    // adapting phase; SHOT labels the synthetic target here, outside the timed windows.
    s.on_epoch_start(&EpochStart {
        epoch: 0,
        step: 1,
        epochs: 1,
        steps_per_epoch: 1,
        target: Some(data.target_images()),
        labelled: None,
    })?;
    let mut step = 0i64;
    // Batches as indices into the device-resident data (as the epoch loop gives them): the fast step gathers
    // inside its graph, the eager step gathers before the step.
    let run = |k: usize, s: &mut dyn Strategy| -> Result<()> {
        for _ in 0..k {
            s.train_step_indexed(&data.batch(step), 0.01, 0.5)?;
            step += 1;
        }
        sync(device);
        Ok(())
    };
    timed_windows(s.as_mut(), args, run)
}

/// Warms `s` up with 50 steps of `run`, then times `args.windows` windows of `args.steps` steps: the median steps/s
/// and every window's, once the loss is seen to have stayed finite.
fn timed_windows(
    s: &mut dyn Strategy,
    args: &BenchTrainArgs,
    mut run: impl FnMut(usize, &mut dyn Strategy) -> Result<()>,
) -> Result<(f64, Vec<f64>)> {
    run(50, s)?;
    let mut rates = Vec::new();
    for _ in 0..args.windows {
        let t = Instant::now();
        run(args.steps, s)?;
        rates.push(args.steps as f64 / t.elapsed().as_secs_f64());
    }
    let metrics = s.take_metrics()?;
    anyhow::ensure!(metrics.class_loss.is_finite(), "the benchmark's loss diverged");
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    Ok((sorted[sorted.len() / 2], rates))
}

/// The median of [`step_rate`] for the steps over blocks of labelled rows: on mnist-cnn each step 64 rows of each
/// training domain's synthetic, device-resident examples (2 classes), drawn with replacement as DomainBed's loaders
/// draw them, the domains' blocks in order, as `experiments::domainbed` gives them; on multi-lenet 256 rows of one
/// block, each with a class for each of two tasks.
fn block_step_rate(device: Device, method: MethodName, args: &BenchTrainArgs) -> Result<(f64, Vec<f64>)> {
    let mut s = strategy(StepKind::Eager, device, method, args.backbone)?;
    let (n, batch, shape) = args.backbone.data();
    let blocks = if args.backbone.multi_domain() { BENCH_DOMAINS } else { 1 };
    let domains: Vec<(Tensor, Tensor)> = (0..blocks)
        .map(|_| {
            let x = Tensor::randn([&[n][..], shape].concat(), (Kind::Float, device));
            let y = if args.backbone.multitask() {
                Tensor::randint(10, [n, 2], (Kind::Int64, device))
            } else {
                Tensor::randint(2, [n], (Kind::Int64, device))
            };
            (x, y)
        })
        .collect();
    s.on_epoch_start(&EpochStart {
        epoch: 0,
        step: 0,
        epochs: 1,
        steps_per_epoch: 1,
        target: None,
        labelled: None,
    })?;
    let run = |k: usize, s: &mut dyn Strategy| -> Result<()> {
        for _ in 0..k {
            let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = domains
                .iter()
                .map(|(x, y)| {
                    let rows = Tensor::randint(n, [batch], (Kind::Int64, device));
                    (x.index_select(0, &rows), y.index_select(0, &rows))
                })
                .unzip();
            let (x, y) = (Tensor::cat(&xs, 0), Tensor::cat(&ys, 0));
            let b = StepBatch {
                labelled: (&x, &y),
                unlabelled: None,
                unlabelled_index: None,
                domains: blocks,
            };
            s.train_step(&b, 1e-3, 1.0)?;
        }
        sync(device);
        Ok(())
    };
    timed_windows(s.as_mut(), args, run)
}

/// Stops the run at the first evaluation at or above `target`; records when.
struct UntilAccuracy {
    target: f64,
    started: Instant,
    reached: Option<(f64, usize, f64)>,
    last: Option<EpochRecord>,
}

impl UntilAccuracy {
    /// Starts the clock.
    fn new(target: f64) -> Self {
        Self {
            target,
            started: Instant::now(),
            reached: None,
            last: None,
        }
    }
}

impl Observer for UntilAccuracy {
    fn stop_requested(&self) -> bool {
        self.reached.is_some()
    }
    fn on_epoch(&mut self, r: &EpochRecord, _next: Position, _s: &dyn Strategy) -> Result<(), StrategyError> {
        if self.reached.is_none() && r.target_acc >= self.target {
            self.reached = Some((self.started.elapsed().as_secs_f64(), r.epoch, r.target_acc));
        }
        self.last = Some(r.clone());
        Ok(())
    }
    fn on_interrupt(&mut self, _next: Position, _s: &dyn Strategy) -> Result<(), StrategyError> {
        Ok(())
    }
}

/// The MNIST -> MNIST-M task on the device.
fn digits(data: &std::path::Path, device: Device) -> Result<DigitTask> {
    let mnist = Mnist::load(&data.join("mnist"))?;
    let mnist_m = MnistM::load(&data.join("mnist_m"))?;
    let source = mnist.train.to_tensors(device)?;
    let target = mnist_m.train.to_tensors(device)?;
    Ok(DigitTask {
        labelled: DigitBatcher::new(source.0, source.1),
        unlabelled: Some(DigitBatcher::new(target.0, target.1)),
        test: mnist_m.test.to_tensors(device)?,
        validation: None,
    })
}

/// Wall time of one full epoch of DANN on the paper's digit net through `fit`: (seconds, steps).
fn full_epoch(kind: StepKind, task: &DigitTask, device: Device) -> Result<(f64, i64)> {
    let mut s = paper_dann(kind, device)?;
    let cfg = TrainConfig {
        epochs: 1,
        ..Default::default()
    };
    let mut obs = UntilAccuracy::new(f64::INFINITY);
    fit(s.as_mut(), task, &cfg, 0, Position::default(), &mut obs)?;
    sync(device);
    let steps = obs.last.as_ref().map_or(0, |r| r.steps);
    Ok((obs.started.elapsed().as_secs_f64(), steps))
}

/// Wall time to `target` test accuracy under the paper schedule, evaluated every quarter epoch:
/// (seconds, quarter-epochs, accuracy) or None when the 20 epochs end first (with the last accuracy).
fn time_to(kind: StepKind, task: &DigitTask, device: Device, target: f64) -> Result<Result<(f64, usize, f64), f64>> {
    let mut s = paper_dann(kind, device)?;
    let quarter = task.labelled.steps_per_epoch(64) / 4;
    let cfg = TrainConfig {
        epochs: 80,
        steps_per_epoch: Some(quarter),
        ..Default::default()
    };
    let mut obs = UntilAccuracy::new(target);
    let end = fit(s.as_mut(), task, &cfg, 0, Position::default(), &mut obs)?;
    Ok(match (obs.reached, end) {
        (Some(r), _) => Ok(r),
        (None, FitEnd::Finished { records }) => Err(records.last().map_or(0.0, |r| r.target_acc)),
        (None, FitEnd::Interrupted { .. }) => Err(0.0),
    })
}

pub fn run(args: BenchTrainArgs) -> Result<()> {
    anyhow::ensure!(
        args.steps > 0 && args.windows > 0,
        "`--steps` and `--windows` must be at least 1"
    );
    if let Some(a) = args.to_accuracy {
        anyhow::ensure!(a > 0.0 && a < 1.0, "`--to-accuracy` must be in (0, 1), got {a}");
        anyhow::ensure!(
            args.data.is_some(),
            "`--to-accuracy` needs `--data DIR` (MNIST and MNIST-M)"
        );
    }
    if matches!(
        args.backbone,
        BenchBackbone::AudioCnn | BenchBackbone::MnistCnn | BenchBackbone::MultiLeNet
    ) && (args.data.is_some() || args.step.contains(&StepKind::Fast))
    {
        anyhow::bail!(
            "`--backbone {}`: the full epoch (`--data`) and the fast step (`--step fast`) are the digit task's; \
             give `--step eager` without `--data`",
            args.backbone.names().0
        );
    }
    for &method in &args.methods {
        if method.data().tasks != args.backbone.multitask() {
            anyhow::bail!(
                "`--methods {method}`: {}",
                if method.data().tasks {
                    "a multitask weighting; time it on `--backbone multi-lenet`"
                } else {
                    "`--backbone multi-lenet` times the multitask weightings (equal, uncertainty, mgda-ub, pcgrad, \
                     single-task)"
                }
            );
        }
        let over_domains = method.data().domains;
        if over_domains != args.backbone.multi_domain() {
            anyhow::bail!(
                "`--methods {method}`: {}",
                if over_domains {
                    "a method over several training domains; time it on `--backbone mnist-cnn`"
                } else {
                    "`--backbone mnist-cnn` times the methods over several training domains (erm, irm, vrex, \
                     groupdro, mixup, dg-coral, mmd, dg-dann, cdann)"
                }
            );
        }
    }
    let device = args.device.parse::<DeviceSpec>()?.resolve()?;
    // The experiments' setting: without --deterministic, cuDNN benchmarks its algorithms.
    shift_tensor::set_deterministic(args.deterministic)?;
    let threads = shift_tensor::tch::get_num_threads();
    let card = match device {
        Device::Cuda(i) => shift_tensor::native::cuda_device_name(i).unwrap_or_else(|e| e.to_string()),
        _ => format!("CPU, {threads} threads"),
    };
    let mut rows = Vec::new();
    let mut doc = serde_json::json!({
        "device": format!("{device:?}"),
        "card": card,
        "threads": threads,
        "cpu_heap": shift_tensor::cpu_heap::cpu_heap().to_string(),
        "deterministic": args.deterministic,
    });
    for &method in &args.methods {
        for &kind in &args.step {
            let step = format!("{kind:?}").to_lowercase();
            // DANN's rows keep their plain names (`cargo xtask bench train` reads them); others are `method/step`.
            let name = if method == MethodName::DANN {
                step.clone()
            } else {
                format!("{method}/{step}")
            };
            let label = format!("{method} {step}");
            if kind == StepKind::Fast {
                if let Err(e) = shift_strategies::fast::check_capturable(method) {
                    rows.push(format!("| {label} | steps/s | refused: {e} |"));
                    continue;
                }
            }
            let (median, windows) = step_rate(kind, device, method, &args)?;
            // A batch of labelled examples a step, and as many target examples for the methods that take them.
            let batch = args.backbone.data().1 as f64;
            let images = if args.backbone.multi_domain() {
                BENCH_DOMAINS as f64 * batch
            } else if method.data().unlabelled_target {
                2.0 * batch
            } else {
                batch
            } * median;
            rows.push(format!(
                "| {label} | steps/s (median of {} x {} steps) | {median:.1} |",
                args.windows, args.steps
            ));
            let unit = args.backbone.names().1;
            rows.push(format!("| {label} | {unit} | {images:.0} |"));
            doc[&name] = serde_json::json!({ "steps_per_s": median, "images_per_s": images, "windows": windows });
        }
    }
    if let Some(data) = &args.data {
        let t = Instant::now();
        let task = digits(data, device).with_context(|| format!("--data {}", data.display()))?;
        eprintln!(
            "shift: bench: MNIST + MNIST-M on {device:?} in {:.1}s",
            t.elapsed().as_secs_f64()
        );
        for &kind in &args.step {
            let name = format!("{kind:?}").to_lowercase();
            let (secs, steps) = full_epoch(kind, &task, device)?;
            rows.push(format!(
                "| {name} | full epoch ({steps} steps + draws + test eval), s | {secs:.2} |"
            ));
            doc[&name]["epoch_s"] = serde_json::json!(secs);
            if let Some(target) = args.to_accuracy {
                match time_to(kind, &task, device, target)? {
                    Ok((secs, quarters, acc)) => {
                        rows.push(format!(
                            "| {name} | time to {target} MNIST-M test acc, s (at epoch {:.2}, acc {acc:.4}) | {secs:.1} |",
                            quarters as f64 / 4.0
                        ));
                        doc[&name]["time_to_accuracy_s"] = serde_json::json!(secs);
                        doc[&name]["time_to_accuracy_epochs"] = serde_json::json!(quarters as f64 / 4.0);
                    }
                    Err(last) => {
                        rows.push(format!(
                            "| {name} | time to {target} MNIST-M test acc | not reached in 20 epochs (last {last:.4}) |"
                        ));
                        doc[&name]["time_to_accuracy_s"] = serde_json::Value::Null;
                    }
                }
                doc["target_accuracy"] = serde_json::json!(target);
            }
        }
    }
    let (net, batch) = (args.backbone.names().0, args.backbone.data().1);
    if args.backbone.multi_domain() {
        println!(
            "\nshift bench train: {net} train step over {BENCH_DOMAINS} training domains, batch {batch} per domain, \
             Adam, {device:?} ({card})"
        );
    } else if args.backbone.multitask() {
        println!(
            "\nshift bench train: {net} train step, batch {batch} with a class for each of two tasks, SGD momentum 0.9, \
             {device:?} ({card})"
        );
    } else {
        println!("\nshift bench train: {net} train step, batch {batch}+{batch}, SGD momentum 0.9, {device:?} ({card})");
    }
    println!("CPU heap: {}\n", shift_tensor::cpu_heap::cpu_heap());
    println!("| step | measure | value |");
    println!("|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    if let (Some(e), Some(f)) = (
        doc["eager"]["steps_per_s"].as_f64(),
        doc["fast"]["steps_per_s"].as_f64(),
    ) {
        println!("\nfast / eager steps/s: {:.2}x", f / e);
    }
    // Kept for `cargo xtask bench train`, which compares with PyTorch: the best step's rate.
    let best = ["fast", "eager"]
        .iter()
        .filter_map(|k| doc[*k]["steps_per_s"].as_f64())
        .fold(f64::NAN, f64::max);
    doc["steps_per_s"] = serde_json::json!(best);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("--json {}", path.display()))?;
    }
    Ok(())
}
