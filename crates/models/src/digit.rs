//! The digit DANN network of Ganin et al. (JMLR 2016, Fig. 4a) for 32 x 32 x 3 inputs: conv5x5x32-ReLU-
//! maxpool2, conv5x5x48-ReLU-maxpool2 (1,200 features); label predictor 100-ReLU-100-ReLU-10; its domain
//! discriminator (built by the adversarial methods) 100-ReLU-1 (logistic). Same layers as
//! `bench/reference_dann.py`.

use crate::pool::{channels_last, relu_max_pool2};
use crate::{discriminator::DiscriminatorShape, init, AdaptNet, FeatureExtractor, Twin, CLASSIFIER, FEATURES};
use shift_tensor::tch::{nn, nn::Module, Device, Tensor};

pub const FEATURE_DIM: i64 = 1200;

/// The two convolutions (`c1`, `c2` under the path they are built at).
#[derive(Debug)]
pub struct DigitFeatures {
    c1: nn::Conv2D,
    c2: nn::Conv2D,
}

impl DigitFeatures {
    pub fn new(p: &nn::Path) -> Self {
        Self {
            c1: init::conv2d(p / "c1", 3, 32, 5),
            c2: init::conv2d(p / "c2", 32, 48, 5),
        }
    }
}

impl FeatureExtractor for DigitFeatures {
    fn forward(&self, x: &Tensor, _train: bool) -> Tensor {
        // On the CPU the activations run channels last: oneDNN's convolutions then need no layout reorders
        // (their forward takes half the time) and the pooling kernel reads four channels at a time.
        let x = if x.device() == Device::Cpu {
            channels_last(x)
        } else {
            x.shallow_clone()
        };
        let x = relu_max_pool2(&self.c1.forward(&x));
        relu_max_pool2(&self.c2.forward(&x)).flatten(1, -1)
    }
}

/// The label predictor 100-ReLU-100-ReLU-10 (`0`, `2`, `4` under the path it is built at).
#[derive(Debug)]
pub struct DigitClassifier {
    cls: [nn::Linear; 3],
}

impl DigitClassifier {
    pub fn new(c: &nn::Path) -> Self {
        Self {
            cls: [
                init::linear(c / "0", FEATURE_DIM, 100),
                init::linear(c / "2", 100, 100),
                init::linear(c / "4", 100, 10),
            ],
        }
    }

    pub fn forward(&self, f: &Tensor) -> Tensor {
        let h = self.cls[0].forward(f).relu();
        let h = self.cls[1].forward(&h).relu();
        self.cls[2].forward(&h)
    }
}

/// A copy of the digit net outside its `VarStore` (a teacher).
#[derive(Debug)]
pub struct DigitTwin {
    features: DigitFeatures,
    cls: DigitClassifier,
}

impl Twin for DigitTwin {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }
    fn classify(&self, f: &Tensor, _train: bool) -> Tensor {
        self.cls.forward(f)
    }
}

#[derive(Debug)]
pub struct DigitNet {
    vs: nn::VarStore,
    features: DigitFeatures,
    cls: DigitClassifier,
}

impl DigitNet {
    pub fn new(device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let features = DigitFeatures::new(&(&root / FEATURES));
        let cls = DigitClassifier::new(&(&root / CLASSIFIER));
        Self { vs, features, cls }
    }
}

impl AdaptNet for DigitNet {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }

    fn classify(&self, f: &Tensor, _train: bool) -> Tensor {
        self.cls.forward(f)
    }

    fn twin(&self, p: &nn::Path) -> Option<Box<dyn Twin>> {
        Some(Box::new(DigitTwin {
            features: DigitFeatures::new(&(p / FEATURES)),
            cls: DigitClassifier::new(&(p / CLASSIFIER)),
        }))
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn num_classes(&self) -> i64 {
        10
    }

    fn feature_dim(&self) -> i64 {
        FEATURE_DIM
    }

    /// The second convolution's 48 channels.
    fn feature_channels(&self) -> i64 {
        48
    }

    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor> {
        Box::new(DigitFeatures::new(p))
    }

    /// 100-ReLU-100-ReLU before the 10 logits.
    fn classifier_hidden(&self) -> Vec<i64> {
        vec![100, 100]
    }

    /// JMLR 2016, Fig. 4a: one hidden layer of 100.
    fn discriminator_shape(&self) -> DiscriminatorShape {
        DiscriminatorShape {
            hidden: vec![100],
            dropout: 0.0,
        }
    }
}
