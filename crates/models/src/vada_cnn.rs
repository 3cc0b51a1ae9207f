//! The small CNN of VADA and DIRT-T (Shu, Bui, Narui & Ermon, ICLR 2018; the reference code's `small` net) for
//! 32 x 32 x 3 digits: an optional instance norm of the input; three blocks of three 3x3 convolutions of 64,
//! each with batch norm and a leaky ReLU (slope 0.1); after the first two blocks a 2x2 max pool, dropout 0.5
//! and Gaussian noise of std 1 (in training). The features are the second block's 8 x 8 x 64 output (4,096
//! values, where the reference code's discriminator reads); the label predictor is the third block, a global
//! average pool and a batch-normalised 10-way linear layer.
//!
//! Initialisation is PyTorch's default, not the reference code's He scaling, and batch norm has PyTorch's
//! momentum and eps, not TensorFlow's 0.99 / 1e-3.

use crate::batch_norm::{StatisticsSwitch, SwitchedBatchNorm};
use crate::pool::channels_last;
use crate::{discriminator::DiscriminatorShape, init, AdaptNet, FeatureExtractor, Twin, CLASSIFIER, FEATURES};
use shift_tensor::tch::{nn, nn::Module, Device, Tensor};

pub const WIDTH: i64 = 64;
pub const FEATURE_DIM: i64 = WIDTH * 8 * 8;
const DROPOUT: f64 = 0.5;
const NOISE_STD: f64 = 1.0;
const LEAK: f64 = 0.1;

/// Leaky ReLU with the reference code's slope.
fn leaky(x: &Tensor) -> Tensor {
    x.maximum(&(x * LEAK))
}

/// 3x3 convolution (padding 1), batch norm, leaky ReLU.
#[derive(Debug)]
struct ConvBn {
    conv: nn::Conv2D,
    bn: SwitchedBatchNorm,
}

impl ConvBn {
    fn new(p: nn::Path, i: i64, switch: &StatisticsSwitch) -> Self {
        Self {
            conv: init::conv2d_padded(&p / "conv", i, WIDTH, 3, 1),
            bn: SwitchedBatchNorm::new(&p / "bn", WIDTH, switch),
        }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        leaky(&self.bn.forward(&self.conv.forward(x), train))
    }
}

/// Three [`ConvBn`] under `p` / `first`, `first + 1`, `first + 2`.
fn block(p: &nn::Path, first: usize, input: i64, switch: &StatisticsSwitch) -> [ConvBn; 3] {
    [
        ConvBn::new(p / first.to_string(), input, switch),
        ConvBn::new(p / (first + 1).to_string(), WIDTH, switch),
        ConvBn::new(p / (first + 2).to_string(), WIDTH, switch),
    ]
}

fn through(layers: &[ConvBn; 3], x: Tensor, train: bool) -> Tensor {
    layers.iter().fold(x, |h, l| l.forward(&h, train))
}

/// Max pool, dropout and Gaussian noise (noise and dropout in training only).
fn pool_drop_noise(x: &Tensor, train: bool) -> Tensor {
    let x = x.max_pool2d_default(2).dropout(DROPOUT, train);
    if train {
        &x + x.randn_like() * NOISE_STD
    } else {
        x
    }
}

/// Input normalisation and the first two blocks (`in`, `0`..`5` under the path).
#[derive(Debug)]
pub struct VadaFeatures {
    instance_norm: Option<(Tensor, Tensor)>,
    blocks: [[ConvBn; 3]; 2],
}

impl VadaFeatures {
    pub fn new(p: &nn::Path, instance_norm: bool, switch: &StatisticsSwitch) -> Self {
        let instance_norm = instance_norm.then(|| {
            (
                (p / "in").var("weight", &[3], nn::Init::Const(1.0)),
                (p / "in").var("bias", &[3], nn::Init::Const(0.0)),
            )
        });
        Self {
            instance_norm,
            blocks: [block(p, 0, 3, switch), block(p, 3, WIDTH, switch)],
        }
    }
}

