//! SHOT: source hypothesis transfer (Liang, Hu & Feng, ICML 2020). Two phases in one run, and the second never
//! reads source data. The first `source_share` of the steps train features and classifier on the source with
//! label smoothing; then the classifier (the source hypothesis) is frozen, in evaluation mode, and the features
//! alone adapt to the target by information maximisation and self-supervised pseudo-labels:
//!
//! ```text
//! phase 1:  L = CE_smooth(h(x_s), y_s),  targets (1 - eps) onehot + eps / C
//! phase 2:  L_IM = mean_i H(p_i) - H(mean_i p_i),  p = softmax(h(x_t))
//!           pseudo-labels, at every epoch start over all target images (evaluation mode):
//!             f^ = [f, 1] / |[f, 1]|;  c_k = sum_i p_ik f^_i / sum_i p_ik;  y^_i = argmin_k cos_dist(f^_i, c_k)
//!             then once more from the hard labels: c_k = mean of f^_i with y^_i = k;  y^_i = argmin_k ...
//!           L = lambda (L_IM + beta CE(h(x_t), y^))
//! ```
//!
//! Defaults are the reference code's digit settings (`digit/uda_digit.py`, `digit.sh`). The pseudo-labels come
//! from a snapshot of the model taken when they are drawn (a [`Teacher`] copy, saved with the checkpoints), so a
//! run resumed in the middle of an epoch draws the labels the uninterrupted run drew.

use super::phases::TwoPhases;
use super::teacher::Teacher;
use super::{
    groups_of, label_terms, named_optimisers, BuildContext, Capture, DataNeeds, EpochStart, Method, MethodInfo,
    OptimiserSpec, Param, StepInputs,
};
use crate::{optimiser::GroupSpec, optimiser::Optimiser, error::StrategyError};
use shift_models::{AdaptNet, Part};
use shift_tensor::tch::{no_grad, Kind, Tensor};

/// The registry entry. SHOT reports no MNIST -> MNIST-M number (its digit tasks are SVHN -> MNIST and
/// USPS <-> MNIST).
pub static INFO: MethodInfo = MethodInfo {
    name: "shot",
    help: "SHOT: source training, then source-free adaptation of the features by information maximisation and clustered pseudo-labels (Liang et al., ICML 2020)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Shot::new(c)?)),
    published: &[],
    params: &[
        Param::fraction("source_share", 0.5, "Liang et al.'s code (tim-learn/SHOT, digit/uda_digit.py): 30 source epochs, then 30 target epochs"),
        Param::fraction("label_smoothing", 0.1, "Liang et al., ICML 2020, Section 3.1 (epsilon = 0.1)"),
        Param::non_negative("pseudo_weight", 0.1, "Liang et al.'s code (tim-learn/SHOT, digit/digit.sh): --cls_par 0.1"),
        Param::non_negative("entropy_weight", 1.0, "Liang et al.'s code (tim-learn/SHOT, digit/uda_digit.py): --ent_par 1.0"),
    ],
};

/// Cross-entropy against label-smoothed targets `(1 - eps) onehot(y) + eps / C`.
pub fn smoothed_cross_entropy(logits: &Tensor, y: &Tensor, eps: f64) -> Tensor {
    let k = logits.kind();
    let c = logits.size()[1];
    let log_p = logits.log_softmax(1, k);
    let onehot = log_p.zeros_like().scatter_value(1, &y.unsqueeze(1), 1.0);
    let targets = onehot * (1.0 - eps) + eps / c as f64;
    -(targets * log_p).sum_dim_intlist([1i64].as_slice(), false, k).mean(k)
}

/// The information maximisation loss of target logits: `mean_i H(p_i) - H(mean_i p_i)`, with the reference
/// code's `-sum p log(p + 1e-5)`.
pub fn information_maximisation(logits: &Tensor) -> Tensor {
    let k = logits.kind();
    let p = logits.softmax(1, k);
    let h = |q: &Tensor, dim: i64| -(q * (q + 1e-5).log()).sum_dim_intlist([dim].as_slice(), false, k);
    h(&p, 1).mean(k) - h(&p.mean_dim([0i64].as_slice(), false, k), 0)
}

/// Rows of `a` scaled to unit length.
fn unit_rows(a: &Tensor) -> Tensor {
    a / a.norm_scalaropt_dim(2.0, [1i64].as_slice(), true).clamp_min(1e-12)
}

/// The nearest centroid (by cosine distance) of each unit row of `f`, centroids `weights^T f / sum weights`.
fn nearest_centroid(f: &Tensor, weights: &Tensor) -> Tensor {
    let k = f.kind();
    let centroids =
        weights.transpose(0, 1).mm(f) / (weights.sum_dim_intlist([0i64].as_slice(), false, k) + 1e-8).unsqueeze(1);
    // argmin of 1 - cos = argmax of the cosine.
    f.mm(&unit_rows(&centroids).transpose(0, 1)).argmax(1, false)
}

/// SHOT's pseudo-labels of target features `f` (N x D) with predictions `p` (N x C): softmax-weighted
/// centroids of the unit-length `[f, 1]`, labels by cosine distance, then one round from the hard labels.
pub fn pseudo_labels(f: &Tensor, p: &Tensor) -> Tensor {
    let ones = f.ones_like().narrow(1, 0, 1);
    let fh = unit_rows(&Tensor::cat(&[f, &ones], 1));
    let first = nearest_centroid(&fh, p);
    let onehot = p.zeros_like().scatter_value(1, &first.unsqueeze(1), 1.0);
    nearest_centroid(&fh, &onehot)
}

