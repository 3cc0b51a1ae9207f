//! A small MLP backbone for feature vectors: Linear feature layers (ReLU, or sigmoid as in the shallow DANN of
//! Ganin et al., JMLR 2016, Section 5.1) and a linear label predictor. The methods' adapts tests train it on a
//! synthetic shift in about a millisecond a step; [`MlpNet::shallow`] is the paper's network for the Amazon reviews.

use crate::{discriminator::DiscriminatorShape, init, AdaptNet, FeatureExtractor, Twin, CLASSIFIER, FEATURES};
use shift_tensor::tch::{nn, nn::Module, Device, Tensor};

/// The non-linearity after each feature layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    #[default]
    Relu,
    /// The logistic sigmoid of the paper's shallow network.
    Sigmoid,
}

impl Activation {
    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Self::Relu => x.relu(),
            Self::Sigmoid => x.sigmoid(),
        }
    }
}

/// The Linear + activation feature layers (`0`, `2`, ... under the path they are built at).
#[derive(Debug)]
pub struct MlpFeatures {
    layers: Vec<nn::Linear>,
    activation: Activation,
}

impl MlpFeatures {
    /// Linear-ReLU layers.
    pub fn new(p: &nn::Path, input: i64, hidden: &[i64]) -> Self {
        Self::with_activation(p, input, hidden, Activation::Relu)
    }

    pub fn with_activation(p: &nn::Path, input: i64, hidden: &[i64], activation: Activation) -> Self {
        let mut fan_in = input;
        let layers = hidden
            .iter()
            .enumerate()
            .map(|(i, &width)| {
                let layer = init::linear(p / (2 * i).to_string(), fan_in, width);
                fan_in = width;
                layer
            })
            .collect();
        Self { layers, activation }
    }
}

impl FeatureExtractor for MlpFeatures {
    fn forward(&self, x: &Tensor, _train: bool) -> Tensor {
        self.layers
            .iter()
            .fold(x.flatten(1, -1), |h, layer| self.activation.apply(&layer.forward(&h)))
    }
}

/// A copy of the MLP outside its `VarStore` (a teacher).
#[derive(Debug)]
pub struct MlpTwin {
    features: MlpFeatures,
    head: nn::Linear,
}

impl Twin for MlpTwin {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }
    fn classify(&self, f: &Tensor, _train: bool) -> Tensor {
        self.head.forward(f)
    }
}

#[derive(Debug)]
pub struct MlpNet {
    vs: nn::VarStore,
    input: i64,
    hidden: Vec<i64>,
    features: MlpFeatures,
    head: nn::Linear,
    classes: i64,
    activation: Activation,
    discriminator: DiscriminatorShape,
}

impl MlpNet {
    /// The shallow network of Ganin et al. (JMLR 2016, Section 5.1; the authors' DANN.py): one hidden layer of
    /// `hidden` sigmoid units, a linear (softmax) label layer, and a domain regressor that is one logistic unit
    /// on the hidden layer (a discriminator without hidden layers).
    pub fn shallow(device: Device, input: i64, hidden: i64, classes: i64) -> Self {
        let mut net = Self::build(device, input, &[hidden], classes, Activation::Sigmoid);
        net.discriminator.hidden.clear();
        net
    }

    /// `input` values in, `hidden` Linear-ReLU feature layers (named `features.0`, `features.2`, ... as a PyTorch
    /// `Sequential` numbers them), `classes` logits out (`classifier.0`); discriminators get one hidden layer as
    /// wide as the features.
    pub fn new(device: Device, input: i64, hidden: &[i64], classes: i64) -> Self {
        Self::build(device, input, hidden, classes, Activation::Relu)
    }

    /// The variables, to change their kind (a double-precision fixture test) or device.
    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// [`new`](Self::new) with another activation after each feature layer.
    pub fn build(device: Device, input: i64, hidden: &[i64], classes: i64, activation: Activation) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let features = MlpFeatures::with_activation(&(&root / FEATURES), input, hidden, activation);
        let fan_in = hidden.last().copied().unwrap_or(input);
        let head = init::linear(&root / CLASSIFIER / "0", fan_in, classes);
        Self {
            vs,
            input,
            hidden: hidden.to_vec(),
            features,
            head,
            classes,
            activation,
            discriminator: DiscriminatorShape {
                hidden: vec![fan_in],
                dropout: 0.0,
            },
        }
    }
}

impl AdaptNet for MlpNet {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
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
        self.hidden.last().copied().unwrap_or(self.input)
    }

    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor> {
        Box::new(MlpFeatures::with_activation(
            p,
            self.input,
            &self.hidden,
            self.activation,
        ))
    }

    fn twin(&self, p: &nn::Path) -> Option<Box<dyn Twin>> {
        Some(Box::new(MlpTwin {
            features: MlpFeatures::with_activation(&(p / FEATURES), self.input, &self.hidden, self.activation),
            head: init::linear(p / CLASSIFIER / "0", self.feature_dim(), self.classes),
        }))
    }

    /// One Linear from the features to the classes.
    fn classifier_hidden(&self) -> Vec<i64> {
        Vec::new()
    }

    fn discriminator_shape(&self) -> DiscriminatorShape {
        self.discriminator.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_names_follow_the_layers() {
        let net = MlpNet::new(Device::Cpu, 2, &[15, 8], 3);
        let f = net.features(
            &Tensor::zeros([5, 2], (shift_tensor::tch::Kind::Float, Device::Cpu)),
            true,
        );
        assert_eq!(f.size(), [5, 8]);
        assert_eq!(net.classify(&f, true).size(), [5, 3]);
        assert_eq!(net.feature_dim(), 8);
        let mut names: Vec<String> = net.var_store().variables().into_keys().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "classifier.0.bias",
                "classifier.0.weight",
                "features.0.bias",
                "features.0.weight",
                "features.2.bias",
                "features.2.weight"
            ]
        );
        assert_eq!(net.discriminator_shape().hidden, [8]);
    }

    #[test]
    fn the_shallow_net_is_one_sigmoid_layer_and_a_logistic_domain_regressor() {
        let net = MlpNet::shallow(Device::Cpu, 6, 50, 2);
        let x = Tensor::from_slice(&[-2.0f32, 0.0, 0.5, 1.0, 2.0, -1.0]).view([1, 6]);
        let f = net.features(&x, true);
        assert_eq!(f.size(), [1, 50]);
        // Sigmoid units: every value strictly inside (0, 1), never the zeros a ReLU leaves.
        assert!(f.min().double_value(&[]) > 0.0 && f.max().double_value(&[]) < 1.0);
        assert!(net.discriminator_shape().hidden.is_empty());
        assert!(net.classifier_hidden().is_empty());
        let twin = net.feature_twin(&nn::VarStore::new(Device::Cpu).root());
        assert!(twin.forward(&x, false).min().double_value(&[]) > 0.0);
    }
}
