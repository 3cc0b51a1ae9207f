//! CDAN and CDAN+E: conditional adversarial domain adaptation (Long, Cao, Wang & Jordan, NeurIPS 2018). The
//! discriminator sees the features conditioned on the classifier's predictions, through the multilinear map
//! `T(f, g) = g ⊗ f` (flattened), with `g = softmax(C(f))` detached, or, where `d_f * d_g > 4096`, the randomized
//! multilinear map `T(f, g) = (R_f^T f) ⊙ (R_g^T g) / sqrt(d)` with fixed Gaussian `R_f`, `R_g` and `d = 1024`:
//!
//! ```text
//! L = CE(C(f_s), y_s) + sum_i w_i BCE(D(R_lambda(T(f_i, g_i))), d_i) / N,   f = F([x_s; x_t]), d = [0; 1]
//! ```
//!
//! CDAN weighs every row `w_i = 1`. CDAN+E conditions on uncertainty: `w_i = 1 + exp(-H(g_i))` with the entropy
//! `H(g) = -sum_c g_c log g_c`, normalised over the batch so that `sum_i w_i = N`. The reversal layer and lambda's
//! schedule are DANN's.

use super::{Capture, 
    domain_terms, joint_optimiser, label_terms, BuildContext, DataNeeds, Lambda, Method, MethodInfo, OptimiserSpec,
    StepInputs, Terms,
};
use crate::{optimiser::GroupSpec, error::StrategyError};
use shift_models::{AdaptNet, DomainDiscriminator, DISCRIMINATOR};
use shift_tensor::tch::{nn, Tensor};

/// Above this many values (`d_f * d_g`) the map is randomized (Long et al. 2018, Section 3.2).
pub const MAX_MULTILINEAR_DIM: i64 = 4096;
/// The randomized map's output size (the paper's `d`).
pub const RANDOMIZED_DIM: i64 = 1024;

/// The conditioning map `T(f, g)` from features and (detached) predictions to the discriminator's input.
/// The registry entry of CDAN. No CDAN number on MNIST -> MNIST-M is published (the paper's digit tasks are
/// MNIST <-> USPS and SVHN -> MNIST), so none is set beside it.
pub static INFO: MethodInfo = MethodInfo {
    name: "cdan",
    help: "CDAN: discriminator on features x predictions (Long et al., NeurIPS 2018)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Cdan::new(c, false))),
    published: &[],
    params: &[],
};

/// The registry entry of CDAN+E (no MNIST -> MNIST-M number published either).
pub static INFO_E: MethodInfo = MethodInfo {
    name: "cdan-e",
    help: "CDAN+E: CDAN with entropy conditioning (Long et al., NeurIPS 2018)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Cdan::new(c, true))),
    published: &[],
    params: &[],
};

#[derive(Debug)]
pub enum MultilinearMap {
    /// `g ⊗ f` flattened: value `c * d_f + j` is `g_c * f_j`.
    Full { features: i64, classes: i64 },
    /// `(f R_f) ⊙ (g R_g) / sqrt(d)`, `R_f` of `d_f x d`, `R_g` of `d_g x d`, drawn once and kept.
    Randomized { rf: Tensor, rg: Tensor },
}

impl MultilinearMap {
    /// The map for `features` x `classes`: full up to [`MAX_MULTILINEAR_DIM`] values, else randomized with
    /// standard normal matrices stored (not trained) under `p` as `rf` and `rg`, so checkpoints keep them.
    pub fn new(p: &nn::Path, features: i64, classes: i64) -> Self {
        if features * classes <= MAX_MULTILINEAR_DIM {
            return Self::Full { features, classes };
        }
        let fixed = |name: &str, rows: i64| {
            let t = p.zeros_no_train(name, &[rows, RANDOMIZED_DIM]);
            shift_tensor::tch::no_grad(|| {
                let _ = t.shallow_clone().normal_(0.0, 1.0);
            });
            t
        };
        Self::Randomized {
            rf: fixed("rf", features),
            rg: fixed("rg", classes),
        }
    }

