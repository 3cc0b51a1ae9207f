//! GroupDRO: distributionally robust optimisation over the training domains as groups (Sagawa, Koh, Hashimoto &
//! Liang, ICLR 2020), as DomainBed runs it (`domainbed/algorithms.py`, `GroupDRO`). A weight per domain rises
//! exponentially with its risk, and the loss is the weighted risk:
//!
//! ```text
//! q_e <- q_e * exp(eta * R_e),  q <- q / sum(q)      (q starts uniform; R_e detached)
//! L   = sum_e q_e R_e
//! ```
//!
//! `q` is kept across steps in the backbone's variables (`discriminator.groupdro.q`, not trained), so
//! checkpoints hold it. Default: `hparams_registry.py` (groupdro_eta 1e-2). The run's lambda does not enter: the
//! weights are the method, and with `eta = 0` they stay uniform (ERM).

use super::multi_domain::DomainForward;
use super::{joint_update, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, Param, StepInputs, Terms};
use crate::error::StrategyError;
use crate::optimiser::Optimiser;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "groupdro",
    help: "GroupDRO: the worst training domains' risk weighted up, exponentially (Sagawa et al., ICLR 2020)",
    data: DataNeeds::DOMAINS,
    build: |c| Ok(Box::new(GroupDro::new(c)?)),
    published: &[],
    params: &[Param::non_negative("groupdro_eta", 1e-2, "DomainBed, hparams_registry.py, groupdro_eta")],
};

/// The domains' next weights from `q` and their risks `losses` (both `[D]`): `q * exp(eta * losses)`, normalised.
pub fn next_weights(q: &Tensor, losses: &Tensor, eta: f64) -> Tensor {
    let q = q * (losses.detach() * eta).exp();
    &q / q.sum(Kind::Float)
}

#[derive(Debug)]
pub struct GroupDro {
    eta: f64,
    /// The domains' weights, `[D]`, uniform at the start (DomainBed normalises them at the first step).
    q: Tensor,
}

impl GroupDro {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let state = ctx.net.var_store().root() / shift_models::DISCRIMINATOR / "groupdro";
        Ok(Self {
            eta: ctx.param("groupdro_eta")?,
            q: state.ones_no_train("q", &[ctx.spec.domains()]),
        })
    }

    /// The step's terms and the weights they used.
    fn weighted(&self, net: &dyn AdaptNet, batch: &StepInputs) -> Result<(Terms, Tensor), StrategyError> {
        let fwd = DomainForward::of(net, batch, self.name())?;
        let losses = fwd.losses();
        if self.q.size() != losses.size() {
            return Err(StrategyError::Other(format!(
                "groupdro was built for {} training domains, and the batch has {}",
                self.q.size()[0],
                losses.size()[0]
            )));
        }
        let q = next_weights(&self.q, &losses, self.eta);
        let loss = (&losses * &q).sum(Kind::Float);
        let nll = losses.mean(Kind::Float);
        // The transfer metric: the largest weight (1/D while the domains are alike).
        let top = q.max();
        Ok((fwd.terms(loss, &nll, &top), q))
    }
}

impl Method for GroupDro {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("GroupDRO keeps its domains' weights across steps, set after each step's loss")
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        Ok(self.weighted(net, batch)?.0)
    }

    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        _lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let (terms, q) = self.weighted(net, batch)?;
        shift_tensor::tch::no_grad(|| self.q.copy_(&q.detach()));
        joint_update(opts, self.name(), terms, lr)
    }
}
