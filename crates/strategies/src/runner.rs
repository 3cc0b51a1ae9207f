//! The epoch loop for digit tasks: seeded per epoch (so a run resumed at any step replays exactly), the
//! paper's schedules fed per step, metrics read once per epoch, target test accuracy after every epoch.

use crate::methods::EpochStart;
use crate::{IndexedBatch, LrSchedule, StepBatch, StepMetrics, Strategy, StrategyError};
use serde::{Deserialize, Serialize};
use shift_data::DigitBatcher;
use shift_grl::LambdaSchedule;
use shift_tensor::tch::Tensor;
use std::time::Instant;

/// The data of one digit run: what the label predictor learns from, the unlabelled target stream (DANN),
/// and the target test split (used for reporting only, never to choose a model).
#[derive(Debug)]
pub struct DigitTask {
    pub labelled: DigitBatcher,
    pub unlabelled: Option<DigitBatcher>,
    pub test: (Tensor, Tensor),
}

/// Optimisation settings of one run (saved in the run folder's config.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    /// Examples per domain per step (the paper: 64 source + 64 target).
    pub batch: i64,
    /// Steps per epoch (None: one pass over the labelled data; more than a pass draws further permutations).
    pub steps_per_epoch: Option<i64>,
    pub lr: LrSchedule,
    pub lambda: LambdaSchedule,
    pub momentum: f64,
    pub weight_decay: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch: 64,
            steps_per_epoch: None,
            lr: LrSchedule::default(),
            lambda: LambdaSchedule::default(),
            momentum: 0.9,
            weight_decay: 0.0,
        }
    }
}

impl TrainConfig {
    /// Checks the settings as the `train` table of an experiment's configuration.
    pub fn validate(&self) -> Result<(), StrategyError> {
        self.validate_at("train")
    }

    /// Checks the settings; errors name the key path under `at` (`train.batch`, `pretrain.lr.lr0`).
    pub fn validate_at(&self, at: &str) -> Result<(), StrategyError> {
        let bad = |field: &str, msg: String| {
            Err(StrategyError::Invalid {
                field: format!("{at}.{field}"),
                msg,
            })
        };
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch <= 0 {
            return bad("batch", format!("must be at least 1, got {}", self.batch));
        }
        if let Some(s) = self.steps_per_epoch.filter(|&s| s <= 0) {
            return bad("steps_per_epoch", format!("must be at least 1, got {s}"));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", format!("must be in [0, 1), got {}", self.momentum));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", format!("must be >= 0, got {}", self.weight_decay));
        }
        self.lr.validate_at(&format!("{at}.lr"))?;
        self.lambda.validate().map_err(|e| StrategyError::Invalid {
            field: format!("{at}.lambda"),
            msg: e.to_string(),
        })
    }
}

/// Where a run stands: the next step to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Position {
    pub epoch: usize,
    pub step: i64,
}

/// One line of metrics.jsonl.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub steps: i64,
    pub lr: f64,
    pub lambda: f64,
    #[serde(flatten)]
    pub train: StepMetrics,
    pub target_acc: f64,
    pub seconds: f64,
}

/// Hooks for progress display, checkpoints and interruption.
pub trait Observer {
    fn on_step(&mut self, _at: Position, _steps_per_epoch: i64) {}
    fn stop_requested(&self) -> bool {
        false
    }
    /// After each epoch (the CLI writes metrics and a checkpoint here).
    fn on_epoch(&mut self, record: &EpochRecord, next: Position, strategy: &dyn Strategy) -> Result<(), StrategyError>;
    /// When a stop was requested: `next` is where a resumed run continues.
    fn on_interrupt(&mut self, next: Position, strategy: &dyn Strategy) -> Result<(), StrategyError>;
}

/// How `fit` ended.
#[derive(Debug, Clone, PartialEq)]
pub enum FitEnd {
    Finished { records: Vec<EpochRecord> },
    Interrupted { next: Position },
}

impl PartialEq for EpochRecord {
    fn eq(&self, o: &Self) -> bool {
        self.epoch == o.epoch && self.train == o.train && self.target_acc == o.target_acc && self.lr == o.lr
    }
}

/// What the loop knows when an epoch's steps are done.
#[derive(Debug, Clone, Copy)]
pub struct EpochEnd {
    /// 0-based.
    pub epoch: usize,
    pub steps: i64,
    /// The last step's learning rate and lambda.
    pub lr: f64,
    pub lambda: f64,
    pub started: Instant,
}

