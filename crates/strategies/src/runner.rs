//! The epoch loop of every run: seeded per epoch (so a run resumed at any step replays exactly), the
//! paper's schedules fed per step, metrics read once per epoch, target test accuracy after every epoch.

use crate::methods::EpochStart;
use crate::{
    error::StrategyError, metrics::StepMetrics, optimiser::OptimiserKind, optimiser::Update, schedule::LrSchedule,
    strategy::IndexedBatch, strategy::StepBatch, strategy::Strategy, validation::ValidationSet,
};
use serde::{Deserialize, Serialize};
use shift_data::DigitBatcher;
use shift_grl::LambdaSchedule;
use shift_tensor::tch::Tensor;
use std::collections::BTreeMap;
use std::time::Instant;

/// The data of one digit run: what the label predictor learns from, the unlabelled target stream (DANN),
/// and the target test split (used for reporting only, never to choose a model).
#[derive(Debug)]
pub struct DigitTask {
    pub labelled: DigitBatcher,
    pub unlabelled: Option<DigitBatcher>,
    /// The test examples and classes; none (zero rows) where the target is unlabelled, whose accuracy is then NaN
    /// (reported as such).
    pub test: (Tensor, Tensor),
    /// What the validators score after each epoch (None: no validators).
    pub validation: Option<ValidationSet>,
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
    /// The update rule: `sgd` (the paper's, with `momentum`) or `adam` (PyTorch's defaults, `lr` its step size).
    pub optimiser: OptimiserKind,
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
            optimiser: OptimiserKind::Sgd,
            momentum: 0.9,
            weight_decay: 0.0,
        }
    }
}

impl TrainConfig {
    /// The run's update rule: every optimiser's, except where a method's `OptimiserSpec::update` sets its own.
    pub fn update(&self) -> Update {
        Update {
            kind: self.optimiser,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            betas: crate::optimiser::ADAM_BETAS,
        }
    }

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
    /// The base step size of the epoch's last step (before the groups' `lr_mult`): the schedule's, or the
    /// method's own (`Method::stepped_lr`).
    pub lr: f64,
    pub lambda: f64,
    #[serde(flatten)]
    pub train: StepMetrics,
    pub target_acc: f64,
    /// Each validator's score of the epoch's model (none where the data has no validation set).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub validators: BTreeMap<String, f64>,
    /// Why each validator whose score is NaN could not score the epoch's model.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub validator_errors: BTreeMap<String, String>,
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
        self.epoch == o.epoch
            && self.train == o.train
            && self.target_acc == o.target_acc
            && self.lr == o.lr
            && self.validators == o.validators
            && self.validator_errors == o.validator_errors
    }
}

/// What the loop knows when an epoch's steps are done.
#[derive(Debug, Clone, Copy)]
struct EpochEnd {
    /// 0-based.
    pub epoch: usize,
    pub steps: i64,
    /// The last step's learning rate and lambda.
    pub lr: f64,
    pub lambda: f64,
    pub started: Instant,
}

