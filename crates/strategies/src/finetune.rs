//! Fine-tuning policies (the brief's first transfer setting, both domains labelled): which parts of a
//! pretrained network train on the labelled target examples, at which learning rate, and from which start; and
//! what the source-pretrained policies were pretrained with ([`Pretraining`]).

use crate::{error::StrategyError, methods::MethodName, optimiser::GroupSpec};
use serde::{Deserialize, Serialize};
use shift_models::Part;
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Source-pretrained; the feature extractor frozen, only the label predictor trains.
    Head,
    /// Source-pretrained; everything trains at the same rate.
    Full,
    /// Source-pretrained; the feature extractor at 0.1x the learning rate.
    Discriminative,
    /// No pretraining: the baseline.
    Scratch,
    /// DANN-pretrained (source labels + unlabelled target), then everything trains.
    Dann,
}

/// Where a policy's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Start {
    Random,
    SourceOnly,
    Dann,
}

impl Policy {
    pub const ALL: [Policy; 5] = [Self::Head, Self::Full, Self::Discriminative, Self::Scratch, Self::Dann];

    pub fn name(self) -> &'static str {
        match self {
            Self::Head => "head",
            Self::Full => "full",
            Self::Discriminative => "discriminative",
            Self::Scratch => "scratch",
            Self::Dann => "dann",
        }
    }

    pub fn start(self) -> Start {
        match self {
            Self::Scratch => Start::Random,
            Self::Dann => Start::Dann,
            _ => Start::SourceOnly,
        }
    }

    /// Whether the feature extractor trains (all but `head`).
    pub fn trains_features(self) -> bool {
        self != Self::Head
    }

    /// The optimiser groups; whatever they leave out is frozen.
    pub fn groups(self) -> Vec<GroupSpec> {
        let classifier = GroupSpec::part(Part::Classifier);
        match self {
            Self::Head => vec![classifier],
            Self::Discriminative => vec![
                GroupSpec {
                    part: Part::Features,
                    prefix: None,
                    lr_mult: 0.1,
                },
                classifier,
            ],
            Self::Full | Self::Scratch | Self::Dann => vec![GroupSpec::part(Part::Features), classifier],
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The one of `all` named `s`, or an error under `field` naming the `what` and listing the names.
fn by_name<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    s: &str,
    field: &str,
    what: &str,
) -> Result<T, StrategyError> {
    all.iter()
        .copied()
        .find(|&v| name(v) == s.trim())
        .ok_or_else(|| StrategyError::Invalid {
            field: field.into(),
            msg: format!(
                "unknown {what} `{s}` (known: {})",
                all.iter().map(|&v| name(v)).collect::<Vec<_>>().join(", ")
            ),
        })
}

impl FromStr for Policy {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(&Self::ALL, Self::name, s, "policies", "policy")
    }
}

/// What the source-pretrained policies (head, full, discriminative) start from (`--pretrain`): nothing (`none`,
/// the `scratch` policy), the labelled source (`supervised`, source-only training), or the source images without
/// their labels (`rotation`, `simclr`: self-supervised pretraining).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pretraining {
    None,
    Supervised,
    Rotation,
    Simclr,
}

impl Pretraining {
    pub const ALL: [Pretraining; 4] = [Self::None, Self::Supervised, Self::Rotation, Self::Simclr];

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Supervised => "supervised",
            Self::Rotation => "rotation",
            Self::Simclr => "simclr",
        }
    }

    /// The method that pretrains (None for `none`).
    pub fn method(self) -> Option<MethodName> {
        let name = match self {
            Self::None => return None,
            Self::Supervised => MethodName::SOURCE_ONLY.as_str(),
            Self::Rotation => "rotation",
            Self::Simclr => "simclr",
        };
        Some(name.parse().expect("the pretraining methods are registered"))
    }

    /// Whether it reads no source label.
    pub fn self_supervised(self) -> bool {
        matches!(self, Self::Rotation | Self::Simclr)
    }
}

impl fmt::Display for Pretraining {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pretraining {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(&Self::ALL, Self::name, s, "pretraining", "pretraining")
    }
}

/// A class-balanced labelled subset: `k` examples of each class drawn with `seed` (all of a class when it has
/// fewer), returned as sorted indices. `None` for k means every example.
pub fn balanced_subset(labels: &[u8], classes: usize, k: Option<usize>, seed: u64) -> Vec<usize> {
    use rand::{seq::SliceRandom, SeedableRng};
    let Some(k) = k else { return (0..labels.len()).collect() };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut picked = Vec::new();
    for c in 0..classes {
        let mut of_class: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] as usize == c).collect();
        of_class.shuffle(&mut rng);
        picked.extend(of_class.into_iter().take(k));
    }
    picked.sort_unstable();
    picked
}
