//! A classifier head a method adds beside the backbone's own (MCD's second classifier): the backbone's classifier
//! layout (its hidden widths, each Linear + ReLU, then a Linear to the classes), with PyTorch's initialisation,
//! named as a PyTorch `Sequential` numbers it (`0`, `2`, `4`, ...).

use crate::init;
use shift_tensor::tch::{nn, nn::Module, Tensor};

#[derive(Debug)]
pub struct ClassifierHead {
    layers: Vec<nn::Linear>,
}

impl ClassifierHead {
    /// Layers under `p` from `input` features through `hidden` widths to `classes` logits.
    pub fn new(p: &nn::Path, input: i64, hidden: &[i64], classes: i64) -> Self {
        let mut fan_in = input;
        let layers = hidden
            .iter()
            .chain([classes].iter())
            .enumerate()
            .map(|(i, &width)| {
                let layer = init::linear(p / (2 * i).to_string(), fan_in, width);
                fan_in = width;
                layer
            })
            .collect();
        Self { layers }
    }

    /// Class logits of features `f`.
    pub fn forward(&self, f: &Tensor) -> Tensor {
        let (last, hidden) = self.layers.split_last().expect("a head has an output layer");
        last.forward(&hidden.iter().fold(f.shallow_clone(), |x, l| l.forward(&x).relu()))
    }
}
