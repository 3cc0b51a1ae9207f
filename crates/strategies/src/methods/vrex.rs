//! V-REx: risk extrapolation by the variance of the training domains' risks (Krueger et al., ICML 2021), as
//! DomainBed runs it (`domainbed/algorithms.py`, `VREx`):
//!
//! ```text
//! R_e = CE(z_e, y_e)                       (each training domain's mean risk)
//! L   = mean_e R_e + lambda * w_vrex * mean_e (R_e - mean_e R_e)^2,   w_vrex = 1 for the first anneal steps
//! ```
//!
//! Adam restarts at the switch to `vrex_lambda`. Defaults: `hparams_registry.py` (vrex_lambda 1e1,
//! vrex_penalty_anneal_iters 500).

use super::anneal::PenaltyAnneal;
use super::multi_domain::DomainForward;
use super::{
    BuildContext, Capture, DataNeeds, EpochStart, Lambda, Method, MethodInfo, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use crate::optimiser::Optimiser;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "vrex",
    help: "V-REx: the variance of the training domains' risks as a penalty (Krueger et al., ICML 2021)",
    data: DataNeeds::DOMAINS,
    build: |c| Ok(Box::new(Vrex::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative("vrex_lambda", 1e1, "DomainBed, hparams_registry.py, vrex_lambda"),
        Param::non_negative(
            "vrex_penalty_anneal_iters",
            500.0,
            "DomainBed, hparams_registry.py, vrex_penalty_anneal_iters",
        ),
    ],
};

/// The variance (the population's, over domains) of the domains' risks `losses` (`[D]`).
pub fn risk_variance(losses: &Tensor) -> Tensor {
    (losses - losses.mean(Kind::Float)).square().mean(Kind::Float)
}

#[derive(Debug)]
pub struct Vrex {
    anneal: PenaltyAnneal,
}

impl Vrex {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            anneal: PenaltyAnneal::new(ctx.param("vrex_penalty_anneal_iters")?, ctx.param("vrex_lambda")?),
        })
    }
}

impl Method for Vrex {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("VREx restarts its optimiser where its penalty's weight switches (DomainBed)")
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = DomainForward::of(net, batch, self.name())?;
        let losses = fwd.losses();
        let mean = losses.mean(Kind::Float);
        let penalty = risk_variance(&losses);
        let loss = &mean + lambda.weigh(&(&penalty * self.anneal.weight()));
        Ok(fwd.terms(loss, &mean, &penalty))
    }

    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        self.anneal
            .joint_step(opts, self.name(), lr, || self.loss(net, batch, Lambda::Host(lambda)))
    }

    fn on_epoch_start(&mut self, _net: &dyn AdaptNet, at: &EpochStart) -> Result<(), StrategyError> {
        self.anneal.start_epoch(at);
        Ok(())
    }

    fn after_step(&mut self, _net: &dyn AdaptNet) -> Result<(), StrategyError> {
        self.anneal.advance();
        Ok(())
    }
}
