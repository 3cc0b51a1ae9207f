//! The domain discriminator of adversarial methods: an MLP from a method's input (features, or CDAN's
//! multilinear map of features and predictions) to one logit per example (source 0, target 1). Its layers are
//! named as PyTorch's `nn.Sequential` would number them, so checkpoints keep their names.

use crate::init;
use shift_tensor::tch::{nn, nn::Module, Tensor};

/// The hidden layers a backbone's discriminator has: each Linear + ReLU (+ dropout where `dropout > 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscriminatorShape {
    pub hidden: Vec<i64>,
    /// Dropout probability after each hidden ReLU (0: none).
    pub dropout: f64,
}

#[derive(Debug)]
pub struct DomainDiscriminator {
    layers: Vec<nn::Linear>,
    dropout: f64,
}

impl DomainDiscriminator {
    /// Builds the layers under `p` (e.g. `discriminator`) for inputs of `input` values. With dropout a hidden
    /// layer takes three `Sequential` slots (Linear, ReLU, Dropout), without it two: the digit net's
    /// discriminator is `0`, `2`; the Office-31 one `0`, `3`, `6`.
    pub fn new(p: &nn::Path, input: i64, shape: &DiscriminatorShape) -> Self {
        Self::with_outputs(p, input, shape, 1)
    }

    /// The same MLP with `outputs` logits per example (a classifier over several domains: DomainBed's DANN).
    pub fn with_outputs(p: &nn::Path, input: i64, shape: &DiscriminatorShape, outputs: i64) -> Self {
        let stride = if shape.dropout > 0.0 { 3 } else { 2 };
        let mut layers = Vec::with_capacity(shape.hidden.len() + 1);
        let mut fan_in = input;
        for (i, &width) in shape.hidden.iter().chain([outputs].iter()).enumerate() {
            layers.push(init::linear(p / (i * stride).to_string(), fan_in, width));
            fan_in = width;
        }
        Self {
            layers,
            dropout: shape.dropout,
        }
    }

    /// One logit per row of `h` (`train` switches dropout): `[N]`, or `[N, outputs]` with several outputs.
    pub fn forward(&self, h: &Tensor, train: bool) -> Tensor {
        let (last, hidden) = self.layers.split_last().expect("a discriminator has an output layer");
        let mut x = h.shallow_clone();
        for layer in hidden {
            x = layer.forward(&x).relu();
            if self.dropout > 0.0 {
                x = x.dropout(self.dropout, train);
            }
        }
        let out = last.forward(&x);
        if out.size()[1] == 1 {
            out.squeeze_dim(1)
        } else {
            out
        }
    }
}
