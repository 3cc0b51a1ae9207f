//! MultiLeNet, the MultiMNIST network of Sener & Koltun (NeurIPS 2018; isl-org/MultiObjectiveOptimization,
//! `multi_task/models/multi_lenet.py`): a shared LeNet trunk and one small head per task.
//!
//! - Trunk (`MultiLeNetR`): conv 1 -> 10 (5 x 5), max-pool 2, ReLU; conv 10 -> 20 (5 x 5), channel dropout, max-pool
//!   2, ReLU; flatten to 320; Linear 320 -> 50, ReLU. Its features are those 50 values.
//! - Head per task (`MultiLeNetO`): Linear 50 -> 50, ReLU, dropout, Linear 50 -> 10.
//!
//! Both dropouts are the reference's own: a mask of 0s and 1s at probability 0.5 multiplied in during training,
//! with no `1 / (1 - p)` rescaling and nothing done in evaluation; the trunk's mask is one per channel shared by
//! the whole batch (`bernoulli(ones(1, C, 1, 1) * 0.5)`), a head's one per value. The heads' logits are
//! concatenated task by task, so `classify` gives `[B, tasks * 10]` and [`AdaptNet::tasks`] says how to split it.
//! Variables: `features.conv1`, `features.conv2`, `features.fc`, `classifier.task<t>.fc1`, `classifier.task<t>.fc2`.

use crate::{discriminator::DiscriminatorShape, init, AdaptNet, FeatureExtractor, CLASSIFIER, FEATURES};
use shift_tensor::tch::{nn, nn::Module, Device, Kind, Tensor};

/// The trunk's output width.
pub const FEATURE_DIM: i64 = 50;
/// Each head's classes.
pub const CLASSES: i64 = 10;

/// A 0/1 mask of `shape` at probability 0.5, from libtorch's generator.
fn half_mask(shape: &[i64], like: &Tensor) -> Tensor {
    Tensor::full(shape, 0.5, (Kind::Float, like.device())).bernoulli()
}

/// The shared trunk.
#[derive(Debug)]
pub struct MultiLeNetTrunk {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    fc: nn::Linear,
}

impl MultiLeNetTrunk {
    pub fn new(p: &nn::Path) -> Self {
        Self {
            conv1: init::conv2d(p / "conv1", 1, 10, 5),
            conv2: init::conv2d(p / "conv2", 10, 20, 5),
            fc: init::linear(p / "fc", 320, FEATURE_DIM),
        }
    }
}

impl FeatureExtractor for MultiLeNetTrunk {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.conv1.forward(x).max_pool2d_default(2).relu();
        let mut h = self.conv2.forward(&h);
        if train {
            h = &h * half_mask(&[1, h.size()[1], 1, 1], &h);
        }
        let h = h.max_pool2d_default(2).relu().flatten(1, -1);
        self.fc.forward(&h).relu()
    }
}

/// One task's head.
#[derive(Debug)]
struct Head {
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl Head {
    fn forward(&self, f: &Tensor, train: bool) -> Tensor {
        let mut h = self.fc1.forward(f).relu();
        if train {
            h = &h * half_mask(&h.size(), &h);
        }
        self.fc2.forward(&h)
    }
}

/// The trunk and a head per task in one `VarStore`.
#[derive(Debug)]
pub struct MultiLeNet {
    vs: nn::VarStore,
    trunk: MultiLeNetTrunk,
    heads: Vec<Head>,
}

impl MultiLeNet {
    /// Freshly initialised (PyTorch's default initialisation) from libtorch's generator, with `tasks` heads.
    pub fn new(device: Device, tasks: i64) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let trunk = MultiLeNetTrunk::new(&(&root / FEATURES));
        let heads = (0..tasks)
            .map(|t| {
                let p = &root / CLASSIFIER / format!("task{t}");
                Head {
                    fc1: init::linear(&p / "fc1", FEATURE_DIM, FEATURE_DIM),
                    fc2: init::linear(&p / "fc2", FEATURE_DIM, CLASSES),
                }
            })
            .collect();
        Self { vs, trunk, heads }
    }
}

impl AdaptNet for MultiLeNet {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.trunk.forward(x, train)
    }

    fn classify(&self, f: &Tensor, train: bool) -> Tensor {
        let logits: Vec<Tensor> = self.heads.iter().map(|h| h.forward(f, train)).collect();
        Tensor::cat(&logits, 1)
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn num_classes(&self) -> i64 {
        CLASSES
    }

    fn tasks(&self) -> i64 {
        self.heads.len() as i64
    }

    fn feature_dim(&self) -> i64 {
        FEATURE_DIM
    }

    /// One hidden layer as wide as the features, like the heads.
    fn discriminator_shape(&self) -> DiscriminatorShape {
        DiscriminatorShape {
            hidden: vec![FEATURE_DIM],
            dropout: 0.0,
        }
    }

    fn classifier_hidden(&self) -> Vec<i64> {
        vec![FEATURE_DIM]
    }

    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor> {
        Box::new(MultiLeNetTrunk::new(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_names_and_the_reference_dropout() {
        shift_tensor::tch::manual_seed(0);
        let net = MultiLeNet::new(Device::Cpu, 2);
        let x = Tensor::randn([4, 1, 28, 28], (Kind::Float, Device::Cpu));
        let f = net.features(&x, false);
        assert_eq!(f.size(), [4, 50]);
        assert_eq!(net.classify(&f, false).size(), [4, 20]);
        assert_eq!(net.tasks(), 2);
        let mut names: Vec<String> = net.var_store().variables().into_keys().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "classifier.task0.fc1.bias",
                "classifier.task0.fc1.weight",
                "classifier.task0.fc2.bias",
                "classifier.task0.fc2.weight",
                "classifier.task1.fc1.bias",
                "classifier.task1.fc1.weight",
                "classifier.task1.fc2.bias",
                "classifier.task1.fc2.weight",
                "features.conv1.bias",
                "features.conv1.weight",
                "features.conv2.bias",
                "features.conv2.weight",
                "features.fc.bias",
                "features.fc.weight",
            ]
        );
        // The trunk's channel mask is one for the whole batch: one image twice gets one training feature vector;
        // a head's mask is one per value: the same features twice get two different training logits.
        let twice = Tensor::cat(&[x.narrow(0, 0, 1), x.narrow(0, 0, 1)], 0);
        let ft = net.features(&twice, true);
        assert!(ft.get(0).allclose(&ft.get(1), 0.0, 0.0, false));
        let zt = net.classify(&net.features(&twice, false), true);
        assert!(!zt.get(0).allclose(&zt.get(1), 1e-6, 1e-6, false));
        // Evaluation draws nothing.
        let fe = net.features(&x, false);
        assert!(net.features(&x, false).allclose(&fe, 0.0, 0.0, false));
    }
}
