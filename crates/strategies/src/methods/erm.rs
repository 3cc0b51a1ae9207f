//! ERM: empirical risk minimisation over the pooled training domains (Vapnik, 1998), DomainBed's baseline
//! (`domainbed/algorithms.py`, `ERM`): one cross-entropy over every block of the batch,
//! `L = CE(C(F(x)), y)` over all rows. It reads no domain label; it is source-only over several domains.

use super::multi_domain::DomainForward;
use super::{Capture, DataNeeds, Lambda, Method, MethodInfo, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "erm",
    help: "ERM: the pooled training domains' risk, DomainBed's baseline (on one source: source-only)",
    data: DataNeeds::DOMAINS,
    build: |_| Ok(Box::new(Erm)),
    published: &[],
    params: &[],
};

#[derive(Debug, Default)]
pub struct Erm;

impl Method for Erm {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = DomainForward::of(net, batch, self.name())?;
        // Equal blocks: the mean of the blocks' means is the pooled mean.
        let nll = fwd.losses().mean(Kind::Float);
        let zero = Tensor::zeros([], (Kind::Float, nll.device()));
        Ok(fwd.terms(nll.shallow_clone(), &nll, &zero))
    }
}