impl FeatureExtractor for VadaFeatures {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let x = match &self.instance_norm {
            // Each image and channel normalised over its pixels, then scaled and shifted per channel.
            Some((w, b)) => Tensor::instance_norm(
                x,
                Some(w),
                Some(b),
                None::<&Tensor>,
                None::<&Tensor>,
                true,
                0.0,
                1e-3,
                false,
            ),
            None => x.shallow_clone(),
        };
        let x = if x.device() == Device::Cpu {
            channels_last(&x)
        } else {
            x
        };
        let h = pool_drop_noise(&through(&self.blocks[0], x, train), train);
        pool_drop_noise(&through(&self.blocks[1], h, train), train).flatten(1, -1)
    }
}

/// The third block, global average pooling and the batch-normalised output layer (`0`..`2`, `out`, `out_bn`).
#[derive(Debug)]
pub struct VadaClassifier {
    block: [ConvBn; 3],
    out: nn::Linear,
    out_bn: SwitchedBatchNorm,
}

impl VadaClassifier {
    pub fn new(p: &nn::Path, switch: &StatisticsSwitch) -> Self {
        Self {
            block: block(p, 0, WIDTH, switch),
            out: init::linear(p / "out", WIDTH, 10),
            out_bn: SwitchedBatchNorm::new(p / "out_bn", 10, switch),
        }
    }

    pub fn forward(&self, f: &Tensor, train: bool) -> Tensor {
        let x = f.view([-1, WIDTH, 8, 8]);
        let x = if x.device() == Device::Cpu {
            channels_last(&x)
        } else {
            x
        };
        let pooled = through(&self.block, x, train).mean_dim([2i64, 3].as_slice(), false, f.kind());
        self.out_bn.forward(&self.out.forward(&pooled), train)
    }
}

/// A copy of the net outside its `VarStore` (a teacher).
#[derive(Debug)]
pub struct VadaTwin {
    features: VadaFeatures,
    cls: VadaClassifier,
}

impl Twin for VadaTwin {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }
    fn classify(&self, f: &Tensor, train: bool) -> Tensor {
        self.cls.forward(f, train)
    }
}

#[derive(Debug)]
pub struct VadaCnn {
    vs: nn::VarStore,
    features: VadaFeatures,
    cls: VadaClassifier,
    instance_norm: bool,
    switch: StatisticsSwitch,
}

impl VadaCnn {
    pub fn new(device: Device, instance_norm: bool) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let switch = StatisticsSwitch::default();
        let features = VadaFeatures::new(&(&root / FEATURES), instance_norm, &switch);
        let cls = VadaClassifier::new(&(&root / CLASSIFIER), &switch);
        Self {
            vs,
            features,
            cls,
            instance_norm,
            switch,
        }
    }
}

impl AdaptNet for VadaCnn {
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

    /// The last convolution block's WIDTH channels.
    fn feature_channels(&self) -> i64 {
        WIDTH
    }

    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor> {
        Box::new(VadaFeatures::new(p, self.instance_norm, &StatisticsSwitch::default()))
    }

    fn twin(&self, p: &nn::Path) -> Option<Box<dyn Twin>> {
        let switch = StatisticsSwitch::default();
        Some(Box::new(VadaTwin {
            features: VadaFeatures::new(&(p / FEATURES), self.instance_norm, &switch),
            cls: VadaClassifier::new(&(p / CLASSIFIER), &switch),
        }))
    }

    fn statistics(&self) -> Option<&StatisticsSwitch> {
        Some(&self.switch)
    }

    /// A second classifier (MCD) of this layout is a 64-wide MLP on the flattened features.
    fn classifier_hidden(&self) -> Vec<i64> {
        vec![WIDTH]
    }

    /// The reference code's discriminator: dense 100, ReLU, dense 1.
    fn discriminator_shape(&self) -> DiscriminatorShape {
        DiscriminatorShape {
            hidden: vec![100],
            dropout: 0.0,
        }
    }
}
