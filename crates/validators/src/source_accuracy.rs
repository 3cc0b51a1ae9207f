//! Source accuracy: accuracy on a held-out split of the labelled source (the baseline that model selection in
//! domain adaptation started from; Musgrave et al. 2022 find it hard to beat).

use crate::{Predictions, Validator, ValidatorError};

/// The fraction of the held-out source split classified correctly.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceAccuracy;

impl Validator for SourceAccuracy {
    fn name(&self) -> &'static str {
        "source_accuracy"
    }

    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError> {
        let (z, labels) = p.source_split(self.name())?.checked(self.name())?;
        let right = z
            .argmax(1, false)
            .eq_tensor(&labels)
            .sum(shift_tensor::tch::Kind::Double);
        Ok(right.double_value(&[]) / z.size()[0] as f64)
    }
}
