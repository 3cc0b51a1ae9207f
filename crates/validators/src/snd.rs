//! SND: soft neighbourhood density (Saito, Kim, Teterwak, Sclaroff, Darrell & Saenko, "Tune it the Right Way:
//! Unsupervised Validation of Domain Adaptation via Soft Neighborhood Density", ICCV 2021).

use crate::{logits, row_entropy, Predictions, Validator, ValidatorError};
use shift_tensor::tch::{Kind, Tensor};

/// With `q_i = p_i / |p_i|` the L2-normalised softmax predictions, `S_ij = q_i . q_j` for `j != i`: the mean
/// entropy of the rows of `softmax(S / T)`. High when each target point has many close neighbours (dense
/// clusters). `T` = 0.05, the paper's.
#[derive(Debug, Clone, Copy)]
pub struct Snd {
    pub temperature: f64,
}

impl Default for Snd {
    fn default() -> Self {
        Self { temperature: 0.05 }
    }
}

impl Validator for Snd {
    fn name(&self) -> &'static str {
        "snd"
    }

    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError> {
        let z = logits(self.name(), &p.target_logits, 2)?;
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(ValidatorError::Input {
                validator: "snd",
                what: format!("temperature must be positive, got {}", self.temperature),
            });
        }
        let probs = z.softmax(1, Kind::Double);
        let norm = probs.norm_scalaropt_dim(2, [1i64].as_slice(), true);
        let q = probs / norm;
        let s = q.matmul(&q.tr());
        let n = s.size()[0];
        // Each row without its own entry: N x (N - 1).
        let off_diagonal = Tensor::eye(n, (Kind::Bool, s.device())).logical_not();
        let s = s.masked_select(&off_diagonal).view([n, n - 1]);
        Ok(row_entropy(&(s / self.temperature)).mean(None).double_value(&[]))
    }
}
