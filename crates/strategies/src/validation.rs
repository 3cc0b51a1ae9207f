//! Label-free model selection in the epoch loop: after each epoch, every validator of [`shift_validators`]
//! scores the model on unlabelled target images, a held-out source split and a sample of source training images.

use crate::{error::StrategyError, evaluate};
use shift_models::AdaptNet;
use shift_tensor::tch::Tensor;
use shift_validators::{Predictions, SourceSplit, Validator};
use std::collections::BTreeMap;

/// What the validators see of a run's data. None of it is a target label.
#[derive(Debug)]
pub struct ValidationSet {
    /// Unlabelled target training images.
    pub target: Tensor,
    /// The held-out source split (never trained on) and its labels.
    pub source_split: (Tensor, Tensor),
    /// Source training images, whose features DEV's domain classifier learns from.
    pub source_train: Tensor,
}

impl ValidationSet {
    /// The same tensors, shared.
    pub fn shallow_clone(&self) -> Self {
        Self {
            target: self.target.shallow_clone(),
            source_split: (self.source_split.0.shallow_clone(), self.source_split.1.shallow_clone()),
            source_train: self.source_train.shallow_clone(),
        }
    }

    /// Every validator's score of `net`, by name, and why each validator that could not score this model (a
    /// diverged net's non-finite outputs) could not: its score is NaN, the reason is kept beside it and said on
    /// stderr. A label-free diagnostic does not end the run; picks pass NaN over and the ranking counts it.
    pub fn score(&self, net: &dyn AdaptNet) -> Result<Scores, StrategyError> {
        let batch = 1000;
        let (target_features, target_logits) = evaluate::outputs(net, &self.target, batch);
        let (split_features, split_logits) = evaluate::outputs(net, &self.source_split.0, batch);
        let (source_train_features, _) = evaluate::outputs(net, &self.source_train, batch);
        let p = Predictions {
            target_logits,
            target_features: Some(target_features),
            source: Some(SourceSplit {
                logits: split_logits,
                labels: self.source_split.1.shallow_clone(),
                features: Some(split_features),
            }),
            source_train_features: Some(source_train_features),
            shared: Default::default(),
        };
        Ok(score_all(&shift_validators::all(), &p))
    }
}

/// An epoch's validator scores, and the reason for each NaN among them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    pub scores: BTreeMap<String, f64>,
    pub errors: BTreeMap<String, String>,
}

/// Each of `validators`' score of `p`: NaN, with the reason kept, for one that cannot score it.
pub fn score_all(validators: &[Box<dyn Validator>], p: &Predictions) -> Scores {
    let mut out = Scores::default();
    for v in validators {
        let name = v.name().to_string();
        let score = v.score(p).unwrap_or_else(|e| {
            eprintln!("shift: {e}; scored NaN for this epoch");
            out.errors.insert(name.clone(), e.to_string());
            f64::NAN
        });
        out.scores.insert(name, score);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::{Device, Kind};

    #[test]
    fn a_validator_that_cannot_score_gives_nan_with_its_reason_beside_it() {
        let _rng = crate::test_rng();
        let finite = Tensor::randn([8, 10], (Kind::Float, Device::Cpu));
        let ok = score_all(&shift_validators::all(), &Predictions::target(finite));
        assert!(
            ok.scores.contains_key("entropy") && ok.scores["entropy"].is_finite(),
            "{ok:?}"
        );
        // Logits only: the validators that need source labels or features cannot score, and say why.
        assert!(
            ok.scores
                .iter()
                .all(|(n, s)| s.is_finite() != ok.errors.contains_key(n)),
            "{ok:?}"
        );
        assert!(
            ok.errors.contains_key("source_accuracy") && ok.scores["source_accuracy"].is_nan(),
            "{ok:?}"
        );
        assert_eq!(ok.scores.len(), shift_validators::all().len());
    }
}
