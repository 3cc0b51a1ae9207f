//! VADA: virtual adversarial domain adaptation (Shu, Bui, Narui & Ermon, ICLR 2018). DANN's domain loss, plus
//! the cluster assumption on the target: low conditional entropy, and predictions that a small perturbation of
//! the input does not change (virtual adversarial training, see [`super::vat`]):
//!
//! ```text
//! L = CE(h(x_s), y_s) + lambda_d BCE(D(R(f)), d) + lambda_s L_v(x_s) + lambda_t (L_c(x_t) + L_v(x_t))
//! ```
//!
//! The reference code trains the discriminator with its own optimiser against flipped labels; here it sits
//! behind DANN's gradient reversal layer, so it learns from the domain loss at full weight while the features
//! receive `-lambda_d` times its gradient. Every transfer weight is scaled by the run's lambda schedule (0 turns
//! them all off). Defaults are the paper's for MNIST -> MNIST-M (lambda_d = lambda_t = 0.01, lambda_s = 0) and the
//! reference code's VAT radius (3.5, for inputs in [-1, 1]).

use super::vat::{conditional_entropy, vat_loss_random};
use super::{
    domain_terms, feature_discriminator, held_statistics, joint_optimiser, label_terms, BuildContext, Capture,
    DataNeeds, Forward, Lambda, Method, MethodInfo, OptimiserSpec, Param, Protocol, Published, StepInputs, Terms,
};
use crate::{optimiser::GroupSpec, error::StrategyError};
use shift_models::{AdaptNet, DomainDiscriminator};
use shift_tensor::tch::Tensor;

const PAPER: &str = "Shu et al., ICLR 2018, Appendix (MNIST -> MNIST-M hyper-parameters)";

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "vada",
    help: "VADA: DANN plus target conditional entropy and virtual adversarial training (Shu et al., ICLR 2018)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Vada::new(c)?)),
    published: &[Published {
        task: "mnist:mnist-m",
        accuracy: 0.977,
        source: "Shu et al., ICLR 2018, Table 1",
        protocol: Protocol::Other("their small CNN, Adam, 80,000 steps"),
    }],
    params: &VADA_PARAMS,
};

/// VADA's hyper-parameters (DIRT-T's first phase has the same).
pub const VADA_PARAMS: [Param; 5] = [
    Param::non_negative("domain_weight", 0.01, PAPER),
    Param::non_negative("source_vat_weight", 0.0, PAPER),
    Param::non_negative("target_weight", 0.01, PAPER),
    Param::positive(
        "radius",
        3.5,
        "the reference code (RuiShu/dirt-t, run_dirtt.py, --radius) for inputs in [-1, 1]",
    ),
    Param::positive(
        "xi",
        1e-6,
        "the reference code (RuiShu/dirt-t, extra_layers.py, vat): the probe's length",
    ),
];

/// VADA's weights and VAT settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadaWeights {
    pub domain: f64,
    pub source_vat: f64,
    pub target: f64,
    pub radius: f64,
    pub xi: f64,
}

impl VadaWeights {
    pub fn from_context(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            domain: ctx.param("domain_weight")?,
            source_vat: ctx.param("source_vat_weight")?,
            target: ctx.param("target_weight")?,
            radius: ctx.param("radius")?,
            xi: ctx.param("xi")?,
        })
    }
}

/// The VAT loss of `x` (clean logits `clean`) through the whole backbone in train mode, its batch-norm
/// statistics held.
pub fn backbone_vat(
    net: &dyn AdaptNet,
    x: &Tensor,
    clean: &Tensor,
    xi: f64,
    radius: f64,
) -> Result<Tensor, StrategyError> {
    held_statistics(net, || {
        vat_loss_random(
            &|v: &Tensor| net.classify(&net.features(v, true), true),
            x,
            clean,
            xi,
            radius,
        )
    })
}

/// VADA's target terms: conditional entropy plus VAT of the target rows, `lambda_t (L_c + L_v)`, unweighted by
/// lambda.
pub fn target_terms(
    net: &dyn AdaptNet,
    xt: &Tensor,
    logits_t: &Tensor,
    w: &VadaWeights,
) -> Result<Tensor, StrategyError> {
    let vat = backbone_vat(net, xt, logits_t, w.xi, w.radius)?;
    Ok((conditional_entropy(logits_t) + vat) * w.target)
}

/// The VADA terms of one batch: label loss, domain loss through the reversal at `lambda * domain_weight`, and the
/// VAT and entropy terms weighted by lambda. The metrics report the domain loss and accuracy as DANN's do. An
/// error names `method` (VADA, or DIRT-T in its first phase).
pub fn vada_terms(
    method: &str,
    net: &dyn AdaptNet,
    discriminator: &DomainDiscriminator,
    batch: &StepInputs,
    lambda: Lambda,
    w: &VadaWeights,
) -> Result<Terms, StrategyError> {
    let (xs, ys) = batch.labelled;
    let (xt, domain) = batch.adversarial(method)?;
    let fwd = Forward::of(net, batch, method)?;
    let (_, logits_s) = fwd.source();
    let (_, logits_t) = fwd.target();
    let (lc, correct, count) = label_terms(&logits_s, ys);
    let reversed = lambda.reverse_scaled(&fwd.f, w.domain)?;
    let (ld, dcorrect, dcount) = domain_terms(&discriminator.forward(&reversed, true), domain, None);
    let mut transfer = target_terms(net, xt, &logits_t, w)?;
    if w.source_vat > 0.0 {
        transfer += backbone_vat(net, xs, &logits_s, w.xi, w.radius)? * w.source_vat;
    }
    Ok(Terms {
        metrics: [lc.detach(), correct, count, ld.detach(), dcorrect, dcount],
        loss: lc + ld + lambda.weigh(&transfer),
    })
}

#[derive(Debug)]
pub struct Vada {
    discriminator: DomainDiscriminator,
    weights: VadaWeights,
}

impl Vada {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            discriminator: feature_discriminator(ctx),
            weights: VadaWeights::from_context(ctx)?,
        })
    }
}

impl Method for Vada {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    fn capture(&self) -> Capture {
        Capture::No("VAT's power iteration differentiates inside the step; not yet checked under CUDA-graph capture")
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        vada_terms(INFO.name, net, &self.discriminator, batch, lambda, &self.weights)
    }
}