/// Closes an epoch: reads the metrics (one device sync), stops on a non-finite loss before anything is saved,
/// measures target accuracy and the validators' scores on `data`, and hands the record to the observer.
fn end_epoch(
    strategy: &mut dyn Strategy,
    observer: &mut dyn Observer,
    end: EpochEnd,
    data: &dyn EpochData,
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
    let target_acc = data.target_accuracy(strategy)?;
    let mut scored = match data.validation() {
        Some(v) => v.score(strategy.network())?,
        None => Default::default(),
    };
    scored.scores.extend(data.selection_scores(strategy)?);
    let record = EpochRecord {
        epoch: end.epoch + 1,
        steps: end.steps,
        lr: strategy.method().stepped_lr(end.lr),
        lambda: end.lambda,
        train,
        target_acc,
        validators: scored.scores,
        validator_errors: scored.errors,
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
/// requested.
fn scheduled_step(
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

/// The seed of one epoch's draws, from the run's seed: every epoch draws from its own, so a run resumed at any
/// step sees the batches an uninterrupted run saw.
pub fn epoch_seed(seed: u64, epoch: usize) -> i64 {
    (seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64 + 1) & 0x7fff_ffff_ffff) as i64
}

/// The seed of one step's random draws (dropout, noise, augmentation), from its epoch's seed: a step draws the
/// same whether its run went through or was resumed at any earlier step.
pub fn step_seed(epoch_seed: i64, step: i64) -> i64 {
    epoch_seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(step + 1)
        & 0x7fff_ffff_ffff
}

/// What the epoch loop trains on: labelled batches, unlabelled target batches for the methods that adapt, and
/// the target test split (for reporting only, never to choose a model). The digit data on the device
/// ([`DigitTask`]) and Office-31's image pipelines implement it, so both run through [`fit`].
pub trait EpochData {
    /// The labelled examples.
    fn labelled_len(&self) -> usize;
    /// Full batches of `batch` in one pass over the labelled examples (0 when `batch` is larger than them).
    fn full_pass(&self, batch: i64) -> i64;
    /// Whether there is an unlabelled target stream.
    fn has_unlabelled(&self) -> bool;
    /// The unlabelled target images as one tensor, for epoch-start hooks (pseudo-labels); None where the data
    /// streams from the host.
    fn unlabelled_images(&self) -> Option<&Tensor>;
    /// The labelled examples and their classes as two tensors, for epoch-start hooks; None where the data streams
    /// from the host.
    fn labelled_examples(&self) -> Option<(&Tensor, &Tensor)> {
        None
    }
    /// One epoch's draws of `steps` batches of `batch`, with the target stream when `with_unlabelled`. The loop
    /// has set libtorch's generator to `seed` (the epoch's seed) before it asks.
    fn epoch<'a>(
        &'a self,
        seed: i64,
        steps: i64,
        batch: i64,
        with_unlabelled: bool,
    ) -> Result<Box<dyn EpochDraws + 'a>, StrategyError>;
    /// Target test accuracy of `strategy`'s network.
    fn target_accuracy(&self, strategy: &dyn Strategy) -> Result<f64, StrategyError>;
    /// What the validators score after each epoch; None where the data has none.
    fn validation(&self) -> Option<&ValidationSet> {
        None
    }
    /// Model-selection scores read off labelled held-out splits after each epoch, recorded beside the
    /// validators' scores under their own names (DomainBed's training-domain validation and test-domain
    /// oracle); none by default.
    fn selection_scores(&self, _strategy: &dyn Strategy) -> Result<BTreeMap<String, f64>, StrategyError> {
        Ok(BTreeMap::new())
    }
}

/// One epoch's batches, handed out in step order (a resumed epoch starts past step 0).
pub trait EpochDraws {
    /// Runs `train` on the batch of `step` (of epoch `epoch`).
    fn with_batch(
        &mut self,
        epoch: usize,
        step: i64,
        train: &mut dyn FnMut(Batch<'_>) -> Result<(), StrategyError>,
    ) -> Result<(), StrategyError>;
}

impl EpochData for DigitTask {
    fn labelled_len(&self) -> usize {
        self.labelled.len() as usize
    }

    fn full_pass(&self, batch: i64) -> i64 {
        self.labelled.steps_per_epoch(batch)
    }

    fn has_unlabelled(&self) -> bool {
        self.unlabelled.is_some()
    }

    fn unlabelled_images(&self) -> Option<&Tensor> {
        self.unlabelled.as_ref().map(|t| &t.x)
    }

    fn labelled_examples(&self) -> Option<(&Tensor, &Tensor)> {
        Some((&self.labelled.x, &self.labelled.y))
    }

    fn epoch<'a>(
        &'a self,
        _seed: i64,
        steps: i64,
        batch: i64,
        with_unlabelled: bool,
    ) -> Result<Box<dyn EpochDraws + 'a>, StrategyError> {
        let order = self.labelled.shuffled_for(steps * batch);
        let draws = match (&self.unlabelled, with_unlabelled) {
            (Some(t), true) => Some((t, t.draws(steps * batch))),
            _ => None,
        };
        Ok(Box::new(DigitDraws {
            task: self,
            batch,
            order,
            draws,
        }))
    }

    fn target_accuracy(&self, strategy: &dyn Strategy) -> Result<f64, StrategyError> {
        if self.test.0.size()[0] == 0 {
            return Ok(f64::NAN);
        }
        strategy.accuracy(&self.test.0, &self.test.1)
    }

    fn validation(&self) -> Option<&ValidationSet> {
        self.validation.as_ref()
    }
}

