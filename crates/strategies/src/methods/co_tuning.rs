//! Co-Tuning (You, Kou, Long & Wang, NeurIPS 2020): the pretrained label predictor stays on as a second head,
//! trained beside the target's, towards the distribution over source classes that each target class maps to:
//!
//! ```text
//! L = CE(C_t(F(x)), y) + lambda * mean_b sum_s -p(y_s | y_t = y_b) log softmax(C_s(F(x_b)))_s
//! p(y_s | y_t = c) = mean over the labelled examples x of class c of softmax(C_s0(F0(x)))
//! ```
//!
//! `C_s` is a trainable copy of the start's label predictor (under `discriminator.source_head.`, at the run's
//! learning rate); the relationship `p(y_s | y_t)` is read before the first step off every labelled example by
//! the start network in evaluation mode (TLlib's `Relationship`, its direct approach) and kept in the checkpoint
//! under `discriminator.co_tuning.relationship`. On the digits the source (MNIST) and the target (MNIST-M) share
//! ten classes, so the target head too starts from the pretrained head, and the relationship is the start's class
//! confusion on the target. Defaults: TLlib's (`examples/task_adaptation/image_classification/co_tuning.py`:
//! trade-off 2.3).

use super::labelled_pass::{keep, kept_state, start_features};
use super::{
    joint_optimiser, regularised_terms, BuildContext, Capture, DataNeeds, EpochStart, Lambda, Method, MethodInfo,
    OptimiserSpec, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use crate::optimiser::GroupSpec;
use shift_models::{head::ClassifierHead, AdaptNet, CLASSIFIER, DISCRIMINATOR};
use shift_tensor::tch::{no_grad, Kind, Tensor};

const TLLIB: &str = "Transfer-Learning-Library, examples/task_adaptation/image_classification/co_tuning.py";
const WHY: &str = "its class relationship is the start network's source predictions averaged per labelled class";

/// The registry entry. TLlib's numbers are ResNet-50 on CUB, Cars and Aircraft: another protocol.
pub static INFO: MethodInfo = MethodInfo {
    name: "co-tuning",
    help: "Co-Tuning: fine-tuning that trains the pretrained head too, towards each target class's source-class distribution (You et al., NeurIPS 2020)",
    data: DataNeeds::finetuning_reading_all(WHY),
    build: |c| Ok(Box::new(CoTuning::new(c)?)),
    published: &[],
    params: &[Param::non_negative("trade_off", 2.3, TLLIB)],
};

/// `p(y_s | y_t)`, `[K_t, K_s]`: the mean of the rows of `probabilities` (`[N, K_s]`) of each target class in
/// `labels` (`[N]`, in `0..classes`); an error naming a class with no example, or a label out of range.
pub fn relationship(probabilities: &Tensor, labels: &Tensor, classes: i64) -> Result<Tensor, StrategyError> {
    let n = probabilities.size()[0];
    if labels.size() != [n] {
        return Err(StrategyError::Other(format!(
            "co-tuning: {n} rows of source predictions against labels of shape {:?}",
            labels.size()
        )));
    }
    let (lo, hi) = (labels.min().int64_value(&[]), labels.max().int64_value(&[]));
    if n == 0 || lo < 0 || hi >= classes {
        return Err(StrategyError::Other(format!(
            "co-tuning: the labelled examples' classes run {lo}..={hi}, outside 0..{classes}"
        )));
    }
    let k = probabilities.kind();
    let one_hot = labels.one_hot(classes).to_kind(k);
    let counts = one_hot.sum_dim_intlist(0, false, k);
    let counted = Vec::<f64>::try_from(&counts.to_kind(Kind::Double)).map_err(|e| StrategyError::Other(e.to_string()))?;
    if let Some(c) = counted.iter().position(|&m| m == 0.0) {
        return Err(StrategyError::Other(format!(
            "co-tuning: the labelled examples have no example of class {c}, so p(y_s | y_t = {c}) is undefined"
        )));
    }
    Ok(one_hot.tr().matmul(probabilities) / counts.unsqueeze(1))
}

/// `mean_b sum_s -target_bs log softmax(logits_b)_s`: the cross-entropy of `logits` against soft targets.
pub fn soft_cross_entropy(logits: &Tensor, target: &Tensor) -> Tensor {
    let k = logits.kind();
    -(target.to_kind(k) * logits.log_softmax(-1, k)).sum_dim_intlist(-1, false, k).mean(k)
}

#[derive(Debug)]
pub struct CoTuning {
    source_head: ClassifierHead,
    /// `p(y_s | y_t)`, `[K, K]`: uniform until read off the labelled examples at the schedule's start.
    relationship: Tensor,
    trade_off: f64,
}

impl CoTuning {
    /// The source head is a copy of the label predictor the method is built on (the fine-tuning run loads its
    /// checkpoint first); an error where the backbone's classifier is not of the layout a second head copies.
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let net = ctx.net;
        let vs = net.var_store();
        let classes = net.num_classes();
        let head_path = vs.root() / DISCRIMINATOR / "source_head";
        let source_head = ClassifierHead::new(&head_path, net.feature_dim(), &net.classifier_hidden(), classes);
        copy_classifier(net)?;
        Ok(Self {
            source_head,
            relationship: kept_state(net, "co_tuning", "relationship", &[classes, classes], 1.0 / classes as f64),
            trade_off: ctx.param("trade_off")?,
        })
    }
}

/// Copies every variable under `classifier.` into `discriminator.source_head.` of the same name; an error naming
/// a variable that has no counterpart of its shape, either way.
fn copy_classifier(net: &dyn AdaptNet) -> Result<(), StrategyError> {
    let vars = net.var_store().variables();
    let (from, to) = (format!("{CLASSIFIER}."), format!("{DISCRIMINATOR}.source_head."));
    let layout = |what: &str| {
        StrategyError::Other(format!(
            "co-tuning copies the label predictor into a second head of the backbone's classifier layout; {what}"
        ))
    };
    let heads = vars.keys().filter(|n| n.starts_with(&to)).count();
    let mut copied = 0;
    no_grad(|| {
        for (name, v) in vars.iter().filter(|(n, _)| n.starts_with(&from)) {
            let key = format!("{to}{}", &name[from.len()..]);
            match vars.get(&key) {
                Some(h) if h.size() == v.size() => {
                    h.shallow_clone().copy_(v);
                    copied += 1;
                }
                _ => return Err(layout(&format!("`{name}` has no counterpart `{key}` of shape {:?}", v.size()))),
            }
        }
        Ok(())
    })?;
    if copied != heads {
        return Err(layout(&format!("the head has {heads} variables, the classifier {copied}")));
    }
    Ok(())
}

impl Method for CoTuning {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    /// The backbone's groups and the source head.
    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    /// At the schedule's start, the relationship from the start network on every labelled example.
    fn on_epoch_start(&mut self, net: &dyn AdaptNet, at: &EpochStart) -> Result<(), StrategyError> {
        if let Some((f, y)) = start_features(net, at, INFO.name, WHY)? {
            let probabilities = no_grad(|| self.source_head.forward(&f).softmax(-1, f.kind()));
            keep(&self.relationship, relationship(&probabilities, y, net.num_classes())?);
        }
        Ok(())
    }

    /// The transfer loss reported is the unweighted source-head term.
    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (x, y) = batch.labelled;
        let f = net.features(x, true);
        let target = self.relationship.index_select(0, y);
        let term = soft_cross_entropy(&self.source_head.forward(&f), &target);
        let weighted = &term * self.trade_off;
        Ok(regularised_terms(net, &f, y, &term, weighted))
    }
}
