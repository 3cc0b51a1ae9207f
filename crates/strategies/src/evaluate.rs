//! Evaluation: the label predictor's accuracy, and the features and logits that validators score, in batches,
//! in evaluation mode, without gradients.

use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// Fraction of examples whose arg-max class equals the label (a multitask net's: the mean of its tasks'
/// accuracies, [`task_accuracies`]). A set of no examples has no accuracy: an error, never a 0.0 that reads as a
/// network that gets everything wrong.
pub fn accuracy(net: &dyn AdaptNet, x: &Tensor, y: &Tensor, batch: i64) -> Result<f64, StrategyError> {
    let n = x.size()[0];
    if n == 0 {
        return Err(StrategyError::Other(
            "accuracy of an empty set: there are no examples to score".into(),
        ));
    }
    if net.tasks() > 1 {
        let each = task_accuracies(net, x, y, batch)?;
        return Ok(each.iter().sum::<f64>() / each.len() as f64);
    }
    if y.size() != [n] {
        return Err(StrategyError::Other(format!(
            "accuracy: {n} examples but labels of shape {:?}",
            y.size()
        )));
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
    Ok(correct.int64_value(&[]) as f64 / n as f64)
}

/// Each task's accuracy of a multitask net (`net.tasks()` heads, their logits concatenated) against `y` (`[N,
/// tasks]`, a class per task), in task order. An empty set or labels of another shape are an error.
pub fn task_accuracies(net: &dyn AdaptNet, x: &Tensor, y: &Tensor, batch: i64) -> Result<Vec<f64>, StrategyError> {
    let (n, tasks) = (x.size()[0], net.tasks());
    if batch < 1 {
        return Err(StrategyError::Other(format!(
            "task accuracies: a batch of {batch} rows"
        )));
    }
    if n == 0 {
        return Err(StrategyError::Other(
            "accuracy of an empty set: there are no examples to score".into(),
        ));
    }
    if y.size() != [n, tasks] {
        return Err(StrategyError::Other(format!(
            "task accuracies: {n} examples of {tasks} task(s) but labels of shape {:?}",
            y.size()
        )));
    }
    let correct = shift_tensor::tch::no_grad(|| {
        let mut correct = Tensor::zeros([tasks], (Kind::Int64, x.device()));
        for start in (0..n).step_by(batch as usize) {
            let len = batch.min(n - start);
            let logits = net.classify(&net.features(&x.narrow(0, start, len), false), false);
            let predicted = logits.view([len, tasks, -1]).argmax(-1, false);
            correct += predicted
                .eq_tensor(&y.narrow(0, start, len))
                .sum_dim_intlist(0, false, Kind::Int64);
        }
        correct
    });
    let correct = Vec::<i64>::try_from(&correct)
        .map_err(|e| StrategyError::Other(format!("task accuracies: cannot read the counts: {e}")))?;
    Ok(correct.into_iter().map(|c| c as f64 / n as f64).collect())
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

#[cfg(test)]
mod tests {
    use super::*;
    use shift_models::digit::DigitNet;
    use shift_tensor::tch::Device;

    #[test]
    fn accuracy_counts_arg_max_hits_and_an_empty_set_or_mismatched_labels_are_errors() {
        let _rng = crate::test_rng();
        let net = DigitNet::new(Device::Cpu);
        let x = Tensor::randn([5, 3, 32, 32], (Kind::Float, Device::Cpu));
        // The predictions in the batches accuracy evaluates in (another batch size may round a near tie apart).
        let predicted = outputs(&net, &x, 2).1.argmax(-1, false);
        let wrong = (&predicted + 1).remainder(10);
        assert_eq!(accuracy(&net, &x, &predicted, 2).unwrap(), 1.0);
        assert_eq!(accuracy(&net, &x, &wrong, 2).unwrap(), 0.0);
        let e = accuracy(&net, &x.narrow(0, 0, 0), &predicted.narrow(0, 0, 0), 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty set"), "{e}");
        let e = accuracy(&net, &x, &predicted.narrow(0, 0, 4), 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("5 examples but labels of shape [4]"), "{e}");
    }
}
