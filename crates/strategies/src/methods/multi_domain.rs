//! What the domain generalisation methods share: the labelled batch's domain blocks through the backbone in one
//! pass (as DomainBed's `network(all_x)`; the MNIST ConvNet's group norm treats each row alone, so one pass is
//! each block's), each block's cross-entropy, and the step's metrics.

use super::{label_terms, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The training domains' blocks of one step, through the backbone in train mode.
#[derive(Debug)]
pub struct DomainForward {
    /// Features of each block, in domain order.
    pub features: Vec<Tensor>,
    /// Class logits of each block.
    pub logits: Vec<Tensor>,
    /// Classes of each block.
    pub labels: Vec<Tensor>,
}

impl DomainForward {
    /// The blocks of `batch` (an error naming `method` where it has fewer than two) through `net`.
    pub fn of(net: &dyn AdaptNet, batch: &StepInputs, method: &str) -> Result<Self, StrategyError> {
        let blocks = batch.domain_blocks(method)?;
        let d = blocks.len() as i64;
        let f = net.features(batch.labelled.0, true);
        let logits = net.classify(&f, true);
        Ok(Self {
            features: f.chunk(d, 0),
            logits: logits.chunk(d, 0),
            labels: blocks.into_iter().map(|(_, y)| y).collect(),
        })
    }

    /// Each block's mean cross-entropy, `[D]`.
    pub fn losses(&self) -> Tensor {
        Tensor::stack(
            &self
                .logits
                .iter()
                .zip(&self.labels)
                .map(|(z, y)| z.cross_entropy_for_logits(y))
                .collect::<Vec<_>>(),
            0,
        )
    }

    /// The step's terms: `loss` to back-propagate, the class loss `nll` and the labelled rows' accuracy counts
    /// over every block, and the method's penalty (unweighted) as the transfer metric.
    pub fn terms(&self, loss: Tensor, nll: &Tensor, penalty: &Tensor) -> Terms {
        let (_, correct, count) = label_terms(&Tensor::cat(&self.logits, 0), &Tensor::cat(&self.labels, 0));
        let zero = || Tensor::zeros([], (Kind::Float, nll.device()));
        Terms {
            loss,
            metrics: [nll.detach(), correct, count, penalty.detach(), zero(), zero()],
        }
    }
}
