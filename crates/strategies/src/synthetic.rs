//! Synthetic data on the device: digit-shaped noise (random 3x32x32 images, or inputs of another shape, random
//! labels) for the train-step
//! benchmark and the fast step's self-test, and a small 2-D domain shift for the methods' adapts tests.

use crate::strategy::IndexedBatch;
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
        Self::with_shape(n, batch, &[3, 32, 32], device)
    }

    /// The same with inputs of `shape` (`[40, 101]`: a second of log-mel frames).
    pub fn with_shape(n: i64, batch: i64, shape: &[i64], device: Device) -> Self {
        let dims: Vec<i64> = std::iter::once(n).chain(shape.iter().copied()).collect();
        let images = || Tensor::rand(dims.as_slice(), (Kind::Float, device));
        Self {
            source: DigitBatcher::new(images(), Tensor::randint(10, [n], (Kind::Int64, device))),
            target: DigitBatcher::new(images(), Tensor::zeros([n], (Kind::Int64, device))),
            order: Tensor::arange(n, (Kind::Int64, device)),
            batch,
        }
    }

    /// Every target image (what an epoch starts with, for methods that pseudo-label the target).
    pub fn target_images(&self) -> &Tensor {
        &self.target.x
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

/// Two Gaussian classes in the plane, a domain shift a test builds and trains on in seconds. Source: class 0
/// around (-1, -1), class 1 around (1, 1), standard deviation 0.5 on each axis. Target: the same classes moved
/// by `offset` along the second axis. The classes differ along both axes, so a source classifier leans on both
/// and misreads the moved target; features that drop the second axis separate both domains, and that is what
/// aligning the domains' features finds.
#[derive(Debug)]
pub struct ShiftedBlobs {
    /// (points `[n, 2]`, labels `[n]`), half of each class.
    pub source: (Tensor, Tensor),
    pub target: (Tensor, Tensor),
}

impl ShiftedBlobs {
    /// `n` points per domain, drawn from libtorch's generator (seed it first).
    pub fn new(n: i64, offset: f64, device: Device) -> Self {
        let domain = |offset: f64| {
            let labels = Tensor::arange(n, (Kind::Int64, device)).remainder(2);
            let centre = labels.to_kind(Kind::Float).unsqueeze(1) * 2.0 - 1.0;
            let points = centre.repeat([1, 2]) + Tensor::randn([n, 2], (Kind::Float, device)) * 0.5;
            let shift = Tensor::from_slice(&[0.0, offset as f32]).to_device(device);
            (points + shift, labels)
        };
        Self {
            source: domain(0.0),
            target: domain(offset),
        }
    }
}

/// Domains where a spurious feature predicts the label better than the invariant one, until it flips: the
/// two-feature form of ColoredMNIST (Arjovsky et al., 2019). In each domain the label is a fair coin, observed
/// through 25% label noise; the invariant feature is the true label (+-1, noise 0.1), so it predicts the observed
/// label 75% of the time; the spurious feature (the "colour", +-1, noise 0.1) agrees with the observed label with
/// the domain's probability. ERM leans on the colour where it agrees more often than 75%; a domain where it
/// mostly disagrees then undoes it.
#[derive(Debug)]
pub struct SpuriousDomains {
    /// (points `[n, 2]`: invariant, spurious; observed labels `[n]`) per domain.
    pub domains: Vec<(Tensor, Tensor)>,
}

impl SpuriousDomains {
    /// `n` points in each domain, the colour agreeing with the observed label with probability `agree[e]` in
    /// domain `e`; drawn from libtorch's generator (seed it first).
    pub fn new(n: i64, agree: &[f64], device: Device) -> Self {
        let coin = |p: f64| Tensor::rand([n], (Kind::Float, device)).lt(p).to_kind(Kind::Int64);
        let sign = |t: &Tensor| t.to_kind(Kind::Float) * 2.0 - 1.0;
        let noise = || Tensor::randn([n], (Kind::Float, device)) * 0.1;
        let domains = agree
            .iter()
            .map(|&p| {
                let truth = coin(0.5);
                let observed = truth.logical_xor(&coin(0.25)).to_kind(Kind::Int64);
                let colour = observed.logical_xor(&coin(1.0 - p)).to_kind(Kind::Int64);
                let x = Tensor::stack(&[sign(&truth) + noise(), sign(&colour) + noise()], 1);
                (x, observed)
            })
            .collect();
        Self { domains }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spurious_feature_agrees_with_the_label_at_each_domain_s_rate_and_the_invariant_one_at_75_percent() {
        shift_tensor::seed_everything(1);
        let d = SpuriousDomains::new(20_000, &[0.9, 0.1], Device::Cpu);
        for ((x, y), want) in d.domains.iter().zip([0.9, 0.1]) {
            let agree = |col: i64| {
                x.select(1, col)
                    .gt(0.0)
                    .to_kind(Kind::Int64)
                    .eq_tensor(y)
                    .to_kind(Kind::Float)
                    .mean(Kind::Float)
                    .double_value(&[])
            };
            assert!((agree(0) - 0.75).abs() < 0.01, "invariant {}", agree(0));
            assert!((agree(1) - want).abs() < 0.01, "spurious {} against {want}", agree(1));
            assert!((y.to_kind(Kind::Float).mean(Kind::Float).double_value(&[]) - 0.5).abs() < 0.01);
        }
    }

    #[test]
    fn the_target_is_the_source_moved_along_the_second_axis() {
        shift_tensor::seed_everything(3);
        let b = ShiftedBlobs::new(4000, 2.0, Device::Cpu);
        let mean = |x: &Tensor, class: i64, labels: &Tensor| {
            let rows = labels.eq(class).nonzero().squeeze_dim(1);
            let m = x.index_select(0, &rows).mean_dim(0, false, Kind::Float);
            (m.double_value(&[0]), m.double_value(&[1]))
        };
        for (x, y, dy) in [(&b.source.0, &b.source.1, 0.0), (&b.target.0, &b.target.1, 2.0)] {
            assert_eq!(y.sum(Kind::Int64).int64_value(&[]), 2000, "half of each class");
            for (class, c) in [(0, -1.0), (1, 1.0)] {
                let (mx, my) = mean(x, class, y);
                assert!(
                    (mx - c).abs() < 0.04 && (my - c - dy).abs() < 0.04,
                    "class {class}: {mx} {my}"
                );
            }
        }
    }
}
