//! What the multitask weightings share: the labelled batch through the shared trunk and every task's head in one
//! pass, each task's cross-entropy against its column of the labels (`[B, T]`), the shared trunk's trainable
//! variables, and the step's metrics.

use super::{StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// One step's pass: the shared features and each task's logits and classes.
#[derive(Debug)]
pub struct TaskForward {
    /// The trunk's features `[B, D]`, shared by every head.
    pub features: Tensor,
    /// Each task's logits `[B, C]`, in task order.
    pub logits: Vec<Tensor>,
    /// Each task's classes `[B]`.
    pub labels: Vec<Tensor>,
}

impl TaskForward {
    /// The labelled batch of `batch` through `net` in train mode; an error naming `method` where the labels are
    /// not one column per task of the net.
    pub fn of(net: &dyn AdaptNet, batch: &StepInputs, method: &str) -> Result<Self, StrategyError> {
        let f = net.features(batch.labelled.0, true);
        Self::from_features(net, f, batch.labelled.1, method)
    }

    /// The heads of `net` on features `f` (in train mode), against `y`.
    pub fn from_features(net: &dyn AdaptNet, f: Tensor, y: &Tensor, method: &str) -> Result<Self, StrategyError> {
        let tasks = net.tasks();
        let size = y.size();
        if size.len() != 2 || size[1] != tasks || tasks < 2 {
            return Err(StrategyError::Other(format!(
                "{method} weighs the tasks of a multitask net: it needs a net of two or more heads and a class per task \
                 for each row; the net has {tasks} head(s) and the labels are {size:?}"
            )));
        }
        let logits = net.classify(&f, true).chunk(tasks, 1);
        Ok(Self {
            features: f,
            logits,
            labels: (0..tasks).map(|t| y.select(1, t)).collect(),
        })
    }

    /// Each task's mean cross-entropy, one 0-dim tensor each.
    pub fn losses(&self) -> Vec<Tensor> {
        self.logits
            .iter()
            .zip(&self.labels)
            .map(|(z, y)| z.cross_entropy_for_logits(y))
            .collect()
    }

    /// The step's terms: `loss` to back-propagate, the tasks' mean cross-entropy and the share of the tasks'
    /// predictions that are right (every task of every row counted), and the method's own value (`term`: a
    /// weight, unweighted) as the transfer metric.
    pub fn terms(&self, loss: Tensor, losses: &[Tensor], term: &Tensor) -> Terms {
        let mean = Tensor::stack(losses, 0).mean(Kind::Float).detach();
        let z = Tensor::stack(&self.logits, 0);
        let y = Tensor::stack(&self.labels, 0);
        let correct = z.argmax(-1, false).eq_tensor(&y).sum(Kind::Float);
        let count = Tensor::full([], y.numel() as f64, (Kind::Float, y.device()));
        let device = mean.device();
        let zero = || Tensor::zeros([], (Kind::Float, device));
        Terms {
            loss,
            metrics: [mean, correct, count, term.detach(), zero(), zero()],
        }
    }
}
