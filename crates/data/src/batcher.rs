//! Device-resident digits batching: a whole split lives on the device as one tensor; batches are index
//! gathers, drawn from seeded permutations (source epochs) and seeded random draws (the target stream).

use shift_tensor::tch::{Device, Kind, Tensor};

/// One split on the device.
#[derive(Debug)]
pub struct DigitBatcher {
    pub x: Tensor,
    pub y: Tensor,
}

impl DigitBatcher {
    pub fn new(x: Tensor, y: Tensor) -> Self {
        Self { x, y }
    }

    pub fn len(&self) -> i64 {
        self.x.size()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn device(&self) -> Device {
        self.x.device()
    }

    /// Full batches in one pass over the split (the remainder is dropped, as in the reference).
    pub fn steps_per_epoch(&self, batch: i64) -> i64 {
        self.len() / batch
    }

    /// A fresh permutation of the split for one epoch (libtorch's generator, so seeded by `seed_everything`).
    pub fn shuffled(&self) -> Tensor {
        Tensor::randperm(self.len(), (Kind::Int64, self.device()))
    }

    /// At least `count` indices: successive fresh permutations, each a full pass over the split (for epochs
    /// longer than one pass, e.g. fine-tuning on a few labelled examples).
    pub fn shuffled_for(&self, count: i64) -> Tensor {
        let passes = (count.max(1) + self.len() - 1) / self.len().max(1);
        let perms: Vec<Tensor> = (0..passes.max(1)).map(|_| self.shuffled()).collect();
        Tensor::cat(&perms, 0)
    }

    /// `count` indices drawn uniformly with replacement: the endless target stream, one epoch's worth at a time.
    pub fn draws(&self, count: i64) -> Tensor {
        Tensor::randint(self.len(), [count], (Kind::Int64, self.device()))
    }

    /// Batch `step` of an index order (a permutation or draws): images and labels.
    pub fn batch(&self, order: &Tensor, step: i64, batch: i64) -> (Tensor, Tensor) {
        let idx = order.narrow(0, step * batch, batch);
        (self.x.index_select(0, &idx), self.y.index_select(0, &idx))
    }
}
