//! Equal weighting of the tasks, the multitask baseline Sener & Koltun (NeurIPS 2018) call uniform scaling: one
//! shared trunk and a head per task trained on the mean of the tasks' cross-entropies,
//!
//! ```text
//! L = (1 / T) sum_t CE(h_t(f(x)), y_t)
//! ```
//!
//! (the reference code's `scales`, `1 / T` each in its `sample.json`; isl-org/MultiObjectiveOptimization,
//! `multi_task/train_multi_task.py`).

use super::multi_task::TaskForward;
use super::{Capture, DataNeeds, Lambda, Method, MethodInfo, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "equal",
    help: "Equal weights: the mean of the tasks' losses (uniform scaling, the multitask baseline)",
    data: DataNeeds::TASKS,
    build: |_| Ok(Box::new(EqualWeights)),
    published: &[],
    params: &[],
};

/// The mean of `losses`.
pub fn mean_of(losses: &[Tensor]) -> Tensor {
    Tensor::stack(losses, 0).mean(Kind::Float)
}

#[derive(Debug, Default)]
pub struct EqualWeights;

impl Method for EqualWeights {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = TaskForward::of(net, batch, self.name())?;
        let losses = fwd.losses();
        let loss = mean_of(&losses);
        let weight = Tensor::full([], 1.0 / losses.len() as f64, (Kind::Float, loss.device()));
        Ok(fwd.terms(loss, &losses, &weight))
    }
}
