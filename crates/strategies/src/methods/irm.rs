//! IRM: invariant risk minimisation (Arjovsky, Bottou, Gulrajani & Lopez-Paz, arXiv 2019), IRMv1 as DomainBed
//! runs it (`domainbed/algorithms.py`, `IRM`). A classifier that is optimal in every training domain at once: the
//! gradient of each domain's risk with respect to a dummy scale `w = 1` on the logits must vanish. DomainBed
//! estimates its square without bias from the even and the odd rows of each domain's block:
//!
//! ```text
//! g_e(z, y) = d/dw CE(w z, y) at w = 1 = mean_i [ sum_k softmax(z_i)_k z_ik - z_{i, y_i} ]
//! P        = mean_e [ g_e(z[0::2], y[0::2]) * g_e(z[1::2], y[1::2]) ]
//! L        = mean_e CE(z_e, y_e) + lambda * w_irm * P,   w_irm = 1 for the first irm_penalty_anneal_iters steps
//! ```
//!
//! (the closed form of the gradient DomainBed takes by autograd). Adam restarts at the switch to `irm_lambda`, as
//! in DomainBed. Defaults: `hparams_registry.py` (irm_lambda 1e2, irm_penalty_anneal_iters 500).

use super::anneal::PenaltyAnneal;
use super::multi_domain::DomainForward;
use super::{
    BuildContext, Capture, DataNeeds, EpochStart, Lambda, Method, MethodInfo, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use crate::optimiser::Optimiser;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry (DomainBed's published numbers are set beside it by the DomainBed tasks).
pub static INFO: MethodInfo = MethodInfo {
    name: "irm",
    help: "IRM: each training domain's risk stationary in a scale of the classifier (Arjovsky et al., 2019; DomainBed's IRMv1)",
    data: DataNeeds::DOMAINS,
    build: |c| Ok(Box::new(Irm::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative("irm_lambda", 1e2, "DomainBed, hparams_registry.py, irm_lambda"),
        Param::non_negative(
            "irm_penalty_anneal_iters",
            500.0,
            "DomainBed, hparams_registry.py, irm_penalty_anneal_iters",
        ),
    ],
};

/// `d/dw CE(w z, y)` at `w = 1`: the mean over rows of `sum_k softmax(z)_k z_k - z_y`.
pub fn scale_gradient(z: &Tensor, y: &Tensor) -> Tensor {
    let expected = (z.softmax(-1, Kind::Float) * z).sum_dim_intlist(-1, false, Kind::Float);
    (expected - z.gather(1, &y.unsqueeze(1), false).squeeze_dim(1)).mean(Kind::Float)
}

/// DomainBed's `_irm_penalty` of one domain's logits `z` and classes `y`: the product of the scale gradients of
/// its even and its odd rows.
pub fn irm_penalty(z: &Tensor, y: &Tensor) -> Tensor {
    let n = z.size()[0];
    let half = |t: &Tensor, start: i64| t.slice(0, start, n, 2);
    scale_gradient(&half(z, 0), &half(y, 0)) * scale_gradient(&half(z, 1), &half(y, 1))
}

#[derive(Debug)]
pub struct Irm {
    anneal: PenaltyAnneal,
}

impl Irm {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            anneal: PenaltyAnneal::new(ctx.param("irm_penalty_anneal_iters")?, ctx.param("irm_lambda")?),
        })
    }
}

impl Method for Irm {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("IRM restarts its optimiser where its penalty's weight switches (DomainBed)")
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = DomainForward::of(net, batch, self.name())?;
        let nll = fwd.losses().mean(Kind::Float);
        let penalties: Vec<Tensor> = fwd.logits.iter().zip(&fwd.labels).map(|(z, y)| irm_penalty(z, y)).collect();
        let penalty = Tensor::stack(&penalties, 0).mean(Kind::Float);
        let loss = &nll + lambda.weigh(&(&penalty * self.anneal.weight()));
        Ok(fwd.terms(loss, &nll, &penalty))
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
