//! Synthetic digit-shaped data on the device (random 3x32x32 images, random labels), for the train-step
//! benchmark and the fast step's self-test: batches as indices, as the epoch loop gives them.

use crate::IndexedBatch;
use shift_data::DigitBatcher;
use shift_tensor::tch::{Device, Kind, Tensor};

#[derive(Debug)]
pub struct SyntheticDigits {
    source: DigitBatcher,
    target: DigitBatcher,
    order: Tensor,
    batch: i64,
}

impl SyntheticDigits {
    /// `n` source and `n` target images on `device`, served `batch` at a time in a fixed order.
    pub fn new(n: i64, batch: i64, device: Device) -> Self {
        let images = || Tensor::rand([n, 3, 32, 32], (Kind::Float, device));
        Self {
            source: DigitBatcher::new(images(), Tensor::randint(10, [n], (Kind::Int64, device))),
            target: DigitBatcher::new(images(), Tensor::zeros([n], (Kind::Int64, device))),
            order: Tensor::arange(n, (Kind::Int64, device)),
            batch,
        }
    }

    /// The batch of step `step` (cycling through the data), with its target batch.
    pub fn batch(&self, step: i64) -> IndexedBatch<'_> {
        IndexedBatch {
            epoch: 0,
            step: step % (self.source.len() / self.batch),
            batch: self.batch,
            labelled: &self.source,
            order: &self.order,
            unlabelled: Some((&self.target, &self.order)),
        }
    }
}
