//! Learning-rate annealing; `Paper` is Ganin & Lempitsky (ICML 2015): `lr0 / (1 + alpha p)^beta`.

use crate::error::StrategyError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// `lr0 / (1 + alpha p)^beta` with p the training progress in [0, 1] (paper: 0.01, 10, 0.75).
    Paper {
        lr0: f64,
        alpha: f64,
        beta: f64,
    },
    Constant {
        lr: f64,
    },
}

impl Default for LrSchedule {
    fn default() -> Self {
        Self::Paper {
            lr0: 0.01,
            alpha: 10.0,
            beta: 0.75,
        }
    }
}

impl LrSchedule {
    pub fn at(&self, p: f64) -> f64 {
        match *self {
            Self::Paper { lr0, alpha, beta } => lr0 / (1.0 + alpha * p.clamp(0.0, 1.0)).powf(beta),
            Self::Constant { lr } => lr,
        }
    }

    /// Checks the values; errors name the key path `at` (`train.lr`, `finetune_lr`) with the field.
    pub fn validate_at(&self, at: &str) -> Result<(), StrategyError> {
        let bad = |field: &str, v: f64| StrategyError::Invalid {
            field: format!("{at}.{field}"),
            msg: format!("must be finite and positive, got {v}"),
        };
        let (name, v) = match *self {
            Self::Paper { lr0, alpha, beta } => {
                if !(alpha.is_finite() && alpha >= 0.0) {
                    return Err(bad("alpha", alpha));
                }
                if !(beta.is_finite() && beta >= 0.0) {
                    return Err(bad("beta", beta));
                }
                ("lr0", lr0)
            }
            Self::Constant { lr } => ("lr", lr),
        };
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(bad(name, v))
        }
    }
}
