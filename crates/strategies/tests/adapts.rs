//! Each adapting method adapts. On a small synthetic shift (`synthetic::ShiftedBlobs`: two Gaussian classes, the
//! target moved along an axis the classes do not need), with a small MLP, trained from the same start (seed)
//! as source-only, its target accuracy over seeds 0, 1, 2 beats source-only's by a clear margin; with its
//! transfer term switched off (lambda held at 0, which scales every method's transfer term) it does not.

use shift_data::DigitBatcher;
use shift_grl::LambdaSchedule;
use shift_models::mlp::MlpNet;
use shift_strategies::synthetic::ShiftedBlobs;
use shift_strategies::{
    backbone_groups, fit, Adapt, DigitTask, EpochRecord, LrSchedule, MethodName, Observer, Position, Strategy,
    StrategyError, TrainConfig,
};
use shift_tensor::tch::{Device, Tensor};

/// What "beats source-only" means: target accuracy at least this much higher, on the mean over seeds.
const MARGIN: f64 = 0.05;
const SEEDS: [u64; 3] = [0, 1, 2];

/// Keeps the last epoch's target accuracy.
struct LastAccuracy(f64);

impl Observer for LastAccuracy {
    fn on_epoch(&mut self, r: &EpochRecord, _next: Position, _s: &dyn Strategy) -> Result<(), StrategyError> {
        self.0 = r.target_acc;
        Ok(())
    }
    fn on_interrupt(&mut self, _next: Position, _s: &dyn Strategy) -> Result<(), StrategyError> {
        Ok(())
    }
}

fn shift(seed: u64) -> DigitTask {
    shift_tensor::seed_everything(1000 + seed);
    let b = ShiftedBlobs::new(600, 2.0, Device::Cpu);
    let batcher = |(x, y): &(Tensor, Tensor)| DigitBatcher::new(x.shallow_clone(), y.shallow_clone());
    DigitTask {
        labelled: batcher(&b.source),
        unlabelled: Some(batcher(&b.target)),
        test: (b.target.0.shallow_clone(), b.target.1.shallow_clone()),
    }
}

/// 400 steps of 32 + 32 points, SGD with momentum, the paper's annealing from 0.05.
fn config(lambda: LambdaSchedule) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch: 32,
        steps_per_epoch: Some(400),
        lr: LrSchedule::Paper {
            lr0: 0.05,
            alpha: 10.0,
            beta: 0.75,
        },
        lambda,
        ..Default::default()
    }
}

/// The mean target accuracy over the seeds of `method` trained under `lambda`.
fn mean_target_accuracy(method: &str, lambda: LambdaSchedule) -> f64 {
    let name: MethodName = method.parse().unwrap();
    let total: f64 = SEEDS
        .iter()
        .map(|&seed| {
            let task = shift(seed);
            shift_tensor::seed_everything(seed);
            let net = MlpNet::new(Device::Cpu, 2, &[15], 2);
            let mut s = Adapt::build(net, name, &backbone_groups(1.0), 0.9, 0.0).unwrap();
            let mut last = LastAccuracy(f64::NAN);
            fit(&mut s, &task, &config(lambda), seed, Position::default(), &mut last).unwrap();
            last.0
        })
        .sum();
    total / SEEDS.len() as f64
}

const ON: LambdaSchedule = LambdaSchedule::Paper { gamma: 10.0 };
const OFF: LambdaSchedule = LambdaSchedule::Constant { value: 0.0 };

/// The adapting methods: each beats source-only with its transfer term, and does not without it.
const ADAPTING: [&str; 12] = [
    "dann", "dann-alt", "cdan", "cdan-e", "dan", "jan", "coral", "bnm", "mcc", "mdd", "dsan", "wdgrl",
];

#[test]
fn every_adapting_method_beats_source_only_and_not_without_its_transfer_term() {
    let source_only = mean_target_accuracy("source-only", ON);
    assert!(
        (0.55..0.9).contains(&source_only),
        "the shift hurts a source classifier: {source_only}"
    );
    let mut report = Vec::new();
    for m in ADAPTING {
        let on = mean_target_accuracy(m, ON);
        let off = mean_target_accuracy(m, OFF);
        report.push(format!("{m}: {on:.3} (off {off:.3})"));
        eprintln!("{m}: {on:.3} (off {off:.3})");
        assert!(
            on >= source_only + MARGIN,
            "{m} adapts: {on:.4} vs source-only {source_only:.4}"
        );
        assert!(
            off < source_only + MARGIN,
            "{m} without its transfer term must not adapt: {off:.4} vs source-only {source_only:.4}"
        );
    }
    eprintln!("source-only {source_only:.3}; {}", report.join("; "));
}
