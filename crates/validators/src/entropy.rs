//! Entropy: the negated mean entropy of the target predictions (confident predictions score high; the
//! baseline of Musgrave et al. 2022, and the entropy term of Grandvalet & Bengio, NeurIPS 2004).

use crate::{logits, row_entropy, Predictions, Validator, ValidatorError};

/// `-1/N sum_i H(softmax(z_i))`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Entropy;

impl Validator for Entropy {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError> {
        let z = logits(self.name(), &p.target_logits, 1)?;
        Ok(-row_entropy(&z).mean(None).double_value(&[]))
    }
}
