//! DAP: direct attribute prediction (Lampert, Nickisch & Harmeling, CVPR 2009, "Learning to detect unseen object
//! classes by between-class attribute transfer"). One probabilistic classifier per attribute, trained on the seen
//! classes' examples with each example's class signature as its attribute labels; a class's score is the posterior
//! of its signature over the signature's prior:
//!
//! ```text
//! p(a_m = 1 | x) = sigmoid(x^T w_m + b_m)
//! score(z | x)   = sum_m log p(a_m = s_zm | x)  -  sum_m log p(a_m = s_zm)
//! p(a_m = 1)     = the mean of s_cm over the seen classes c
//! class(x)       = argmax_z score(z | x), over the candidate classes z
//! ```
//!
//! (the paper's eq. 2 with a uniform class prior, in logs). Its attribute classifiers were SVMs with Platt-scaled
//! outputs; here they are L2-regularised logistic regressions on the features, one per attribute, fitted together
//! full-batch from zero weights: each attribute's mean binary cross-entropy over the examples plus
//! `l2 / 2 |w_m|^2` (the biases not penalised), summed over the attributes and minimised by Adam at rate `lr` for
//! `iterations` steps (deterministic: no sampling, no random start).

use crate::{check_fit, ZeroShotError};
use shift_tensor::tch::{nn, nn::OptimizerConfig, Kind, Reduction, Tensor};

/// `s` as floats, refused unless every entry is 0 or 1.
fn binary(s: &Tensor) -> Result<Tensor, ZeroShotError> {
    let s = s.to_kind(Kind::Float);
    if s.ne(0.0).logical_and(&s.ne(1.0)).any().int64_value(&[]) != 0 {
        return Err(ZeroShotError::invalid(
            "signatures",
            "DAP's attributes are binary: want 0 or 1",
        ));
    }
    Ok(s)
}

/// How the attribute classifiers are fitted.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DapFit {
    pub l2: f64,
    pub lr: f64,
    pub iterations: usize,
}

impl Default for DapFit {
    fn default() -> Self {
        Self {
            l2: 1e-3,
            lr: 0.05,
            iterations: 500,
        }
    }
}

/// Fitted attribute classifiers and the seen classes' attribute priors.
#[derive(Debug)]
pub struct Dap {
    weight: Tensor,
    bias: Tensor,
    prior: Tensor,
}

impl Dap {
    /// Fits the classifiers to features `x` (`[N, D]`) of examples of classes `y` (`[N]`, rows of `s`) with binary
    /// signatures `s` (`[Z, A]`, the seen classes); every attribute must take both values among them.
    pub fn fit(x: &Tensor, y: &Tensor, s: &Tensor, fit: DapFit) -> Result<Self, ZeroShotError> {
        let (n, d, _, a) = check_fit(x, y, s)?;
        let ok = fit.l2 >= 0.0 && fit.l2.is_finite() && fit.lr > 0.0 && fit.lr.is_finite() && fit.iterations > 0;
        if !ok {
            return Err(ZeroShotError::invalid(
                "dap",
                format!("want l2 >= 0, lr > 0 and iterations >= 1, got {fit:?}"),
            ));
        }
        let s = binary(s)?;
        let prior = s.mean_dim(0, false, Kind::Float);
        for m in 0..a {
            let p = prior.double_value(&[m]);
            if p <= 0.0 || p >= 1.0 {
                return Err(ZeroShotError::invalid(
                    "signatures",
                    format!(
                        "attribute {m} is {} in every seen class: its classifier has nothing to learn",
                        p as i64
                    ),
                ));
            }
        }
        let targets = s.index_select(0, y);
        let x = x.to_kind(Kind::Float);
        let vs = nn::VarStore::new(x.device());
        let weight = vs.root().zeros("weight", &[d, a]);
        let bias = vs.root().zeros("bias", &[a]);
        let mut opt = nn::Adam::default().build(&vs, fit.lr)?;
        for _ in 0..fit.iterations {
            let logits = x.matmul(&weight) + &bias;
            let loss = logits.binary_cross_entropy_with_logits::<Tensor>(&targets, None, None, Reduction::Sum)
                / n as f64
                + weight.square().sum(Kind::Float) * (fit.l2 / 2.0);
            opt.backward_step(&loss);
        }
        Ok(Self {
            weight: weight.detach(),
            bias: bias.detach(),
            prior,
        })
    }

    /// A DAP of given classifier weights (`[D, A]`), biases (`[A]`) and attribute priors (`[A]`, each in (0, 1)).
    pub fn from_parts(weight: Tensor, bias: Tensor, prior: Tensor) -> Result<Self, ZeroShotError> {
        let a = weight.size().get(1).copied().unwrap_or(0);
        if weight.dim() != 2 || bias.size() != [a] || prior.size() != [a] {
            return Err(ZeroShotError::invalid(
                "dap",
                format!(
                    "want weights [D, A], biases [A] and priors [A], got {:?}, {:?} and {:?}",
                    weight.size(),
                    bias.size(),
                    prior.size()
                ),
            ));
        }
        if prior.le(0.0).logical_or(&prior.ge(1.0)).any().int64_value(&[]) != 0 {
            return Err(ZeroShotError::invalid(
                "dap",
                "every attribute prior must lie in (0, 1)",
            ));
        }
        Ok(Self { weight, bias, prior })
    }

    /// `log p(a_m = 1 | x)` and `log p(a_m = 0 | x)` for each example of `x` (`[N, D]`): two `[N, A]`.
    pub fn log_attribute_posteriors(&self, x: &Tensor) -> (Tensor, Tensor) {
        let logits = x.to_kind(Kind::Float).matmul(&self.weight) + &self.bias;
        (logits.log_sigmoid(), (-logits).log_sigmoid())
    }

    /// The score of each example of `x` (`[N, D]`) for each class of `s` (`[C, A]`, binary): `[N, C]`.
    pub fn scores(&self, x: &Tensor, s: &Tensor) -> Result<Tensor, ZeroShotError> {
        let (d, a) = (self.weight.size()[0], self.weight.size()[1]);
        if x.dim() != 2 || x.size()[1] != d || s.dim() != 2 || s.size()[1] != a {
            return Err(ZeroShotError::invalid(
                "dap.scores",
                format!(
                    "fitted on {d} features and {a} attributes, got features {:?} and signatures {:?}",
                    x.size(),
                    s.size()
                ),
            ));
        }
        let s = binary(s)?;
        let dark: Tensor = 1.0 - &s;
        let (on, off) = self.log_attribute_posteriors(x);
        let likelihood = on.matmul(&s.tr()) + off.matmul(&dark.tr());
        let unlit: Tensor = 1.0 - &self.prior;
        let log_prior = self.prior.log().unsqueeze(0).matmul(&s.tr()) + unlit.log().unsqueeze(0).matmul(&dark.tr());
        Ok(likelihood - log_prior)
    }
}
