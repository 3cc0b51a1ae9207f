//! The digit net of Ganin et al. (JMLR 2016, Fig. 4a) with batch norm and dropout, the form in which public
//! reimplementations of the stronger digit methods keep its cost (about 0.84 to 0.93 on MNIST -> MNIST-M with
//! DANN): conv5x5x32-BN-ReLU-maxpool2, conv5x5x48-BN-ReLU-maxpool2 (1,200 features); label predictor
//! 100-BN-ReLU-dropout 0.5-100-BN-ReLU-10. The same layer sizes as the paper's net, so its cost per image is the
//! paper's plus the normalisation.

use crate::batch_norm::{StatisticsSwitch, SwitchedBatchNorm};
use crate::pool::{channels_last, relu_max_pool2};
use crate::{discriminator::DiscriminatorShape, init, AdaptNet, FeatureExtractor, Twin, CLASSIFIER, FEATURES};
use shift_tensor::tch::{nn, nn::Module, Device, Tensor};

pub const FEATURE_DIM: i64 = crate::digit::FEATURE_DIM;
/// Dropout after the first hidden layer of the label predictor.
pub const DROPOUT: f64 = 0.5;

/// The two convolutions, each followed by batch norm (`c1`, `bn1`, `c2`, `bn2` under the path).
#[derive(Debug)]
pub struct DigitBnFeatures {
    c1: nn::Conv2D,
    bn1: SwitchedBatchNorm,
    c2: nn::Conv2D,
    bn2: SwitchedBatchNorm,
}

impl DigitBnFeatures {
    pub fn new(p: &nn::Path, switch: &StatisticsSwitch) -> Self {
        Self {
            c1: init::conv2d(p / "c1", 3, 32, 5),
            bn1: SwitchedBatchNorm::new(p / "bn1", 32, switch),
            c2: init::conv2d(p / "c2", 32, 48, 5),
            bn2: SwitchedBatchNorm::new(p / "bn2", 48, switch),
        }
    }
}

impl FeatureExtractor for DigitBnFeatures {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let x = if x.device() == Device::Cpu {
            channels_last(x)
        } else {
            x.shallow_clone()
        };
        let x = relu_max_pool2(&self.bn1.forward(&self.c1.forward(&x), train));
        relu_max_pool2(&self.bn2.forward(&self.c2.forward(&x), train)).flatten(1, -1)
    }
}

/// 100-BN-ReLU-dropout-100-BN-ReLU-10 (`0`, `1`, `4`, `5`, `7` as a PyTorch `Sequential` numbers them).
#[derive(Debug)]
pub struct DigitBnClassifier {
    l1: nn::Linear,
    bn1: SwitchedBatchNorm,
    l2: nn::Linear,
    bn2: SwitchedBatchNorm,
    out: nn::Linear,
}

impl DigitBnClassifier {
    pub fn new(c: &nn::Path, switch: &StatisticsSwitch) -> Self {
        Self {
            l1: init::linear(c / "0", FEATURE_DIM, 100),
            bn1: SwitchedBatchNorm::new(c / "1", 100, switch),
            l2: init::linear(c / "4", 100, 100),
            bn2: SwitchedBatchNorm::new(c / "5", 100, switch),
            out: init::linear(c / "7", 100, 10),
        }
    }

    pub fn forward(&self, f: &Tensor, train: bool) -> Tensor {
        let h = self
            .bn1
            .forward(&self.l1.forward(f), train)
            .relu()
            .dropout(DROPOUT, train);
        let h = self.bn2.forward(&self.l2.forward(&h), train).relu();
        self.out.forward(&h)
    }
}

/// A copy of the net outside its `VarStore` (a teacher).
#[derive(Debug)]
pub struct DigitBnTwin {
    features: DigitBnFeatures,
    cls: DigitBnClassifier,
}

impl Twin for DigitBnTwin {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }
    fn classify(&self, f: &Tensor, train: bool) -> Tensor {
        self.cls.forward(f, train)
    }
}

#[derive(Debug)]
pub struct DigitBnNet {
    vs: nn::VarStore,
    features: DigitBnFeatures,
    cls: DigitBnClassifier,
    switch: StatisticsSwitch,
}

impl DigitBnNet {
    pub fn new(device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let switch = StatisticsSwitch::default();
        let features = DigitBnFeatures::new(&(&root / FEATURES), &switch);
        let cls = DigitBnClassifier::new(&(&root / CLASSIFIER), &switch);
        Self {
            vs,
            features,
            cls,
            switch,
        }
    }
}

impl AdaptNet for DigitBnNet {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }

    fn classify(&self, f: &Tensor, train: bool) -> Tensor {
        self.cls.forward(f, train)
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
        Box::new(DigitBnFeatures::new(p, &StatisticsSwitch::default()))
    }

    fn twin(&self, p: &nn::Path) -> Option<Box<dyn Twin>> {
        let switch = StatisticsSwitch::default();
        Some(Box::new(DigitBnTwin {
            features: DigitBnFeatures::new(&(p / FEATURES), &switch),
            cls: DigitBnClassifier::new(&(p / CLASSIFIER), &switch),
        }))
    }

    fn statistics(&self) -> Option<&StatisticsSwitch> {
        Some(&self.switch)
    }

    /// 100 and 100 before the 10 logits.
    fn classifier_hidden(&self) -> Vec<i64> {
        vec![100, 100]
    }

    /// As the paper's digit net: one hidden layer of 100.
    fn discriminator_shape(&self) -> DiscriminatorShape {
        DiscriminatorShape {
            hidden: vec![100],
            dropout: 0.0,
        }
    }
}
