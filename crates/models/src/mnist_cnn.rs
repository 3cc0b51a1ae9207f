//! DomainBed's MNIST ConvNet (Gulrajani & Lopez-Paz, ICLR 2021; `domainbed/networks.py`, `MNIST_CNN`), the
//! featurizer of its ColoredMNIST and RotatedMNIST runs, with its linear classifier (`networks.Classifier`,
//! `nonlinear_classifier` false).
//!
//! Four 3x3 convolutions, 64, 128 (stride 2), 128 and 128 channels, each followed by ReLU and then GroupNorm of
//! 8 groups (in that order, as DomainBed's forward has it); a global average pool to 128 features; a Linear to the
//! classes. Group norm has no running statistics, so training and evaluation compute the same function.

use crate::{discriminator::DiscriminatorShape, init, AdaptNet, FeatureExtractor, Twin, CLASSIFIER, FEATURES};
use shift_tensor::tch::{nn, nn::Module, Device, Tensor};

/// The featurizer's output width (`MNIST_CNN.n_outputs`).
pub const FEATURE_DIM: i64 = 128;
/// GroupNorm's groups in every layer.
const GROUPS: i64 = 8;

/// The four convolutions and their group norms.
#[derive(Debug)]
pub struct MnistCnnFeatures {
    convs: Vec<nn::Conv2D>,
    norms: Vec<nn::GroupNorm>,
}

impl MnistCnnFeatures {
    /// The layers under `p` for images of `channels` channels (ColoredMNIST 2, RotatedMNIST 1).
    pub fn new(p: &nn::Path, channels: i64) -> Self {
        // (in, out, stride) of conv1..conv4.
        let layers = [(channels, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1)];
        let convs = layers
            .iter()
            .enumerate()
            .map(|(i, &(c_in, c_out, stride))| {
                init::conv2d_strided(p / format!("conv{}", i + 1), c_in, c_out, 3, stride, 1)
            })
            .collect();
        let norms = layers
            .iter()
            .enumerate()
            .map(|(i, &(_, c_out, _))| nn::group_norm(p / format!("bn{i}"), GROUPS, c_out, Default::default()))
            .collect();
        Self { convs, norms }
    }
}

impl FeatureExtractor for MnistCnnFeatures {
    fn forward(&self, x: &Tensor, _train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            h = norm.forward(&conv.forward(&h).relu());
        }
        h.mean_dim(&[2i64, 3][..], false, None)
    }
}

/// A second copy of the net, outside it (a teacher).
#[derive(Debug)]
pub struct MnistCnnTwin {
    features: MnistCnnFeatures,
    cls: nn::Linear,
}

impl Twin for MnistCnnTwin {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }
    fn classify(&self, f: &Tensor, _train: bool) -> Tensor {
        self.cls.forward(f)
    }
}

/// The featurizer and its linear classifier in one `VarStore` (`features.conv1..4`, `features.bn0..3`,
/// `classifier.0`).
#[derive(Debug)]
pub struct MnistCnn {
    vs: nn::VarStore,
    features: MnistCnnFeatures,
    cls: nn::Linear,
    channels: i64,
    classes: i64,
}

impl MnistCnn {
    /// Freshly initialised (PyTorch's default initialisation) from libtorch's generator.
    pub fn new(device: Device, channels: i64, classes: i64) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let features = MnistCnnFeatures::new(&(&root / FEATURES), channels);
        let cls = init::linear(&root / CLASSIFIER / "0", FEATURE_DIM, classes);
        Self {
            vs,
            features,
            cls,
            channels,
            classes,
        }
    }
}

impl AdaptNet for MnistCnn {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }

    fn classify(&self, f: &Tensor, _train: bool) -> Tensor {
        self.cls.forward(f)
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn num_classes(&self) -> i64 {
        self.classes
    }

    fn feature_dim(&self) -> i64 {
        FEATURE_DIM
    }

    /// DomainBed's discriminator MLP for these data sets: `mlp_width` 256, `mlp_depth` 3 (two hidden layers),
    /// `mlp_dropout` 0 (`hparams_registry.py`).
    fn discriminator_shape(&self) -> DiscriminatorShape {
        DiscriminatorShape {
            hidden: vec![256, 256],
            dropout: 0.0,
        }
    }

    fn classifier_hidden(&self) -> Vec<i64> {
        Vec::new()
    }

    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor> {
        Box::new(MnistCnnFeatures::new(p, self.channels))
    }

    fn twin(&self, p: &nn::Path) -> Option<Box<dyn Twin>> {
        Some(Box::new(MnistCnnTwin {
            features: MnistCnnFeatures::new(&(p / FEATURES), self.channels),
            cls: init::linear(p / CLASSIFIER / "0", FEATURE_DIM, self.classes),
        }))
    }
}
