//! How zero-shot results are scored, as Xian, Lampert, Schiele & Akata (TPAMI 2018, "Zero-shot learning: a
//! comprehensive evaluation of the good, the bad and the ugly") score them: the mean over classes of each class's
//! top-1 accuracy, and for generalised zero-shot learning (every class a candidate) the harmonic mean of the seen
//! and the unseen classes' accuracies.

use crate::ZeroShotError;
use shift_tensor::tch::{Kind, Tensor};

/// The mean over `classes` of the fraction of each class's examples (`truth`, `[N]`) predicted right (`predicted`,
/// `[N]`); every class in `classes` must have examples.
pub fn per_class_accuracy(predicted: &Tensor, truth: &Tensor, classes: &[usize]) -> Result<f64, ZeroShotError> {
    if predicted.size() != truth.size() || truth.dim() != 1 {
        return Err(ZeroShotError::invalid(
            "accuracy",
            format!("predictions {:?} against labels {:?}", predicted.size(), truth.size()),
        ));
    }
    if classes.is_empty() {
        return Err(ZeroShotError::invalid("accuracy", "no classes to score"));
    }
    let mut sum = 0.0;
    for &c in classes {
        let of_c = truth.eq(c as i64);
        let n = of_c.sum(Kind::Int64).int64_value(&[]);
        if n == 0 {
            return Err(ZeroShotError::invalid("accuracy", format!("class {c} has no examples")));
        }
        let right = predicted
            .eq_tensor(truth)
            .logical_and(&of_c)
            .sum(Kind::Int64)
            .int64_value(&[]);
        sum += right as f64 / n as f64;
    }
    Ok(sum / classes.len() as f64)
}

/// The harmonic mean `2 s u / (s + u)` of the seen and unseen accuracies (0 when both are 0).
pub fn harmonic_mean(seen: f64, unseen: f64) -> f64 {
    if seen + unseen == 0.0 {
        0.0
    } else {
        2.0 * seen * unseen / (seen + unseen)
    }
}

/// The candidate class of the highest score in each row of `scores` (`[N, C]`; column `j` is class `candidates[j]`).
pub fn predict(scores: &Tensor, candidates: &[usize]) -> Result<Tensor, ZeroShotError> {
    if candidates.is_empty() {
        return Err(ZeroShotError::invalid("predict", "no candidate classes"));
    }
    if scores.dim() != 2 || scores.size()[1] != candidates.len() as i64 {
        return Err(ZeroShotError::invalid(
            "predict",
            format!("scores {:?} for {} candidate classes", scores.size(), candidates.len()),
        ));
    }
    let ids: Vec<i64> = candidates.iter().map(|&c| c as i64).collect();
    let ids = Tensor::from_slice(&ids).to_device(scores.device());
    Ok(ids.index_select(0, &scores.argmax(-1, false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_class_accuracy_weighs_each_class_alike_and_refuses_an_empty_class() {
        // Class 0: 3 of 4 right; class 1: 0 of 1 right. Per class 0.375; per example 0.6.
        let truth = Tensor::from_slice(&[0i64, 0, 0, 0, 1]);
        let predicted = Tensor::from_slice(&[0i64, 0, 0, 1, 0]);
        assert_eq!(per_class_accuracy(&predicted, &truth, &[0, 1]).unwrap(), 0.375);
        assert_eq!(per_class_accuracy(&predicted, &truth, &[0]).unwrap(), 0.75);
        let e = per_class_accuracy(&predicted, &truth, &[0, 2]).unwrap_err().to_string();
        assert!(e.contains("class 2 has no examples"), "{e}");
        let e = per_class_accuracy(&predicted.narrow(0, 0, 4), &truth, &[0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("predictions [4] against labels [5]"), "{e}");
        assert_eq!(harmonic_mean(0.5, 0.25), 1.0 / 3.0);
        assert_eq!(harmonic_mean(0.0, 0.0), 0.0);
    }

    #[test]
    fn predict_maps_columns_to_their_classes() {
        let scores = Tensor::from_slice(&[0.1f32, 0.9, 0.2, 0.7, 0.3, 0.1]).view([2, 3]);
        let p = predict(&scores, &[4, 7, 9]).unwrap();
        assert_eq!(Vec::<i64>::try_from(&p).unwrap(), [7, 4]);
        assert!(predict(&scores, &[4, 7])
            .unwrap_err()
            .to_string()
            .contains("for 2 candidate classes"));
    }
}
