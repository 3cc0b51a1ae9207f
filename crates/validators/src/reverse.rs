//! Reverse validation (Zhong et al., ECML PKDD 2010; the model selection of Ganin et al., JMLR 2016,
//! Section 5.1.2): a reverse classifier learns the model's target pseudo-labels and is graded on the labelled
//! source split.

use crate::{features, logits, Predictions, Validator, ValidatorError};
use shift_tensor::tch::{Kind, Tensor};

/// The source split's accuracy of a reverse classifier trained on the target features with the model's
/// predicted classes as labels. The reverse classifier here is linear on the model's (frozen) features: ridge
/// regression of the one-hot pseudo-labels on the features standardised over the target, with an intercept and
/// penalty `alpha` (scikit-learn's `RidgeClassifier`). Ganin et al. train a whole new network by DANN as the
/// reverse classifier, a training run per checkpoint; the linear one scores every epoch in a fraction of a
/// second.
#[derive(Debug, Clone, Copy)]
pub struct ReverseValidation {
    pub alpha: f64,
}

impl Default for ReverseValidation {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

impl Validator for ReverseValidation {
    fn name(&self) -> &'static str {
        "reverse_validation"
    }

    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError> {
        let name = self.name();
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(ValidatorError::Input {
                validator: name,
                what: format!("alpha must be positive, got {}", self.alpha),
            });
        }
        let z = logits(name, &p.target_logits, 2)?;
        let x = features(name, "target features", p.target_features.as_ref(), 2)?;
        let split = p.source_split(name)?;
        let (_, labels) = split.checked(name)?;
        let xs = features(name, "source split features", split.features.as_ref(), 1)?;
        if x.size()[0] != z.size()[0] || xs.size()[1] != x.size()[1] || xs.size()[0] != labels.size()[0] {
            return Err(ValidatorError::Input {
                validator: name,
                what: format!(
                    "shapes do not match: {:?} target features for {:?} logits, {:?} source split features for {} \
                     labels",
                    x.size(),
                    z.size(),
                    xs.size(),
                    labels.size()[0]
                ),
            });
        }
        let k = z.size()[1];
        let pseudo = z.argmax(1, false).one_hot(k).to_kind(Kind::Double);
        let mean = x.mean_dim([0i64].as_slice(), true, Kind::Double);
        let std = x.std_dim([0i64].as_slice(), false, true);
        let std = std.where_self(&std.gt(0.0), &std.ones_like());
        let xc = (&x - &mean) / &std;
        let y_mean = pseudo.mean_dim([0i64].as_slice(), true, Kind::Double);
        let d = xc.size()[1];
        let gram = xc.tr().matmul(&xc) + Tensor::eye(d, (Kind::Double, xc.device())) * self.alpha;
        let w = Tensor::linalg_solve(&gram, &xc.tr().matmul(&(&pseudo - &y_mean)), true);
        // A class no pseudo-label uses is never predicted (scikit-learn knows only the classes it saw).
        let unseen = y_mean.eq(0.0);
        let decision = (((&xs - &mean) / &std).matmul(&w) + &y_mean).masked_fill(&unseen, f64::NEG_INFINITY);
        let right = decision.argmax(1, false).eq_tensor(&labels).sum(Kind::Double);
        Ok(right.double_value(&[]) / labels.size()[0] as f64)
    }
}
