//! Inter-domain Mixup (Yan, Song, Li, Zhang & Kong, arXiv 2020: "Improve unsupervised domain adaptation with
//! mixup training"), as DomainBed runs it (`domainbed/algorithms.py`, `Mixup`; pairs from `lib/misc.py`,
//! `random_pairs_of_minibatches`). The training domains in a random cycle `pi`; each block is mixed with the
//! next one's, at a weight drawn from a Beta distribution per pair:
//!
//! ```text
//! lam_e ~ Beta(alpha, alpha),  x = lam_e x_pi(e) + (1 - lam_e) x_pi(e+1)
//! L     = mean_e [ lam_e CE(C(F(x)), y_pi(e)) + (1 - lam_e) CE(C(F(x)), y_pi(e+1)) ]
//! ```
//!
//! Default: `hparams_registry.py` (mixup_alpha 0.2). The cycle and the weights are drawn from libtorch's
//! generator, which the epoch loop seeds per step.

use super::{label_terms, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, Param, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Device, Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "mixup",
    help: "Mixup between training domains: inputs and labels interpolated across domain pairs (Yan et al., 2020)",
    data: DataNeeds::DOMAINS,
    build: |c| Ok(Box::new(Mixup::new(c)?)),
    published: &[],
    params: &[Param::positive("mixup_alpha", 0.2, "DomainBed, hparams_registry.py, mixup_alpha")],
};

/// The mixed blocks and their two label sets: block `e` mixes `blocks[order[e]]` with `blocks[order[e + 1]]`
/// (cyclically) at `lam[e]`. Returns (inputs, first classes, second classes).
pub fn mix(blocks: &[(Tensor, Tensor)], order: &[usize], lam: &Tensor) -> (Tensor, Tensor, Tensor) {
    let d = order.len();
    let (mut xs, mut yi, mut yj) = (Vec::new(), Vec::new(), Vec::new());
    for e in 0..d {
        let (a, b) = (&blocks[order[e]], &blocks[order[(e + 1) % d]]);
        let l = lam.get(e as i64);
        xs.push(&a.0 * &l + &b.0 * (1.0 - &l));
        yi.push(a.1.shallow_clone());
        yj.push(b.1.shallow_clone());
    }
    (Tensor::cat(&xs, 0), Tensor::cat(&yi, 0), Tensor::cat(&yj, 0))
}

/// The objective of logits `z` of the mixed blocks (each `n` rows) against their two label sets at `lam`:
/// the mean over blocks of `lam CE(z, y_i) + (1 - lam) CE(z, y_j)`.
pub fn mixup_objective(z: &Tensor, yi: &Tensor, yj: &Tensor, lam: &Tensor) -> Tensor {
    let d = lam.size()[0];
    let per = |y: &Tensor| {
        Tensor::stack(
            &z.chunk(d, 0)
                .iter()
                .zip(y.chunk(d, 0))
                .map(|(z, y)| z.cross_entropy_for_logits(&y))
                .collect::<Vec<_>>(),
            0,
        )
    };
    let rest: Tensor = 1.0 - lam;
    (lam * per(yi) + rest * per(yj)).mean(Kind::Float)
}

#[derive(Debug)]
pub struct Mixup {
    alpha: f64,
}

impl Mixup {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            alpha: ctx.param("mixup_alpha")?,
        })
    }
}

/// `d` draws of Beta(alpha, alpha), as the ratio of two Gamma(alpha) draws.
fn beta_draws(d: i64, alpha: f64, device: Device) -> Tensor {
    let g = Tensor::full([2, d], alpha, (Kind::Double, Device::Cpu)).internal_standard_gamma();
    (g.get(0) / g.sum_dim_intlist(0, false, Kind::Double)).to_kind(Kind::Float).to_device(device)
}

impl Method for Mixup {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("Mixup draws its domain pairs on the host every step")
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let blocks = batch.domain_blocks(self.name())?;
        let d = blocks.len() as i64;
        let perm = Tensor::randperm(d, (Kind::Int64, Device::Cpu));
        let order: Vec<usize> = Vec::<i64>::try_from(&perm)
            .map_err(|e| StrategyError::Other(format!("mixup: {e}")))?
            .into_iter()
            .map(|i| i as usize)
            .collect();
        let lam = beta_draws(d, self.alpha, batch.labelled.0.device());
        let (x, yi, yj) = mix(&blocks, &order, &lam);
        let z = net.classify(&net.features(&x, true), true);
        let loss = mixup_objective(&z, &yi, &yj, &lam);
        // Accuracy against each row's heavier label.
        let n = yi.size()[0] / d;
        let heavier = lam.repeat_interleave_self_int(n, 0, None).ge(0.5);
        let (_, correct, count) = label_terms(&z, &yi.where_self(&heavier, &yj));
        let zero = || Tensor::zeros([], (Kind::Float, z.device()));
        Ok(Terms {
            metrics: [loss.detach(), correct, count, zero(), zero(), zero()],
            loss,
        })
    }
}
