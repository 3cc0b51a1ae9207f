//! Networks for domain adaptation: backbones (a feature extractor and a label predictor) and the domain
//! discriminator that adversarial methods build on them.
//!
//! Parameters live in one `VarStore` under three prefixes (`features.`, `classifier.`, and `discriminator.` for
//! the networks a method adds), so that optimiser groups, freezing and checkpoints can address each part by name.

pub mod digit;
pub mod discriminator;
pub mod head;
mod init;
pub mod mlp;
pub mod office;
pub mod pool;
pub mod pretrained;

pub use discriminator::{DiscriminatorShape, DomainDiscriminator};
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

/// A feature extractor on its own, outside a backbone: what [`AdaptNet::feature_twin`] builds.
pub trait FeatureExtractor: std::fmt::Debug {
    /// Feature vectors for a batch (`train` switches batch norm and dropout).
    fn forward(&self, x: &Tensor, train: bool) -> Tensor;
}

/// A backbone: a feature extractor and a label predictor in one `VarStore`, which the networks a method adds
/// (under `discriminator.`) join.
pub trait AdaptNet: std::fmt::Debug {
    /// Feature vectors for a batch (`train` switches batch norm and dropout).
    fn features(&self, x: &Tensor, train: bool) -> Tensor;
    /// Class logits from features.
    fn classify(&self, f: &Tensor, train: bool) -> Tensor;
    /// The variables of the backbone and of what methods added.
    fn var_store(&self) -> &nn::VarStore;
    fn num_classes(&self) -> i64;
    /// The length of a feature vector.
    fn feature_dim(&self) -> i64;
    /// The hidden layers of a domain discriminator for this backbone (the recipe its papers used).
    fn discriminator_shape(&self) -> DiscriminatorShape;
    /// The hidden widths of the classifier (a method that adds a second classifier builds it alike).
    fn classifier_hidden(&self) -> Vec<i64>;
    /// A second feature extractor of this backbone's layout, freshly initialised under `p`: its variables are
    /// named below `p` as the backbone's are below `features.` (so one copies into the other by name; ADDA's
    /// frozen source encoder).
    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor>;
}
