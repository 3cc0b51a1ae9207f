//! Evaluation: the label predictor's accuracy, and the features and logits that validators score, in batches,
//! in evaluation mode, without gradients.

use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// Fraction of examples whose arg-max class equals the label.
pub fn accuracy(net: &dyn AdaptNet, x: &Tensor, y: &Tensor, batch: i64) -> f64 {
    let n = x.size()[0];
    if n == 0 {
        return 0.0;
    }
    let correct = shift_tensor::tch::no_grad(|| {
        let mut correct = Tensor::zeros([], (Kind::Int64, x.device()));
        for start in (0..n).step_by(batch as usize) {
            let len = batch.min(n - start);
            let logits = net.classify(&net.features(&x.narrow(0, start, len), false), false);
            correct += logits
                .argmax(-1, false)
                .eq_tensor(&y.narrow(0, start, len))
                .sum(Kind::Int64);
        }
        correct
    });
    correct.int64_value(&[]) as f64 / n as f64
}

/// The features and logits of every row of `x`, in batches of `batch`, in evaluation mode.
pub fn outputs(net: &dyn AdaptNet, x: &Tensor, batch: i64) -> (Tensor, Tensor) {
    shift_tensor::tch::no_grad(|| {
        let n = x.size()[0];
        let (mut features, mut logits) = (Vec::new(), Vec::new());
        for start in (0..n).step_by(batch.max(1) as usize) {
            let f = net.features(&x.narrow(0, start, batch.min(n - start)), false);
            logits.push(net.classify(&f, false));
            features.push(f.flatten(1, -1));
        }
        (Tensor::cat(&features, 0), Tensor::cat(&logits, 0))
    })
}
