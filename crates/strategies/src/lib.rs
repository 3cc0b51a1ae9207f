//! Training strategies for domain adaptation: the method interface and one module per method ([`methods`]),
//! the eager and the capture-ready train steps that run any method, SGD with momentum and parameter groups, the
//! paper's schedules, evaluation, and the epoch loop.

pub mod augment;
mod error;
pub mod evaluate;
pub mod fast;
pub mod finetune;
pub mod flat_sgd;
pub mod methods;
pub mod metrics;
pub mod optimiser;
pub mod replay_check;
pub mod runner;
pub mod schedule;
pub mod state;
pub mod strategy;
pub mod synthetic;
pub mod validation;
pub mod views;

pub use error::StrategyError;
pub use fast::{FastAdapt, StepKind};
pub use flat_sgd::FlatSgd;
pub use methods::{Method, MethodName, MethodSpec};
pub use metrics::{DeviceMetrics, StepMetrics};
pub use optimiser::{freeze_outside, GroupSpec, Optimiser, OptimiserKind, Update};
pub use runner::{
    epoch_seed, fit, Batch, DigitTask, EpochData, EpochDraws, EpochRecord, FitEnd, Observer, Position, TrainConfig,
};
pub use schedule::LrSchedule;
pub use state::load_model_state;
pub use strategy::{backbone_groups, Adapt, IndexedBatch, StepBatch, Strategy};
pub use validation::ValidationSet;

/// The unit tests that draw from libtorch's process-wide generator (weights at construction included) take
/// turns, so that a seeded test draws what it seeded.
#[cfg(test)]
pub(crate) fn test_rng() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}
