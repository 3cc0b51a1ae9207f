//! Networks for domain adaptation: backbones (a feature extractor and a label predictor) and the domain
//! discriminator that adversarial methods build on them.
//!
//! Parameters live in one `VarStore` under three prefixes (`features.`, `classifier.`, and `discriminator.` for
//! the networks a method adds), so that optimiser groups, freezing and checkpoints can address each part by name.

pub mod attention_pool;
pub mod audio_cnn;
pub mod backbone;
pub mod batch_norm;
pub mod digit;
pub mod digit_bn;
pub mod discriminator;
pub mod head;
mod init;
pub mod mlp;
pub mod mnist_cnn;
pub mod multi_lenet;
pub mod office;
pub mod pool;
pub mod pretrained;
pub mod vada_cnn;

pub use backbone::DigitBackbone;
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

/// A whole second copy of a backbone (features and classifier), outside it: a teacher network (self-ensembling's
/// mean teacher, DIRT-T's previous model). Its variables are named below its path as the backbone's are below
/// the root (`features.`, `classifier.`), so the backbone copies or averages into it by name.
pub trait Twin: std::fmt::Debug {
    /// Feature vectors for a batch (`train` switches batch norm, dropout and noise).
    fn features(&self, x: &Tensor, train: bool) -> Tensor;
    /// Class logits from features.
    fn classify(&self, f: &Tensor, train: bool) -> Tensor;
    /// Class logits for a batch.
    fn logits(&self, x: &Tensor, train: bool) -> Tensor {
        self.classify(&self.features(x, train), train)
    }
}

/// The layout of a backbone's latent sequence over time ([`AdaptNet::sequence`]): each of its steps is `dim`
/// values and covers `frames_per_step` input frames of `bands` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceLayout {
    pub bands: i64,
    pub frames_per_step: i64,
    pub dim: i64,
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
    /// Classes of each task's head.
    fn num_classes(&self) -> i64;
    /// The tasks whose heads `classify` concatenates, `num_classes` logits each (a multitask net's; 1 elsewhere).
    fn tasks(&self) -> i64 {
        1
    }
    /// The length of a feature vector.
    fn feature_dim(&self) -> i64;
    /// The channels the feature vector is flattened from, channel-major (C of a C x H x W map: the digit nets'
    /// 48); by default each feature is a channel of its own (a pooled or dense backbone's).
    fn feature_channels(&self) -> i64 {
        self.feature_dim()
    }
    /// The hidden layers of a domain discriminator for this backbone (the recipe its papers used).
    fn discriminator_shape(&self) -> DiscriminatorShape;
    /// The hidden widths of the classifier (a method that adds a second classifier builds it alike).
    fn classifier_hidden(&self) -> Vec<i64>;
    /// A second feature extractor of this backbone's layout, freshly initialised under `p`: its variables are
    /// named below `p` as the backbone's are below `features.` (so one copies into the other by name; ADDA's
    /// frozen source encoder).
    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor>;
    /// A whole copy of the backbone under `p` (see [`Twin`]); None where the backbone has none (ResNet-50: a
    /// teacher of its size is not offered on these machines).
    fn twin(&self, _p: &nn::Path) -> Option<Box<dyn Twin>> {
        None
    }
    /// The switch of the backbone's batch-norm running statistics; None without batch norm. A backbone with
    /// batch norm sees source and target rows as separate batches, so each domain is normalised by its own
    /// statistics (as the VADA/DIRT-T and self-ensembling reference code run it), never by a mix.
    fn statistics(&self) -> Option<&batch_norm::StatisticsSwitch> {
        None
    }
    /// The latent sequence over time that the features pool, `[B, T, D]`, for a backbone over a time axis (the
    /// audio CNN); None elsewhere.
    fn sequence(&self, _x: &Tensor, _train: bool) -> Option<Tensor> {
        None
    }
    /// The layout of [`sequence`](Self::sequence); None where the backbone has none.
    fn sequence_layout(&self) -> Option<SequenceLayout> {
        None
    }
    /// The features of a latent sequence from [`sequence`](Self::sequence) (its pooling); None where the backbone
    /// has none.
    fn pool(&self, _sequence: &Tensor) -> Option<Tensor> {
        None
    }
}

impl AdaptNet for Box<dyn AdaptNet> {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.as_ref().features(x, train)
    }
    fn classify(&self, f: &Tensor, train: bool) -> Tensor {
        self.as_ref().classify(f, train)
    }
    fn var_store(&self) -> &nn::VarStore {
        self.as_ref().var_store()
    }
    fn num_classes(&self) -> i64 {
        self.as_ref().num_classes()
    }
    fn tasks(&self) -> i64 {
        self.as_ref().tasks()
    }
    fn feature_dim(&self) -> i64 {
        self.as_ref().feature_dim()
    }
    fn feature_channels(&self) -> i64 {
        self.as_ref().feature_channels()
    }
    fn discriminator_shape(&self) -> DiscriminatorShape {
        self.as_ref().discriminator_shape()
    }
    fn classifier_hidden(&self) -> Vec<i64> {
        self.as_ref().classifier_hidden()
    }
    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor> {
        self.as_ref().feature_twin(p)
    }
    fn twin(&self, p: &nn::Path) -> Option<Box<dyn Twin>> {
        self.as_ref().twin(p)
    }
    fn statistics(&self) -> Option<&batch_norm::StatisticsSwitch> {
        self.as_ref().statistics()
    }
    fn sequence(&self, x: &Tensor, train: bool) -> Option<Tensor> {
        self.as_ref().sequence(x, train)
    }
    fn sequence_layout(&self) -> Option<SequenceLayout> {
        self.as_ref().sequence_layout()
    }
    fn pool(&self, sequence: &Tensor) -> Option<Tensor> {
        self.as_ref().pool(sequence)
    }
}
