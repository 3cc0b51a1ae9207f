//! DAAN: dynamic adversarial adaptation network (Yu, Wang, Chen & Huang, ICDM 2019). A global domain
//! discriminator aligns the marginal distributions, one local discriminator per class aligns the conditional
//! ones (its input is the features weighted by that class's predicted probability), and a dynamic factor `omega`
//! weighs the two, estimated each epoch from how well each kind of discriminator told the domains apart:
//!
//! ```text
//! L_g   = BCE(D_g(R(f)), d)                         L_l = 1/K sum_c BCE(D_c(R(p_c f)), d),  p = softmax(C(f))
//! L     = CE(C(f_s), y_s) + (1 - omega) L_g + omega L_l       R: the reversal layer at lambda (lambda acts there)
//! d_g   = 2 (1 - 2 e_g),  d_l = 2 (1 - 2 e_l)       (A-distance proxies, summed over an epoch's steps)
//! omega = 1 - d_g / (d_g + d_l)                      (set at each epoch's start from the previous epoch; 0.5 first)
//! ```
//!
//! `e_g` is the global discriminator's error rate on the batch and `e_l` the local ones' mean error rate: the
//! A-distance's own definition (Ben-David et al. 2010). The reference code (DeepDA) puts the losses in their
//! place, which at the adversarial balance (a loss near ln 2) makes both proxies negative. A negative proxy counts
//! as 0, and with both 0 omega is 0.5. `L_l` is the mean over classes (the paper sums, which makes it K times the
//! global term at the start). The proxies and omega are device tensors in the
//! backbone's variables (`discriminator.daan.*`, not trained), so a resumed run continues with them and the step
//! stays one capturable loss.

use super::{
    domain_terms, feature_discriminator, joint_optimiser, joint_update, label_terms, BuildContext, Capture,
    DataNeeds, EpochStart, Forward, Lambda, Method, MethodInfo, OptimiserSpec, StepInputs, Terms,
};
use crate::{optimiser::GroupSpec, optimiser::Optimiser, error::StrategyError};
use shift_models::{AdaptNet, DomainDiscriminator, DISCRIMINATOR};
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry. No DAAN number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "daan",
    help: "DAAN: global and per-class discriminators weighed by a dynamic factor (Yu et al., ICDM 2019)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Daan::new(c))),
    published: &[],
    params: &[],
};

/// omega from an epoch's summed proxies: `1 - d_g / (d_g + d_l)`, each proxy at least 0, 0.5 when both are 0.
pub fn dynamic_factor(dg: &Tensor, dl: &Tensor) -> Tensor {
    let (dg, dl) = (dg.clamp_min(0.0), dl.clamp_min(0.0));
    let total = &dg + &dl;
    let omega = (dg.ones_like() - &dg / total.clamp_min(1e-12)).clamp(0.0, 1.0);
    omega.where_self(&total.gt(0.0), &dg.full_like(0.5))
}

/// The domain terms of features `f` with class `logits`, each discriminator behind `reverse`.
#[derive(Debug)]
pub struct DomainLosses {
    /// The global loss `L_g` and the local ones' mean `L_l`.
    pub global: Tensor,
    pub local: Tensor,
    /// The global discriminator's error rate and the local ones' mean error rate (no gradient).
    pub global_error: Tensor,
    pub local_error: Tensor,
    /// The global discriminator's correct count and the rows.
    pub correct: Tensor,
    pub count: Tensor,
}

pub fn domain_losses(
    global: &DomainDiscriminator,
    local: &[DomainDiscriminator],
    (f, logits): (&Tensor, &Tensor),
    domain: &Tensor,
    reverse: impl Fn(&Tensor) -> Result<Tensor, StrategyError>,
) -> Result<DomainLosses, StrategyError> {
    let (lg, correct, count) = domain_terms(&global.forward(&reverse(f)?, true), domain, None);
    let error = |correct: &Tensor, count: &Tensor| correct.ones_like() - correct / count;
    let p = logits.softmax(1, logits.kind());
    let k = local.len().max(1) as f64;
    let (mut ll, mut el) = (
        Tensor::zeros([], (f.kind(), f.device())),
        Tensor::zeros([], (f.kind(), f.device())),
    );
    for (c, d) in local.iter().enumerate() {
        let weighted = reverse(&(f * p.narrow(1, c as i64, 1)))?;
        let (l, lc, ln) = domain_terms(&d.forward(&weighted, true), domain, None);
        ll += l;
        el += error(&lc, &ln);
    }
    Ok(DomainLosses {
        global_error: error(&correct, &count),
        global: lg,
        local: ll / k,
        local_error: el / k,
        correct,
        count,
    })
}