#[derive(Debug)]
pub struct Shot {
    label_smoothing: f64,
    pseudo_weight: f64,
    entropy_weight: f64,
    /// The model as it was when the pseudo-labels were drawn.
    snapshot: Teacher,
    /// The epoch's target images (where they are on the device) and their pseudo-labels.
    target: Option<Tensor>,
    labels: Option<Tensor>,
    /// Source training, then source-free adaptation.
    phases: TwoPhases,
}

impl Shot {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            label_smoothing: ctx.param("label_smoothing")?,
            pseudo_weight: ctx.param("pseudo_weight")?,
            entropy_weight: ctx.param("entropy_weight")?,
            snapshot: Teacher::new(ctx.net, INFO.name)?,
            target: None,
            labels: None,
            phases: TwoPhases::new(ctx.param("source_share")?),
        })
    }

    /// Pseudo-labels of every target image from the snapshot, in evaluation mode; `fresh` first copies the
    /// current model into the snapshot (a resumed run keeps the saved one).
    fn label_target(&mut self, fresh: bool) -> Result<(), StrategyError> {
        let target = self.target.as_ref().ok_or_else(|| {
            StrategyError::Other(
                "shot needs the target images on the device at each epoch's start (digit tasks)".into(),
            )
        })?;
        if fresh {
            self.snapshot.copy_student();
        }
        let n = target.size()[0];
        let (mut fs, mut ps) = (Vec::new(), Vec::new());
        for start in (0..n).step_by(1000) {
            let (f, logits) = self
                .snapshot
                .features_and_logits(&target.narrow(0, start, 1000.min(n - start)), false);
            ps.push(logits.softmax(1, Kind::Double));
            fs.push(f.to_kind(Kind::Double));
        }
        self.labels = Some(no_grad(|| pseudo_labels(&Tensor::cat(&fs, 0), &Tensor::cat(&ps, 0))));
        Ok(())
    }
}

impl Method for Shot {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    /// The features' optimiser, then the classifier's (stepped in the first phase only).
    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        vec![
            OptimiserSpec {
                name: "features",
                update: None,
                groups: groups_of(base, Part::Features),
            },
            OptimiserSpec {
                name: "classifier",
                update: None,
                groups: groups_of(base, Part::Classifier),
            },
        ]
    }

    fn capture(&self) -> Capture {
        Capture::No("two phases, pseudo-labels drawn between epochs, and a frozen classifier in the second")
    }

    /// In the second phase, the epoch's pseudo-labels: from the model at the epoch's start, or, on a run resumed
    /// inside the epoch, from the snapshot its checkpoint saved.
    fn on_epoch_start(&mut self, _net: &dyn AdaptNet, at: &EpochStart) -> Result<(), StrategyError> {
        self.phases.start_epoch(at);
        self.target = at.target.map(Tensor::shallow_clone);
        self.labels = None;
        if self.phases.second() {
            // Resumed past the switch inside this epoch: the snapshot was taken at the switch or the epoch's start.
            let resumed_inside = at.step > 0;
            self.label_target(!resumed_inside)?;
        }
        Ok(())
    }

    /// Phase 1: the smoothed label loss, both optimisers. Phase 2: lambda (IM + beta CE to the pseudo-labels)
    /// on the target batch, through the classifier in evaluation mode, the features' optimiser alone. The
    /// metrics report the source loss in phase 1, and in phase 2 the pseudo-labels' loss and agreement as the
    /// transfer loss and accuracy.
    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let [features, classifier] = named_optimisers(opts, self.name(), ["features", "classifier"])?;
        features.zero_grad();
        classifier.zero_grad();
        let zero = |t: &Tensor| Tensor::zeros([], (Kind::Float, t.device()));
        let metrics = if !self.phases.second() {
            let (xs, ys) = batch.labelled;
            let logits = net.classify(&net.features(xs, true), true);
            let (_, correct, count) = label_terms(&logits, ys);
            let loss = smoothed_cross_entropy(&logits, ys, self.label_smoothing);
            loss.backward();
            features.step(lr);
            classifier.step(lr);
            [loss.detach(), correct, count, zero(&loss), zero(&loss), zero(&loss)]
        } else {
            if self.labels.is_none() {
                // The switch falls inside this epoch: label from the model as it is now.
                self.label_target(true)?;
            }
            let xt = batch.target(self.name())?;
            let index = batch.target_index.ok_or_else(|| {
                StrategyError::Other("shot needs each target row's index into the epoch's target images".into())
            })?;
            let labels = self
                .labels
                .as_ref()
                .ok_or_else(|| StrategyError::Other("shot: no pseudo-labels".into()))?
                .index_select(0, index);
            let logits = net.classify(&net.features(xt, true), false);
            let (pseudo, agree, rows) = label_terms(&logits, &labels);
            let loss =
                (information_maximisation(&logits) * self.entropy_weight + &pseudo * self.pseudo_weight) * lambda;
            loss.backward();
            features.step(lr);
            [zero(&loss), zero(&loss), zero(&loss), pseudo.detach(), agree, rows]
        };
        Ok(metrics)
    }

    fn after_step(&mut self, _net: &dyn AdaptNet) -> Result<(), StrategyError> {
        self.phases.advance();
        Ok(())
    }
}
