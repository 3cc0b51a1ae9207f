//! The audio backbone (`audio-cnn`): a small CNN over log-mel frames, the mel bands as its input channels (a
//! time-delay network's layout), to a latent sequence over time, pooled by multi-head attention.
//!
//! ```text
//! [B, 40 bands, 101 frames]
//!   c1: conv 5 (40 -> 64), BN, ReLU, max-pool 2     -> [B, 64, 50]
//!   c2: conv 3 (64 -> 64), BN, ReLU, max-pool 2     -> [B, 64, 25]
//!   c3: conv 3 (64 -> 128), BN, ReLU                -> [B, 128, 25]: the latent sequence, 25 steps of 4 frames
//!   pool: attention pooling, 4 heads                -> [B, 128]: the features
//! classifier: Linear 128 -> 10
//! ```
//!
//! About 3.3 million multiply-adds an example; the sequence (`AdaptNet::sequence`) is what the domain-adversarial
//! autoencoder decodes.

use crate::attention_pool::AttentionPool;
use crate::batch_norm::{StatisticsSwitch, SwitchedBatchNorm};
use crate::{
    discriminator::DiscriminatorShape, init, AdaptNet, FeatureExtractor, SequenceLayout, Twin, CLASSIFIER, FEATURES,
};
use shift_tensor::tch::{nn, nn::Module, Device, Tensor};

/// The mel bands of the input (the front end's).
pub const BANDS: i64 = 40;
/// The latent code's width, and the feature size.
pub const FEATURE_DIM: i64 = 128;
/// The attention heads of the pooling.
pub const HEADS: i64 = 4;
/// Input frames per latent step (two max-pools of 2).
pub const FRAMES_PER_STEP: i64 = 4;

/// The three convolutions and the attention pooling (`c1`, `bn1`, `c2`, `bn2`, `c3`, `bn3`, `pool`).
#[derive(Debug)]
pub struct AudioCnnFeatures {
    c1: nn::Conv1D,
    bn1: SwitchedBatchNorm,
    c2: nn::Conv1D,
    bn2: SwitchedBatchNorm,
    c3: nn::Conv1D,
    bn3: SwitchedBatchNorm,
    pool: AttentionPool,
}

impl AudioCnnFeatures {
    pub fn new(p: &nn::Path, switch: &StatisticsSwitch) -> Self {
        Self {
            c1: init::conv1d_padded(p / "c1", BANDS, 64, 5, 2),
            bn1: SwitchedBatchNorm::new(p / "bn1", 64, switch),
            c2: init::conv1d_padded(p / "c2", 64, 64, 3, 1),
            bn2: SwitchedBatchNorm::new(p / "bn2", 64, switch),
            c3: init::conv1d_padded(p / "c3", 64, FEATURE_DIM, 3, 1),
            bn3: SwitchedBatchNorm::new(p / "bn3", FEATURE_DIM, switch),
            pool: AttentionPool::new(&(p / "pool"), FEATURE_DIM, HEADS),
        }
    }

    /// The latent sequence, `[B, T, 128]` for `x` of `[B, 40, frames]` (`T = frames / 4`).
    pub fn sequence(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self
            .bn1
            .forward(&self.c1.forward(x), train)
            .relu()
            .max_pool1d(2, 2, 0, 1, false);
        let h = self
            .bn2
            .forward(&self.c2.forward(&h), train)
            .relu()
            .max_pool1d(2, 2, 0, 1, false);
        self.bn3.forward(&self.c3.forward(&h), train).relu().transpose(1, 2)
    }
}

impl FeatureExtractor for AudioCnnFeatures {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.pool.forward(&self.sequence(x, train))
    }
}

/// A copy of the net outside its `VarStore` (a teacher).
#[derive(Debug)]
pub struct AudioCnnTwin {
    features: AudioCnnFeatures,
    cls: nn::Linear,
}

impl Twin for AudioCnnTwin {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward(x, train)
    }
    fn classify(&self, f: &Tensor, _train: bool) -> Tensor {
        self.cls.forward(f)
    }
}

#[derive(Debug)]
pub struct AudioCnn {
    vs: nn::VarStore,
    features: AudioCnnFeatures,
    cls: nn::Linear,
    switch: StatisticsSwitch,
    classes: i64,
}

impl AudioCnn {
    /// The net for `classes` classes, freshly initialised from libtorch's generator.
    pub fn new(device: Device, classes: i64) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let switch = StatisticsSwitch::default();
        let features = AudioCnnFeatures::new(&(&root / FEATURES), &switch);
        let cls = init::linear(&root / CLASSIFIER / "0", FEATURE_DIM, classes);
        Self {
            vs,
            features,
            cls,
            switch,
            classes,
        }
    }
}

impl AdaptNet for AudioCnn {
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

    /// One hidden layer of 100, as the digit net's.
    fn discriminator_shape(&self) -> DiscriminatorShape {
        DiscriminatorShape {
            hidden: vec![100],
            dropout: 0.0,
        }
    }

    fn classifier_hidden(&self) -> Vec<i64> {
        Vec::new()
    }

    fn feature_twin(&self, p: &nn::Path) -> Box<dyn FeatureExtractor> {
        Box::new(AudioCnnFeatures::new(p, &StatisticsSwitch::default()))
    }

    fn twin(&self, p: &nn::Path) -> Option<Box<dyn Twin>> {
        Some(Box::new(AudioCnnTwin {
            features: AudioCnnFeatures::new(&(p / FEATURES), &StatisticsSwitch::default()),
            cls: init::linear(p / CLASSIFIER / "0", FEATURE_DIM, self.classes),
        }))
    }

    fn statistics(&self) -> Option<&StatisticsSwitch> {
        Some(&self.switch)
    }

    fn sequence(&self, x: &Tensor, train: bool) -> Option<Tensor> {
        Some(self.features.sequence(x, train))
    }

    fn pool(&self, sequence: &Tensor) -> Option<Tensor> {
        Some(self.features.pool.forward(sequence))
    }

    fn sequence_layout(&self) -> Option<SequenceLayout> {
        Some(SequenceLayout {
            bands: BANDS,
            frames_per_step: FRAMES_PER_STEP,
            dim: FEATURE_DIM,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::Kind;

    #[test]
    fn a_second_of_log_mel_frames_gives_25_latent_steps_a_128_value_feature_and_10_logits() {
        let net = AudioCnn::new(Device::Cpu, 10);
        let x = Tensor::randn([3, 40, 101], (Kind::Float, Device::Cpu));
        for train in [true, false] {
            assert_eq!(net.sequence(&x, train).unwrap().size(), [3, 25, 128]);
            let f = net.features(&x, train);
            assert_eq!(f.size(), [3, 128]);
            assert_eq!(net.classify(&f, train).size(), [3, 10]);
            if !train {
                let pooled = net.pool(&net.sequence(&x, false).unwrap()).unwrap();
                assert_eq!(
                    Vec::<f32>::try_from(pooled.flatten(0, -1)).unwrap(),
                    Vec::<f32>::try_from(f.flatten(0, -1)).unwrap()
                );
            }
        }
        let twin = net.twin(&(net.var_store().root() / "teacher")).unwrap();
        assert_eq!(twin.logits(&x, false).size(), [3, 10]);
        let vars = net.var_store().variables();
        let own = vars.keys().filter(|k| !k.starts_with("teacher.")).count();
        let copied = vars.keys().filter(|k| k.starts_with("teacher.")).count();
        assert_eq!(own, copied);
        assert!(vars.contains_key("features.pool.in_proj_weight") && vars.contains_key("features.c1.weight"));
    }
}
