//! Information maximisation: diversity of the target predictions minus their entropy (Gomes, Krause & Perona,
//! NeurIPS 2010; the IM loss of SHOT, Liang et al., ICML 2020; a validator in Musgrave et al. 2022).

use crate::{logits, row_entropy, Predictions, Validator, ValidatorError};
use shift_tensor::tch::Kind;

/// `H(1/N sum_i p_i) - 1/N sum_i H(p_i)`: high when each prediction is confident and the classes are used
/// evenly.
#[derive(Debug, Clone, Copy, Default)]
pub struct InfoMax;

impl Validator for InfoMax {
    fn name(&self) -> &'static str {
        "im"
    }

    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError> {
        let z = logits(self.name(), &p.target_logits, 1)?;
        let mean_p = z
            .softmax(1, Kind::Double)
            .mean_dim([0i64].as_slice(), false, Kind::Double);
        // Classes no prediction uses add nothing to the diversity.
        let used = mean_p.gt(0.0);
        let m = mean_p.masked_select(&used);
        let diversity = -(&m * m.log()).sum(Kind::Double).double_value(&[]);
        Ok(diversity - row_entropy(&z).mean(None).double_value(&[]))
    }
}
