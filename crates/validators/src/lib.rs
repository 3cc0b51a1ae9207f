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
mod class_ami;
mod dev;
mod entropy;
mod im;
mod logistic;
mod reverse;
mod snd;
mod source_accuracy;

pub use bnm::Bnm;
pub use class_ami::{adjusted_mutual_information, ClassAmi};
pub use dev::Dev;
pub use entropy::Entropy;
pub use im::InfoMax;
pub use logistic::Logistic;
pub use reverse::ReverseValidation;
pub use snd::Snd;
pub use source_accuracy::SourceAccuracy;

use shift_tensor::tch::{Kind, Tensor};

/// What a validator may look at: the model's logits (and features) on unlabelled target images, on a held-out
/// source split with its labels, and features of source training images. Never target labels.
#[derive(Debug)]
pub struct Predictions {
    /// N x K target logits.
    pub target_logits: Tensor,
    /// N x D target features (the feature extractor's output), for the validators that read features.
    pub target_features: Option<Tensor>,
    /// The held-out source split.
    pub source: Option<SourceSplit>,
    /// S x D features of source training images (DEV's domain classifier learns from them).
    pub source_train_features: Option<Tensor>,
    /// What validators computed from these predictions that others reuse (start with `Default::default()`).
    pub shared: Shared,
}

/// Work that several validators of one set of predictions share, done once: DEV's and DEVN's domain
/// classifier. It is kept from the first validator that needs it, so change no features of a `Predictions` after
/// scoring it (build a new one).
#[derive(Debug, Default)]
pub struct Shared {
    /// The domain classifier's log-odds on the source split, by its L2 penalty (as bits).
    log_odds: std::cell::RefCell<Vec<(u64, Tensor)>>,
}

impl Shared {
    /// The log-odds for penalty `l2`, computed by `fit` the first time.
    pub(crate) fn domain_log_odds(&self, l2: f64, fit: impl FnOnce() -> Tensor) -> Tensor {
        if let Some((_, t)) = self.log_odds.borrow().iter().find(|(k, _)| *k == l2.to_bits()) {
            return t.shallow_clone();
        }
        let t = fit();
        self.log_odds.borrow_mut().push((l2.to_bits(), t.shallow_clone()));
        t
    }
}

/// The model on the held-out source split: M x K logits, the M labels, and the M x D features where a validator
/// needs them.
#[derive(Debug)]
pub struct SourceSplit {
    pub logits: Tensor,
    pub labels: Tensor,
    pub features: Option<Tensor>,
}

impl SourceSplit {
    /// The logits as doubles (see [`logits`]) and the labels, one per row, or an error naming `validator`.
    pub(crate) fn checked(&self, validator: &'static str) -> Result<(Tensor, Tensor), ValidatorError> {
        let z = logits(validator, &self.logits, 1)?;
        if self.labels.size() != [z.size()[0]] {
            return Err(ValidatorError::Input {
                validator,
                what: format!("{} labels for {} predictions", self.labels.numel(), z.size()[0]),
            });
        }
        Ok((z, self.labels.to_kind(Kind::Int64)))
    }
}

impl Predictions {
    /// Target logits only.
    pub fn target(target_logits: Tensor) -> Self {
        Self {
            target_logits,
            target_features: None,
            source: None,
            source_train_features: None,
            shared: Shared::default(),
        }
    }

    /// The held-out source split, or an error naming `validator`.
    pub(crate) fn source_split(&self, validator: &'static str) -> Result<&SourceSplit, ValidatorError> {
        self.source.as_ref().ok_or_else(|| ValidatorError::Input {
            validator,
            what: "no held-out source split was given".into(),
        })
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
        Box::new(Dev::DEV),
        Box::new(Dev::DEVN),
        Box::new(ClassAmi),
        Box::new(ReverseValidation::default()),
    ]
}

/// The names of [`all`], in its order.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|v| v.name()).collect()
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

/// A feature matrix `t` (N x D, N >= `min_rows`, finite) as doubles, or an error naming the validator and `what`.
pub(crate) fn features(
    validator: &'static str,
    what: &str,
    t: Option<&Tensor>,
    min_rows: i64,
) -> Result<Tensor, ValidatorError> {
    let bad = |msg: String| ValidatorError::Input {
        validator,
        what: format!("{what}: {msg}"),
    };
    let t = t.ok_or_else(|| bad("not given".into()))?;
    let size = t.size();
    if size.len() != 2 || size[1] < 1 {
        return Err(bad(format!("must be N x D (D >= 1), got shape {size:?}")));
    }
    if size[0] < min_rows {
        return Err(bad(format!("needs at least {min_rows} rows, got {}", size[0])));
    }
    let t = t.to_kind(Kind::Double);
    if t.isfinite().all().int64_value(&[]) != 1 {
        return Err(bad("holds NaN or infinite values".into()));
    }
    Ok(t)
}