    /// The randomized map with given matrices (for tests against fixtures).
    pub fn randomized(rf: Tensor, rg: Tensor) -> Self {
        Self::Randomized { rf, rg }
    }

    pub fn output_dim(&self) -> i64 {
        match self {
            Self::Full { features, classes } => features * classes,
            Self::Randomized { rf, .. } => rf.size()[1],
        }
    }

    /// `T(f, g)` for rows of features `f` and probabilities `g`.
    pub fn apply(&self, f: &Tensor, g: &Tensor) -> Tensor {
        match self {
            Self::Full { .. } => g.unsqueeze(2).bmm(&f.unsqueeze(1)).flatten(1, -1),
            Self::Randomized { rf, rg } => {
                let d = rf.size()[1] as f64;
                (f.mm(rf) * g.mm(rg)) / d.sqrt()
            }
        }
    }
}

/// CDAN+E's weights `1 + exp(-H(g))` of the rows of `logits` (no gradient), normalised to sum to the batch size.
pub fn entropy_weights(logits: &Tensor) -> Tensor {
    let logits = logits.detach();
    let entropy = -(logits.softmax(1, logits.kind()) * logits.log_softmax(1, logits.kind())).sum_dim_intlist(
        [1i64].as_slice(),
        false,
        logits.kind(),
    );
    let w = entropy.neg().exp() + 1.0;
    let n = w.size()[0] as f64;
    &w / w.sum(w.kind()) * n
}

/// The conditional domain loss of features `f` and class logits `logits` of all rows: the discriminator on
/// `reverse(T(f, softmax(logits).detach()))`, entropy-weighted for CDAN+E. Returns (loss, correct, count).
pub fn conditional_domain_terms(
    discriminator: &DomainDiscriminator,
    map: &MultilinearMap,
    (f, logits): (&Tensor, &Tensor),
    domain: &Tensor,
    entropy: bool,
    reverse: impl FnOnce(&Tensor) -> Result<Tensor, StrategyError>,
) -> Result<(Tensor, Tensor, Tensor), StrategyError> {
    let g = logits.detach().softmax(1, logits.kind());
    let h = reverse(&map.apply(f, &g))?;
    let weight = entropy.then(|| entropy_weights(logits));
    Ok(domain_terms(&discriminator.forward(&h, true), domain, weight.as_ref()))
}

#[derive(Debug)]
pub struct Cdan {
    map: MultilinearMap,
    discriminator: DomainDiscriminator,
    entropy: bool,
}

impl Cdan {
    /// The map for the backbone's features x classes and a discriminator on its output (the backbone's recipe),
    /// all under `discriminator.`; `entropy` for CDAN+E.
    pub fn new(ctx: &BuildContext, entropy: bool) -> Self {
        let net = ctx.net;
        let p = net.var_store().root() / DISCRIMINATOR;
        let map = MultilinearMap::new(&(&p / "map"), net.feature_dim(), net.num_classes());
        let discriminator = DomainDiscriminator::new(&p, map.output_dim(), &net.discriminator_shape());
        Self {
            map,
            discriminator,
            entropy,
        }
    }

    pub fn map(&self) -> &MultilinearMap {
        &self.map
    }
}

impl Method for Cdan {
    fn info(&self) -> &'static MethodInfo {
        if self.entropy {
            &INFO_E
        } else {
            &INFO
        }
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let (xs, ys) = batch.labelled;
        let (xt, domain) = batch.adversarial(self.name())?;
        let ns = xs.size()[0];
        let f = super::features_of_both(net, xs, xt);
        let logits = super::classify_both(net, &f, ns);
        let (lc, correct, count) = label_terms(&logits.narrow(0, 0, ns), ys);
        let (ld, dcorrect, dcount) = conditional_domain_terms(
            &self.discriminator,
            &self.map,
            (&f, &logits),
            domain,
            self.entropy,
            |h| lambda.reverse(h),
        )?;
        Ok(Terms {
            metrics: [lc.detach(), correct, count, ld.detach(), dcorrect, dcount],
            loss: lc + ld,
        })
    }
}
