//! Label-free model selection in the epoch loop: after each epoch, every validator of [`shift_validators`]
//! scores the model on unlabelled target images, a held-out source split and a sample of source training images.

use crate::{evaluate, StrategyError};
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

    /// Every validator's score of `net`, by name. A validator that cannot score this model (a diverged net's
    /// non-finite outputs) scores NaN, said on stderr: a label-free diagnostic does not end the run, and picks
    /// pass NaN over.
    pub fn score(&self, net: &dyn AdaptNet) -> Result<BTreeMap<String, f64>, StrategyError> {
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
        Ok(shift_validators::all()
            .iter()
            .map(|v| (v.name().to_string(), score_one(v.as_ref(), &p)))
            .collect())
    }
}

fn score_one(v: &dyn Validator, p: &Predictions) -> f64 {
    v.score(p).unwrap_or_else(|e| {
        eprintln!("shift: {e}; scored NaN for this epoch");
        f64::NAN
    })
}
