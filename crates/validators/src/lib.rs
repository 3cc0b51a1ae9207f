//! Validators: scores that rank checkpoints without target labels, higher meaning better (the setting of
//! Musgrave, Belongie & Lim, "Three New Validators and a Large-Scale Benchmark Ranking for Unsupervised Domain
//! Adaptation", 2022). One file per validator, each behind [`Validator`].
//!
//! ```
//! use shift_tensor::tch::{Kind, Tensor};
//! use shift_validators::{Predictions, Validator};
//! let confident = Tensor::from_slice2(&[[9.0f64, 0.0], [0.0, 9.0]]);
//! let unsure = Tensor::zeros([2, 2], (Kind::Double, shift_tensor::tch::Device::Cpu));
//! let score = |logits: &Tensor| shift_validators::Entropy.score(&Predictions::target(logits.shallow_clone())).unwrap();
//! assert!(score(&confident) > score(&unsure));
//! # assert!((score(&unsure) + 2f64.ln()).abs() < 1e-12);
//! ```

mod bnm;
mod entropy;
mod im;
mod snd;
mod source_accuracy;

pub use bnm::Bnm;
pub use entropy::Entropy;
pub use im::InfoMax;
pub use snd::Snd;
pub use source_accuracy::SourceAccuracy;

use shift_tensor::tch::{Kind, Tensor};

/// What a validator may look at: the model's logits on target images, and on a held-out source split with its
/// labels. Never target labels.
#[derive(Debug)]
pub struct Predictions {
    /// N x K target logits.
    pub target_logits: Tensor,
    /// M x K logits on the held-out source split, and its M labels.
    pub source: Option<(Tensor, Tensor)>,
}

impl Predictions {
    /// Target logits only.
    pub fn target(target_logits: Tensor) -> Self {
        Self {
            target_logits,
            source: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidatorError {
    #[error("validator {validator}: {what}")]
    Input { validator: &'static str, what: String },
}

/// A label-free score of a model: higher is better.
pub trait Validator {
    /// Its name in metrics.jsonl and the tables (`entropy`, `snd`, ...).
    fn name(&self) -> &'static str;
    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError>;
}

/// Every validator, with the published defaults.
pub fn all() -> Vec<Box<dyn Validator>> {
    vec![
        Box::new(SourceAccuracy),
        Box::new(Entropy),
        Box::new(InfoMax),
        Box::new(Bnm),
        Box::new(Snd::default()),
    ]
}

/// The logits as an N x K double matrix with N >= `min_rows`, or an error naming the validator.
pub(crate) fn logits(validator: &'static str, t: &Tensor, min_rows: i64) -> Result<Tensor, ValidatorError> {
    let size = t.size();
    if size.len() != 2 || size[1] < 1 {
        return Err(ValidatorError::Input {
            validator,
            what: format!("logits must be N x K (K >= 1), got shape {size:?}"),
        });
    }
    if size[0] < min_rows {
        return Err(ValidatorError::Input {
            validator,
            what: format!("needs at least {min_rows} predictions, got {}", size[0]),
        });
    }
    let t = t.to_kind(Kind::Double);
    let finite = t.isfinite().all().int64_value(&[]) == 1;
    if !finite {
        return Err(ValidatorError::Input {
            validator,
            what: "the logits hold NaN or infinite values (a diverged model)".into(),
        });
    }
    Ok(t)
}

/// Each row's entropy, `-sum_k p_k log p_k`, from logits (in log space: a zero probability adds zero).
pub(crate) fn row_entropy(logits: &Tensor) -> Tensor {
    let log_p = logits.log_softmax(1, Kind::Double);
    -(log_p.exp() * &log_p).sum_dim_intlist([1i64].as_slice(), false, Kind::Double)
}
