//! BNM as a validator: the nuclear norm of the target prediction matrix over its rows (Cui et al., CVPR 2020;
//! a validator in Musgrave et al. 2022). Large when predictions are both confident and diverse.

use crate::{logits, Predictions, Validator, ValidatorError};
use shift_tensor::tch::Kind;

/// `|softmax(Z)|_* / N`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bnm;

impl Validator for Bnm {
    fn name(&self) -> &'static str {
        "bnm"
    }

    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError> {
        let z = logits(self.name(), &p.target_logits, 1)?;
        let n = z.size()[0] as f64;
        let probs = z.softmax(1, Kind::Double);
        let nuclear = probs.linalg_norm_ord_str("nuc", [0i64, 1].as_slice(), false, None::<Kind>);
        Ok(nuclear.double_value(&[]) / n)
    }
}
