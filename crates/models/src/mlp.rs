//! A small MLP backbone for low-dimensional inputs: Linear-ReLU feature layers and a linear label predictor, as
//! in the toy experiment of Ganin et al. (JMLR 2016, Section 5.1: one hidden layer of 15 neurons). The methods'
//! adapts tests train it on a synthetic shift in about a millisecond a step.

use crate::{init, AdaptNet, DiscriminatorShape, FeatureExtractor, Twin, CLASSIFIER, FEATURES};
use shift_tensor::tch::{nn, nn::Module, Device, Tensor};

/// The Linear-ReLU feature layers (`0`, `2`, ... under the path they are built at).
#[derive(Debug)]
pub struct MlpFeatures {
    layers: Vec<nn::Linear>,
}

impl MlpFeatures {
    pub fn new(p: &nn::Path, input: i64, hidden: &[i64]) -> Self {
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
        Self { layers }
    }
}

impl FeatureExtractor for MlpFeatures {
    fn forward(&self, x: &Tensor, _train: bool) -> Tensor {
        self.layers
            .iter()
            .fold(x.flatten(1, -1), |h, layer| layer.forward(&h).relu())
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
    discriminator: DiscriminatorShape,
}

impl MlpNet {
    /// `input` values in, `hidden` Linear-ReLU feature layers (named `features.0`, `features.2`, ... as a PyTorch
    /// `Sequential` numbers them), `classes` logits out (`classifier.0`); discriminators get one hidden layer as
    /// wide as the features.
    pub fn new(device: Device, input: i64, hidden: &[i64], classes: i64) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let features = MlpFeatures::new(&(&root / FEATURES), input, hidden);
        let fan_in = hidden.last().copied().unwrap_or(input);
        let head = init::linear(&root / CLASSIFIER / "0", fan_in, classes);
        Self {
            vs,
            input,
            hidden: hidden.to_vec(),
            features,
            head,
            classes,
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
        Box::new(MlpFeatures::new(p, self.input, &self.hidden))
    }

    fn twin(&self, p: &nn::Path) -> Option<Box<dyn Twin>> {
        Some(Box::new(MlpTwin {
            features: MlpFeatures::new(&(p / FEATURES), self.input, &self.hidden),
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
}