#[derive(Debug)]
pub struct Daan {
    global: DomainDiscriminator,
    local: Vec<DomainDiscriminator>,
    /// The factor in use, and this epoch's summed proxies (0-dim, not trained).
    omega: Tensor,
    dg: Tensor,
    dl: Tensor,
}

impl Daan {
    /// The global discriminator (`discriminator.`) and one per class (`discriminator.local.<c>.`), each with the
    /// backbone's recipe; omega and the proxies under `discriminator.daan.`.
    pub fn new(ctx: &BuildContext) -> Self {
        let net = ctx.net;
        let p = net.var_store().root() / DISCRIMINATOR;
        let local = (0..net.num_classes())
            .map(|c| DomainDiscriminator::new(&(&p / "local" / c), net.feature_dim(), &net.discriminator_shape()))
            .collect();
        let state = &p / "daan";
        let omega = state.zeros_no_train("omega", &[]);
        shift_tensor::tch::no_grad(|| {
            let _ = omega.shallow_clone().fill_(0.5);
        });
        Self {
            global: feature_discriminator(ctx),
            local,
            omega,
            dg: state.zeros_no_train("dg", &[]),
            dl: state.zeros_no_train("dl", &[]),
        }
    }

    /// The factor in use.
    pub fn omega(&self) -> f64 {
        self.omega.double_value(&[])
    }
}

impl Method for Daan {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    /// From the second epoch on, omega from the previous epoch's proxies, which start again from 0. An epoch
    /// resumed mid-way keeps the omega and the partial sums its checkpoint holds.
    /// Not captured: its proxies' sums grow in place every step, and the fast step's replay check runs a step
    /// three times from one state, which would count it three times.
    fn capture(&self) -> Capture {
        Capture::No("its factor's sums grow in place each step, which a checked graph replay would count thrice")
    }

    fn on_epoch_start(&mut self, _net: &dyn AdaptNet, at: &EpochStart) -> Result<(), StrategyError> {
        if at.epoch > 0 && at.step == 0 {
            shift_tensor::tch::no_grad(|| {
                let omega = dynamic_factor(&self.dg, &self.dl);
                self.omega.shallow_clone().copy_(&omega);
                let _ = self.dg.shallow_clone().zero_();
                let _ = self.dl.shallow_clone().zero_();
            });
        }
        Ok(())
    }

    /// The step's terms; a pure function of the batch and the state (the proxies grow in [`Method::step`]).
    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        self.terms(net, batch, lambda).map(|(terms, _)| terms)
    }

    /// The joint step, then the batch's discriminator error rates added to the epoch's proxies.
    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let (terms, (global_error, local_error)) = self.terms(net, batch, Lambda::Host(lambda))?;
        let metrics = joint_update(opts, self.name(), terms, lr)?;
        shift_tensor::tch::no_grad(|| {
            let _ = self.dg.shallow_clone().g_add_(&((global_error * -2.0 + 1.0) * 2.0));
            let _ = self.dl.shallow_clone().g_add_(&((local_error * -2.0 + 1.0) * 2.0));
        });
        Ok(metrics)
    }
}

impl Daan {
    /// The terms of one batch, and its global and local discriminator error rates (for the proxies).
    fn terms(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<(Terms, (Tensor, Tensor)), StrategyError> {
        let (_, domain) = batch.adversarial(self.name())?;
        let fwd = Forward::of(net, batch, self.name())?;
        let (_, logits_s) = fwd.source();
        let (lc, correct, count) = label_terms(&logits_s, batch.labelled.1);
        let DomainLosses {
            global: lg,
            local: ll,
            global_error,
            local_error,
            correct: dcorrect,
            count: dcount,
        } = domain_losses(&self.global, &self.local, (&fwd.f, &fwd.logits), domain, |h| {
            lambda.reverse(h)
        })?;
        let omega = self.omega.to_kind(Kind::Float);
        let transfer = (omega.ones_like() - &omega) * &lg + &omega * &ll;
        let terms = Terms {
            metrics: [lc.detach(), correct, count, transfer.detach(), dcorrect, dcount],
            loss: lc + transfer,
        };
        Ok((terms, (global_error.detach(), local_error.detach())))
    }
}
