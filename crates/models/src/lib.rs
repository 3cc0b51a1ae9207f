//! Networks for domain adaptation: a feature extractor, a label predictor and a domain discriminator.
//!
//! Parameters live in one `VarStore` under three prefixes (`features.`, `classifier.`, `discriminator.`), so
//! that optimiser groups, freezing and checkpoints can address each part by name.

pub mod digit;
mod init;
pub mod office;
pub mod pool;
pub mod pretrained;

use shift_tensor::tch::{nn, Tensor};

/// The three parts' variable-name prefixes.
pub const FEATURES: &str = "features";
pub const CLASSIFIER: &str = "classifier";
pub const DISCRIMINATOR: &str = "discriminator";

/// Which part a variable belongs to, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Features,
    Classifier,
    Discriminator,
}

impl Part {
    pub fn of(name: &str) -> Option<Self> {
        match name.split('.').next()? {
            FEATURES => Some(Self::Features),
            CLASSIFIER => Some(Self::Classifier),
            DISCRIMINATOR => Some(Self::Discriminator),
            _ => None,
        }
    }
}

/// A network split the DANN way.
pub trait AdaptNet: std::fmt::Debug {
    /// Feature vectors for a batch (`train` switches batch norm and dropout).
    fn features(&self, x: &Tensor, train: bool) -> Tensor;
    /// Class logits from features.
    fn classify(&self, f: &Tensor, train: bool) -> Tensor;
    /// Domain logits (one per example: source 0, target 1) from features.
    fn discriminate(&self, f: &Tensor, train: bool) -> Tensor;
    /// The variables of all three parts.
    fn var_store(&self) -> &nn::VarStore;
    fn num_classes(&self) -> i64;
}
