//! The methods an experiment compares, with the published numbers they are set beside.

use crate::StrategyError;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Train on labelled source only (the lower bound).
    SourceOnly,
    /// DANN with the gradient reversal layer: one joint update.
    Dann,
    /// DANN with alternating updates: a discriminator step, then a feature/label step against flipped labels.
    DannAlt,
    /// Train on labelled target (the upper bound; uses target labels by design).
    TargetOnly,
}

impl Method {
    pub const ALL: [Method; 4] = [Self::SourceOnly, Self::Dann, Self::DannAlt, Self::TargetOnly];

    pub fn name(self) -> &'static str {
        match self {
            Self::SourceOnly => "source-only",
            Self::Dann => "dann",
            Self::DannAlt => "dann-alt",
            Self::TargetOnly => "target-only",
        }
    }

    pub fn is_adversarial(self) -> bool {
        matches!(self, Self::Dann | Self::DannAlt)
    }

    /// MNIST -> MNIST-M target accuracy in Ganin et al., JMLR 2016, Table 2.
    pub fn paper_mnist_m(self) -> Option<f64> {
        match self {
            Self::SourceOnly => Some(0.5225),
            Self::Dann | Self::DannAlt => Some(0.7666),
            Self::TargetOnly => Some(0.9596),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| StrategyError::Invalid {
                field: "methods".into(),
                msg: format!(
                    "unknown method `{s}` (known: {})",
                    Self::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
                ),
            })
    }
}