/// A digit epoch: a permutation of the labelled examples and draws of target indices, both on the device.
struct DigitDraws<'a> {
    task: &'a DigitTask,
    batch: i64,
    order: Tensor,
    draws: Option<(&'a DigitBatcher, Tensor)>,
}

impl EpochDraws for DigitDraws<'_> {
    fn with_batch(
        &mut self,
        epoch: usize,
        step: i64,
        train: &mut dyn FnMut(Batch<'_>) -> Result<(), StrategyError>,
    ) -> Result<(), StrategyError> {
        let batch = IndexedBatch {
            epoch,
            step,
            batch: self.batch,
            labelled: &self.task.labelled,
            order: &self.order,
            unlabelled: self.draws.as_ref().map(|(t, d)| (*t, d)),
        };
        train(Batch::Indexed(&batch))
    }
}

/// Trains from `start` to the configured number of epochs: the one epoch loop of every run (digits and
/// Office-31, adaptation and fine-tuning). Each epoch: its seed set, its draws made, the method's epoch-start
/// hook, the scheduled steps (each with its own seed for what it draws; a stop request saves through the
/// observer and returns where to continue), then the metrics, the target accuracy and the observer's epoch
/// record.
pub fn fit(
    strategy: &mut dyn Strategy,
    data: &dyn EpochData,
    cfg: &TrainConfig,
    seed: u64,
    start: Position,
    observer: &mut dyn Observer,
) -> Result<FitEnd, StrategyError> {
    cfg.validate()?;
    let full = data.full_pass(cfg.batch);
    if full == 0 {
        return Err(StrategyError::Invalid {
            field: "batch".into(),
            msg: format!(
                "{} is larger than the {} labelled examples",
                cfg.batch,
                data.labelled_len()
            ),
        });
    }
    // An epoch is one pass unless `steps_per_epoch` says otherwise (longer epochs draw further passes).
    let steps = cfg.steps_per_epoch.unwrap_or(full);
    let needs_target = strategy.method().data().unlabelled_target;
    if needs_target && !data.has_unlabelled() {
        return Err(StrategyError::Other(format!(
            "{} needs unlabelled target data",
            strategy.method().name()
        )));
    }
    let mut records = Vec::new();
    for epoch in start.epoch..cfg.epochs {
        let t0 = Instant::now();
        let seed = epoch_seed(seed, epoch);
        shift_tensor::tch::manual_seed(seed);
        let mut draws = data.epoch(seed, steps, cfg.batch, needs_target)?;
        let first = if epoch == start.epoch { start.step } else { 0 };
        strategy.on_epoch_start(&EpochStart {
            epoch,
            step: first,
            epochs: cfg.epochs,
            steps_per_epoch: steps,
            target: data.unlabelled_images(),
            labelled: data.labelled_examples(),
        })?;
        // The schedule's values at the epoch's last step (what the record reports if no step is left to run).
        let last = ((epoch as i64 + 1) * steps - 1) as f64 / (cfg.epochs as i64 * steps) as f64;
        let (mut lr, mut lambda) = (cfg.lr.at(last), cfg.lambda.value(last));
        for step in first..steps {
            let at = Position { epoch, step };
            shift_tensor::tch::manual_seed(step_seed(seed, step));
            let mut stop = false;
            draws.with_batch(epoch, step, &mut |batch| {
                (lr, lambda, stop) = scheduled_step(strategy, cfg, at, steps, batch, observer)?;
                Ok(())
            })?;
            if stop {
                let next = Position { epoch, step: step + 1 };
                observer.on_interrupt(next, strategy)?;
                return Ok(FitEnd::Interrupted { next });
            }
        }
        let end = EpochEnd {
            epoch,
            steps,
            lr,
            lambda,
            started: t0,
        };
        records.push(end_epoch(strategy, observer, end, data)?);
    }
    Ok(FitEnd::Finished { records })
}
