//! Training strategies for domain adaptation: source-only, target-only, DANN with the gradient reversal layer
//! or with alternating updates (Ganin & Lempitsky, ICML 2015; Ganin et al., JMLR 2016), SGD with momentum and
//! parameter groups, the paper's schedules, evaluation, and the epoch loop.

mod error;
pub mod evaluate;
pub mod fast;
pub mod finetune;
pub mod flat_sgd;
pub mod method;
pub mod metrics;
pub mod replay_check;
pub mod runner;
pub mod schedule;
pub mod sgd;
pub mod strategy;
pub mod synthetic;

pub use error::StrategyError;
pub use fast::{FastAdapt, StepKind};
pub use flat_sgd::FlatSgd;
pub use method::Method;
pub use metrics::{DeviceMetrics, StepMetrics};
pub use runner::{
    end_epoch, fit, scheduled_step, Batch, DigitTask, EpochEnd, EpochRecord, FitEnd, Observer, Position, TrainConfig,
};
pub use schedule::LrSchedule;
pub use sgd::{freeze_outside, GroupSpec, Sgd};
pub use strategy::{load_model_state, Adapt, IndexedBatch, StepBatch, Strategy};
