//! Office-31 network: ResNet-50 (He et al. 2016; torchvision parameter names under `features.backbone.`, so
//! ImageNet weights load) -> bottleneck Linear 2048-256 + BatchNorm + ReLU -> 31-way head; its domain
//! discriminator (built by the adversarial methods) 1024-1024-1 with ReLU and dropout 0.5 (the DANN setup of
//! Transfer-Learning-Library).

use crate::{discriminator::DiscriminatorShape, init, AdaptNet, FeatureExtractor, CLASSIFIER, FEATURES};
use shift_tensor::tch::{nn, nn::Module, nn::ModuleT, vision::resnet, Device, Tensor};

pub const BOTTLENECK: i64 = 256;

/// ResNet-50 and the bottleneck (`backbone.`, `bottleneck.0`, `bottleneck.1` under the path they are built at).
#[derive(Debug)]
pub struct OfficeFeatures {
    backbone: nn::FuncT<'static>,
    bottleneck: nn::Linear,
    bottleneck_bn: nn::BatchNorm,
}

impl OfficeFeatures {
    pub fn new(p: &nn::Path) -> Self {
        Self {
            backbone: boxed(resnet::resnet50_no_final_layer(&(p / "backbone"))),
            bottleneck: init::linear(p / "bottleneck" / "0", 2048, BOTTLENECK),
            bottleneck_bn: nn::batch_norm1d(p / "bottleneck" / "1", BOTTLENECK, Default::default()),
        }
    }

    /// The features, with ResNet-50's and the bottleneck's batch norm in training mode where `bn_train`.
    fn forward_with(&self, x: &Tensor, bn_train: bool) -> Tensor {
        self.bottleneck
            .forward(&self.backbone.forward_t(x, bn_train))
            .apply_t(&self.bottleneck_bn, bn_train)
            .relu()
    }
}

impl FeatureExtractor for OfficeFeatures {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_with(x, train)
    }
}

#[derive(Debug)]
pub struct OfficeNet {
    vs: nn::VarStore,
    features: OfficeFeatures,
    head: nn::Linear,
    classes: i64,
    /// Run the feature extractor's batch norm (backbone and bottleneck) in evaluation mode even while
    /// training (for a frozen feature extractor: its running statistics stay as loaded).
    features_eval: bool,
}

impl OfficeNet {
    pub fn new(device: Device, classes: i64) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let features = OfficeFeatures::new(&(&root / FEATURES));
        let head = init::linear(&root / CLASSIFIER / "0", BOTTLENECK, classes);
        Self {
            vs,
            features,
            head,
            classes,
            features_eval: false,
        }
    }
}

impl OfficeNet {
    /// For loading pretrained weights into the variables.
    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// The backbone's pooled 2048-d output (torchvision's `resnet50` up to, not including, `fc`).
    pub fn backbone_features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.backbone.forward_t(x, train && !self.features_eval)
    }

    /// Holds the feature extractor's batch-norm layers (backbone and bottleneck) in evaluation mode during
    /// training: use with a frozen feature extractor, whose outputs then do not depend on the batch.
    pub fn hold_features_in_eval(&mut self, hold: bool) {
        self.features_eval = hold;
    }
}

fn boxed(m: impl ModuleT + 'static) -> nn::FuncT<'static> {
    nn::func_t(move |x, train| m.forward_t(x, train))
}

impl AdaptNet for OfficeNet {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward_with(x, train && !self.features_eval)
    }

    fn classify(&self, f: &Tensor, _train: bool) -> Tensor {
        self.head.forward(f)
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn num_classes(&self) -> i64 {
        self.classes
    }

    fn feature_dim(&self) -> i64 {
        BOTTLENECK
    }

    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor> {
        Box::new(OfficeFeatures::new(p))
    }

    /// One Linear from the bottleneck to the classes.
    fn classifier_hidden(&self) -> Vec<i64> {
        Vec::new()
    }

    /// Transfer-Learning-Library's DANN discriminator: two hidden layers of 1024, dropout 0.5.
    fn discriminator_shape(&self) -> DiscriminatorShape {
        DiscriminatorShape {
            hidden: vec![1024, 1024],
            dropout: 0.5,
        }
    }
}
