//! Uncertainty weighting (Kendall, Gal & Cipolla, "Multi-task learning using uncertainty to weigh losses for scene
//! geometry and semantics", CVPR 2018): each task's loss weighed by a learned homoscedastic noise. For a softmax
//! classification task with temperature `sigma^2` the paper's Eq. 10 gives `(1 / sigma^2) L + log sigma`; learned
//! as `s = log sigma^2` (its Section 3.2, for stability), the loss is
//!
//! ```text
//! L = sum_t [ exp(-s_t) CE_t + s_t / 2 ]
//! ```
//!
//! with `s` a trainable vector of one value per task (`discriminator.uncertainty.log_var`, 0 at the start, so the
//! first step weighs every task 1), trained with the network by the run's optimiser. A task with a larger
//! irreducible loss ends with a larger `s` and so a smaller weight. The transfer metric is task 0's weight
//! `exp(-s_0)`.

use super::multi_task::TaskForward;
use super::{
    joint_optimiser, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, OptimiserSpec, StepInputs, Terms,
};
use crate::error::StrategyError;
use crate::optimiser::GroupSpec;
use shift_models::{AdaptNet, DISCRIMINATOR};
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "uncertainty",
    help: "Uncertainty weighting: each task's loss over a learned noise, exp(-s) L + s / 2 (Kendall et al., CVPR 2018)",
    data: DataNeeds::TASKS,
    build: |c| Ok(Box::new(Uncertainty::new(c))),
    published: &[],
    params: &[],
};

/// `sum_t exp(-s_t) losses_t + s_t / 2`.
pub fn uncertainty_loss(losses: &Tensor, log_var: &Tensor) -> Tensor {
    ((-log_var).exp() * losses + log_var * 0.5).sum(Kind::Float)
}

#[derive(Debug)]
pub struct Uncertainty {
    log_var: Tensor,
}

impl Uncertainty {
    pub fn new(ctx: &BuildContext) -> Self {
        let p = ctx.net.var_store().root() / DISCRIMINATOR / "uncertainty";
        Self {
            log_var: p.zeros("log_var", &[ctx.net.tasks()]),
        }
    }

    /// The learned `s_t = log sigma_t^2`.
    pub fn log_var(&self) -> &Tensor {
        &self.log_var
    }
}

impl Method for Uncertainty {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = TaskForward::of(net, batch, self.name())?;
        let losses = fwd.losses();
        let loss = uncertainty_loss(&Tensor::stack(&losses, 0), &self.log_var);
        let weight = (-self.log_var.get(0)).exp();
        Ok(fwd.terms(loss, &losses, &weight))
    }
}
