//! Lambda schedules for the gradient reversal layer; `Paper` is the schedule of Ganin & Lempitsky (ICML 2015).

use serde::{Deserialize, Serialize};

/// How lambda grows with training progress `p` in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LambdaSchedule {
    /// `2 / (1 + exp(-gamma p)) - 1`, the paper's schedule (gamma = 10): 0 at the start, close to 1 at the end.
    Paper { gamma: f64 },
    /// The same value throughout.
    Constant { value: f64 },
    /// The paper's curve rescaled to run from `lo` to `hi`: `lo + (hi - lo) * (2 / (1 + exp(-gamma p)) - 1)`.
    WarmStart { lo: f64, hi: f64, gamma: f64 },
}

impl Default for LambdaSchedule {
    fn default() -> Self {
        Self::Paper { gamma: 10.0 }
    }
}

/// A schedule whose parameters cannot give a sensible lambda.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    #[error("lambda schedule: `{field}` must be finite and >= 0, got {value}")]
    Negative { field: &'static str, value: f64 },
    #[error("lambda schedule: `lo` ({lo}) must not exceed `hi` ({hi})")]
    Inverted { lo: f64, hi: f64 },
}

impl LambdaSchedule {
    /// Lambda at progress `p` (clamped to [0, 1]).
    pub fn value(&self, p: f64) -> f64 {
        let p = p.clamp(0.0, 1.0);
        let sigmoid_ramp = |gamma: f64| 2.0 / (1.0 + (-gamma * p).exp()) - 1.0;
        match *self {
            Self::Paper { gamma } => sigmoid_ramp(gamma),
            Self::Constant { value } => value,
            Self::WarmStart { lo, hi, gamma } => lo + (hi - lo) * sigmoid_ramp(gamma),
        }
    }

    /// Checks the parameters; every field must be finite and non-negative, and `lo <= hi`.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let check = |field: &'static str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(ScheduleError::Negative { field, value })
            }
        };
        match *self {
            Self::Paper { gamma } => check("gamma", gamma),
            Self::Constant { value } => check("value", value),
            Self::WarmStart { lo, hi, gamma } => {
                check("lo", lo)?;
                check("hi", hi)?;
                check("gamma", gamma)?;
                if lo > hi {
                    return Err(ScheduleError::Inverted { lo, hi });
                }
                Ok(())
            }
        }
    }
}
