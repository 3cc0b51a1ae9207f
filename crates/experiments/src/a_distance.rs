//! The proxy A-distance between source and target features (Ben-David et al., NeurIPS 2006; as Ganin et al.,
//! JMLR 2016, Section 6.1.3, report it): how well a linear classifier tells the domains apart.

use crate::selection::permutation;
use serde::Serialize;
use shift_tensor::tch::{Kind, Tensor};
use shift_validators::Logistic;

/// A proxy A-distance and what it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ADistance {
    /// `2 (1 - 2 err)`: 2 when the domains separate perfectly, 0 when the classifier does no better than chance.
    pub pad: f64,
    /// The domain classifier's error on the held-out half.
    pub error: f64,
}

/// The L2 penalty of the linear domain classifier (ours: the paper's linear SVM's C is not given).
pub const L2: f64 = 1e-2;

/// The proxy A-distance of `source` and `target` features (rows): the pooled rows are split in half by a
/// permutation seeded with `seed`, a [`Logistic`] regression learns the domain on one half, and its error on
/// the other half gives `2 (1 - 2 err)`.
///
/// ```
/// use shift_tensor::tch::{Kind, Tensor};
/// let (a, b) = (Tensor::randn([200, 3], (Kind::Double, shift_tensor::tch::Device::Cpu)), Tensor::randn([200, 3], (Kind::Double, shift_tensor::tch::Device::Cpu)));
/// let apart = shift_experiments::a_distance::proxy_a_distance(&a, &(&b + 10.0), 0);
/// assert_eq!(apart.pad, 2.0);
/// ```
pub fn proxy_a_distance(source: &Tensor, target: &Tensor, seed: u64) -> ADistance {
    let (ns, nt) = (source.size()[0], target.size()[0]);
    let pooled = Tensor::cat(&[source.to_kind(Kind::Double), target.to_kind(Kind::Double)], 0);
    let is_target: Vec<bool> = (0..ns + nt).map(|i| i >= ns).collect();
    let order = permutation((ns + nt) as usize, seed);
    let (train, test) = order.split_at(order.len() / 2);
    let rows = |idx: &[usize], target: bool| {
        let keep: Vec<i64> = idx
            .iter()
            .filter(|&&i| is_target[i] == target)
            .map(|&i| i as i64)
            .collect();
        pooled.index_select(0, &Tensor::from_slice(&keep).to_device(pooled.device()))
    };
    let clf = Logistic::fit(&rows(train, false), &rows(train, true), L2);
    let wrong = |target: bool| {
        let odds = clf.log_odds(&rows(test, target));
        let said_target = odds.gt(0.0);
        let wrong = if target { said_target.logical_not() } else { said_target };
        wrong.sum(Kind::Int64).int64_value(&[])
    };
    let error = (wrong(false) + wrong(true)) as f64 / test.len() as f64;
    ADistance {
        pad: 2.0 * (1.0 - 2.0 * error),
        error,
    }
}
