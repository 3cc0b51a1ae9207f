//! DEV: deep embedded validation (You, Wang, Long & Jordan, "Towards Accurate Model Selection in Deep
//! Unsupervised Domain Adaptation", ICML 2019), and DEVN, its form with max-normalised importance weights
//! (Musgrave, Belongie & Lim, 2022).

use crate::{features, logistic::Logistic, Predictions, Validator, ValidatorError};
use shift_tensor::tch::{Kind, Tensor};

/// The importance-weighted source risk with a control variate, negated (higher is better).
///
/// A domain classifier learns target (1) against source (0) from the features of source training images and
/// target images: a [`Logistic`] regression. On the held-out source split its odds give the density ratio
/// `w_i = p(target|x_i) / p(source|x_i) * n_s / n_t` (DEVN: `w_i / max_j w_j`). With `l_i` the cross-entropy
/// of the held-out example, the risk is
///
/// `mean(w l) + eta * mean(w) - eta`,  `eta = -Cov(w l, w) / (Var(w) + 1e-6)` (sample covariance and variance),
///
/// and the score is its negation. The paper's domain classifier is a small network chosen over weight decays;
/// a logistic regression with a fixed `l2` (ours: 1e-2 on the mean log-loss) has one optimum, so the score
/// does not depend on an optimiser's seed.
#[derive(Debug, Clone, Copy)]
pub struct Dev {
    /// DEVN: importance weights divided by their maximum.
    pub normalised: bool,
    /// The domain classifier's L2 penalty, `l2 / 2 * |w|^2` beside the mean log-loss (the intercept is free).
    pub l2: f64,
}

impl Dev {
    /// DEV with the default penalty.
    pub const DEV: Dev = Dev {
        normalised: false,
        l2: 1e-2,
    };
    /// DEVN: DEV with max-normalised weights.
    pub const DEVN: Dev = Dev {
        normalised: true,
        l2: 1e-2,
    };
}

impl Validator for Dev {
    fn name(&self) -> &'static str {
        if self.normalised {
            "devn"
        } else {
            "dev"
        }
    }

    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError> {
        let name = self.name();
        if !(self.l2 > 0.0 && self.l2.is_finite()) {
            return Err(ValidatorError::Input {
                validator: name,
                what: format!("l2 must be positive, got {}", self.l2),
            });
        }
        let split = p.source_split(name)?;
        let (z, labels) = split.checked(name)?;
        let held_out = features(name, "source split features", split.features.as_ref(), 2)?;
        let source = features(name, "source training features", p.source_train_features.as_ref(), 1)?;
        let target = features(name, "target features", p.target_features.as_ref(), 1)?;
        let d = source.size()[1];
        if target.size()[1] != d || held_out.size()[1] != d {
            return Err(ValidatorError::Input {
                validator: name,
                what: format!(
                    "features of different widths: source training {d}, target {}, source split {}",
                    target.size()[1],
                    held_out.size()[1]
                ),
            });
        }
        if held_out.size()[0] != z.size()[0] {
            return Err(ValidatorError::Input {
                validator: name,
                what: format!(
                    "{} source split features for {} predictions",
                    held_out.size()[0],
                    z.size()[0]
                ),
            });
        }
        let (n_s, n_t) = (source.size()[0] as f64, target.size()[0] as f64);
        // DEV and DEVN fit the same classifier to the same features: once per set of predictions.
        let log_odds = p
            .shared
            .domain_log_odds(self.l2, || Logistic::fit(&source, &target, self.l2).log_odds(&held_out));
        let mut w = (log_odds + (n_s / n_t).ln()).exp();
        if self.normalised {
            w = &w / w.max();
        }
        let loss = z.cross_entropy_loss::<Tensor>(&labels, None, shift_tensor::tch::Reduction::None, -100, 0.0);
        Ok(-control_variate_risk(&w, &loss))
    }
}

/// `mean(w l) + eta mean(w) - eta` with `eta = -Cov(w l, w) / (Var(w) + 1e-6)`.
fn control_variate_risk(w: &Tensor, loss: &Tensor) -> f64 {
    let weighted = w * loss;
    let m = w.size()[0] as f64;
    let (mean_wl, mean_w) = (weighted.mean(Kind::Double), w.mean(Kind::Double));
    let cov = ((&weighted - &mean_wl) * (w - &mean_w))
        .sum(Kind::Double)
        .double_value(&[])
        / (m - 1.0);
    let var = (w - &mean_w).square().sum(Kind::Double).double_value(&[]) / (m - 1.0);
    let eta = -cov / (var + 1e-6);
    mean_wl.double_value(&[]) + eta * mean_w.double_value(&[]) - eta
}