/// Closes an epoch: reads the metrics (one device sync), stops on a non-finite loss before anything is saved,
/// measures target accuracy with `target_acc`, and hands the record to the observer.
pub fn end_epoch(
    strategy: &mut dyn Strategy,
    observer: &mut dyn Observer,
    end: EpochEnd,
    target_acc: &dyn Fn(&dyn Strategy) -> Result<f64, StrategyError>,
) -> Result<EpochRecord, StrategyError> {
    let train = strategy.take_metrics()?;
    for (what, value) in [("class loss", train.class_loss), ("domain loss", train.domain_loss)] {
        if !value.is_finite() {
            return Err(StrategyError::NonFinite {
                epoch: end.epoch + 1,
                what,
                value,
            });
        }
    }
    let target_acc = target_acc(strategy)?;
    let record = EpochRecord {
        epoch: end.epoch + 1,
        steps: end.steps,
        lr: end.lr,
        lambda: end.lambda,
        train,
        target_acc,
        seconds: end.started.elapsed().as_secs_f64(),
    };
    observer.on_epoch(
        &record,
        Position {
            epoch: end.epoch + 1,
            step: 0,
        },
        strategy,
    )?;
    Ok(record)
}

/// A step's batch, as tensors or as indices into device-resident data.
#[derive(Debug, Clone, Copy)]
pub enum Batch<'a> {
    Tensors(&'a StepBatch<'a>),
    Indexed(&'a IndexedBatch<'a>),
}

/// One step of the schedule at `at` (of `steps` per epoch, `total` in the run): learning rate and lambda from
/// the configuration, the train step, the observer told. Returns the step's (lr, lambda) and whether a stop was
/// requested. Shared by the digit loop below and the Office-31 loop.
pub fn scheduled_step(
    strategy: &mut dyn Strategy,
    cfg: &TrainConfig,
    at: Position,
    steps: i64,
    batch: Batch,
    observer: &mut dyn Observer,
) -> Result<(f64, f64, bool), StrategyError> {
    let total = (cfg.epochs as i64 * steps) as f64;
    let p = (at.epoch as i64 * steps + at.step) as f64 / total;
    let (lr, lambda) = (cfg.lr.at(p), cfg.lambda.value(p));
    match batch {
        Batch::Tensors(b) => strategy.train_step(b, lr, lambda)?,
        Batch::Indexed(b) => strategy.train_step_indexed(b, lr, lambda)?,
    }
    observer.on_step(at, steps);
    Ok((lr, lambda, observer.stop_requested()))
}

fn epoch_seed(seed: u64, epoch: usize) -> i64 {
    (seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64 + 1) & 0x7fff_ffff_ffff) as i64
}

/// Trains from `start` to the configured number of epochs.
pub fn fit(
    strategy: &mut dyn Strategy,
    task: &DigitTask,
    cfg: &TrainConfig,
    seed: u64,
    start: Position,
    observer: &mut dyn Observer,
) -> Result<FitEnd, StrategyError> {
    cfg.validate()?;
    let full = task.labelled.steps_per_epoch(cfg.batch);
    if full == 0 {
        return Err(StrategyError::Invalid {
            field: "batch".into(),
            msg: format!(
                "{} is larger than the {} labelled examples",
                cfg.batch,
                task.labelled.len()
            ),
        });
    }
    // An epoch is one pass unless `steps_per_epoch` says otherwise (longer epochs draw further passes).
    let steps = cfg.steps_per_epoch.unwrap_or(full);
    let needs_target = strategy.method().data().unlabelled_target;
    if needs_target && task.unlabelled.is_none() {
        return Err(StrategyError::Other(format!(
            "{} needs unlabelled target data",
            strategy.method().name()
        )));
    }
    let mut records = Vec::new();
    for epoch in start.epoch..cfg.epochs {
        let t0 = Instant::now();
        // Every epoch draws from its own seed: a run resumed at any step sees the same batches.
        shift_tensor::tch::manual_seed(epoch_seed(seed, epoch));
        let order = task.labelled.shuffled_for(steps * cfg.batch);
        let draws = match (&task.unlabelled, needs_target) {
            (Some(t), true) => Some(t.draws(steps * cfg.batch)),
            _ => None,
        };
        let first = if epoch == start.epoch { start.step } else { 0 };
        strategy.on_epoch_start(&EpochStart {
            epoch,
            target: task.unlabelled.as_ref().map(|t| &t.x),
        })?;
        let (mut lr, mut lambda) = (0.0, 0.0);
        for step in first..steps {
            let batch = IndexedBatch {
                epoch,
                step,
                batch: cfg.batch,
                labelled: &task.labelled,
                order: &order,
                unlabelled: match (&task.unlabelled, &draws) {
                    (Some(t), Some(d)) => Some((t, d)),
                    _ => None,
                },
            };
            let at = Position { epoch, step };
            let stop;
            (lr, lambda, stop) = scheduled_step(strategy, cfg, at, steps, Batch::Indexed(&batch), observer)?;
            if stop {
                observer.on_interrupt(Position { epoch, step: step + 1 }, strategy)?;
                return Ok(FitEnd::Interrupted {
                    next: Position { epoch, step: step + 1 },
                });
            }
        }
        let end = EpochEnd {
            epoch,
            steps,
            lr,
            lambda,
            started: t0,
        };
        let record = end_epoch(strategy, observer, end, &|s: &dyn Strategy| {
            Ok(s.accuracy(&task.test.0, &task.test.1))
        })?;
        records.push(record);
    }
    Ok(FitEnd::Finished { records })
}
