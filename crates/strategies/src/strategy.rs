//! The `Strategy` trait (a train step, evaluation, checkpoint state) and `Adapt`, which implements
//! source-only, target-only and both DANN variants on any [`AdaptNet`].

use crate::metrics::DeviceMetrics;
use crate::{evaluate, Method, Sgd, StepMetrics, StrategyError};
use shift_data::DigitBatcher;
use shift_grl::GradientReversal;
use shift_models::pretrained::{copy_named, CopyError};
use shift_models::{AdaptNet, Part};
use shift_tensor::tch::{Kind, Reduction, Tensor};

/// One step's data. `labelled` is what the label predictor learns from (source, or target for target-only);
/// `unlabelled` is the target batch the discriminator sees (DANN only).
#[derive(Debug)]
pub struct StepBatch<'a> {
    pub labelled: (&'a Tensor, &'a Tensor),
    pub unlabelled: Option<&'a Tensor>,
}

/// One step's batch as indices into device-resident data: rows `order[step*batch..(step+1)*batch]` of
/// `labelled`, and the same rows of `draws` into the unlabelled target data. `epoch` tells when `order` and
/// `draws` are new (each epoch draws its own).
#[derive(Debug, Clone, Copy)]
pub struct IndexedBatch<'a> {
    pub epoch: usize,
    pub step: i64,
    pub batch: i64,
    pub labelled: &'a DigitBatcher,
    pub order: &'a Tensor,
    pub unlabelled: Option<(&'a DigitBatcher, &'a Tensor)>,
}

impl IndexedBatch<'_> {
    /// Gathers the batch: (source images, labels), target images.
    pub fn gather(&self) -> ((Tensor, Tensor), Option<Tensor>) {
        let labelled = self.labelled.batch(self.order, self.step, self.batch);
        let unlabelled = self.unlabelled.map(|(u, d)| u.batch(d, self.step, self.batch).0);
        (labelled, unlabelled)
    }
}

pub trait Strategy {
    fn method(&self) -> Method;
    /// One optimisation step at learning rate `lr` and reversal weight `lambda`. Metrics accumulate on the
    /// device; nothing here waits for the device.
    fn train_step(&mut self, batch: &StepBatch, lr: f64, lambda: f64) -> Result<(), StrategyError>;
    /// The same step on a batch given by indices. By default the batch is gathered here; a step that gathers
    /// inside its own (captured) work overrides this.
    fn train_step_indexed(&mut self, batch: &IndexedBatch, lr: f64, lambda: f64) -> Result<(), StrategyError> {
        let ((xs, ys), xt) = batch.gather();
        let b = StepBatch {
            labelled: (&xs, &ys),
            unlabelled: xt.as_ref(),
        };
        self.train_step(&b, lr, lambda)
    }
    /// Reads and resets the accumulated metrics (one device sync).
    fn take_metrics(&mut self) -> StepMetrics;
    /// Accuracy of the label predictor on (x, y), in evaluation mode.
    fn accuracy(&self, x: &Tensor, y: &Tensor) -> f64;
    /// Everything a checkpoint needs: variables, optimiser buffers, metric accumulators.
    fn state(&self) -> Vec<(String, Tensor)>;
    fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<(), StrategyError>;
}

#[derive(Debug)]
pub struct Adapt<N: AdaptNet> {
    pub net: N,
    method: Method,
    /// Features + classifier (+ discriminator for `Dann`).
    main: Sgd,
    /// The discriminator's own optimiser (`DannAlt` only).
    disc: Option<Sgd>,
    metrics: DeviceMetrics,
    grl: GradientReversal,
}

impl<N: AdaptNet> Adapt<N> {
    /// `main` must cover what the method trains; for `DannAlt`, `disc` covers the discriminator.
    pub fn new(net: N, method: Method, main: Sgd, disc: Option<Sgd>) -> Self {
        let metrics = DeviceMetrics::new(net.var_store().device());
        Self {
            net,
            method,
            main,
            disc,
            metrics,
            grl: GradientReversal,
        }
    }

    /// The usual groups: everything for `Dann`; features + classifier otherwise (and the discriminator apart).
    pub fn groups_for(method: Method, features_lr_mult: f64) -> (Vec<crate::GroupSpec>, Option<Vec<crate::GroupSpec>>) {
        use crate::GroupSpec;
        let base = vec![
            GroupSpec {
                part: Part::Features,
                prefix: None,
                lr_mult: features_lr_mult,
            },
            GroupSpec::part(Part::Classifier),
        ];
        Self::groups_with(method, base)
    }

    /// The groups of `method` over `base` (the feature extractor's and the classifier's groups): the
    /// discriminator joins them for `Dann`, has its own optimiser for `DannAlt`, and is left out otherwise.
    pub fn groups_with(
        method: Method,
        base: Vec<crate::GroupSpec>,
    ) -> (Vec<crate::GroupSpec>, Option<Vec<crate::GroupSpec>>) {
        let disc = crate::GroupSpec::part(Part::Discriminator);
        match method {
            Method::Dann => (base.into_iter().chain([disc]).collect(), None),
            Method::DannAlt => (base, Some(vec![disc])),
            Method::SourceOnly | Method::TargetOnly => (base, None),
        }
    }
}

/// Cross-entropy of the label predictor, its correct count and the batch size (all 0-dim, on the device).
pub(crate) fn label_terms(logits: &Tensor, y: &Tensor) -> (Tensor, Tensor, Tensor) {
    let loss = logits.cross_entropy_for_logits(y);
    let correct = logits.argmax(-1, false).eq_tensor(y).sum(Kind::Float);
    let count = Tensor::full([], y.size()[0] as f64, (Kind::Float, y.device()));
    (loss, correct, count)
}

/// Domain labels: 0 for the `ns` source rows, 1 for the `nt` target rows.
pub(crate) fn domain_labels(ns: i64, nt: i64, device: shift_tensor::tch::Device) -> Tensor {
    Tensor::cat(
        &[
            Tensor::zeros([ns], (Kind::Float, device)),
            Tensor::ones([nt], (Kind::Float, device)),
        ],
        0,
    )
}

/// Logistic loss of the domain classifier, its correct count and the batch size.
pub(crate) fn domain_terms(logits: &Tensor, labels: &Tensor) -> (Tensor, Tensor, Tensor) {
    let loss = logits.binary_cross_entropy_with_logits::<Tensor>(labels, None, None, Reduction::Mean);
    let correct = logits.gt(0.0).to_kind(Kind::Float).eq_tensor(labels).sum(Kind::Float);
    let count = Tensor::full([], labels.size()[0] as f64, (Kind::Float, labels.device()));
    (loss, correct, count)
}

/// The target batch an adversarial step needs, or the error saying so.
pub(crate) fn need_target<T>(target: Option<T>) -> Result<T, StrategyError> {
    target.ok_or_else(|| StrategyError::Other("DANN needs a target batch".into()))
}

/// Source-only (or target-only) terms for one batch: the label loss to back-propagate and the six metric values
/// (no domain terms).
pub(crate) fn label_only_terms(net: &dyn AdaptNet, xs: &Tensor, ys: &Tensor) -> (Tensor, [Tensor; 6]) {
    let (lc, correct, count) = label_terms(&net.classify(&net.features(xs, true), true), ys);
    let zero = || Tensor::zeros([], (Kind::Float, xs.device()));
    let values = [lc.detach(), correct, count, zero(), zero(), zero()];
    (lc, values)
}

/// DANN terms for one batch (Ganin & Lempitsky 2015): features of source and target rows, the label loss on the
/// source rows, the domain loss on all rows behind `reverse` (the gradient reversal layer). Returns the summed
/// loss to back-propagate and the six metric values. Shared by the eager and the fast step, so both compute
/// the same function.
pub(crate) fn dann_terms(
    net: &dyn AdaptNet,
    (xs, ys, xt): (&Tensor, &Tensor, &Tensor),
    labels: &Tensor,
    reverse: impl FnOnce(&Tensor) -> Result<Tensor, shift_tensor::TensorError>,
) -> Result<(Tensor, [Tensor; 6]), StrategyError> {
    let ns = xs.size()[0];
    let f = net.features(&Tensor::cat(&[xs, xt], 0), true);
    let (lc, correct, count) = label_terms(&net.classify(&f.narrow(0, 0, ns), true), ys);
    let (ld, dcorrect, dcount) = domain_terms(&net.discriminate(&reverse(&f)?, true), labels);
    let values = [lc.detach(), correct, count, ld.detach(), dcorrect, dcount];
    Ok((lc + ld, values))
}

/// The network's variables under `model.`.
pub(crate) fn model_state(net: &dyn AdaptNet) -> Vec<(String, Tensor)> {
    net.var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (format!("model.{n}"), t))
        .collect()
}

/// Copies `model.*` tensors (a checkpoint's network) into the network's variables, checking names and shapes.
pub fn load_model_state(net: &dyn AdaptNet, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
    copy_named(net.var_store(), named, "", |n| format!("model.{n}")).map_err(|e| {
        StrategyError::Checkpoint(match e {
            CopyError::Missing(key) => format!("`{key}` is missing"),
            CopyError::Shape { key, found, expected } => {
                format!("`{key}` has shape {found:?}, expected {expected:?}")
            }
        })
    })?;
    Ok(())
}

/// A named tensor of a checkpoint, or an error naming it.
pub(crate) fn get<'a>(named: &'a [(String, Tensor)], key: &str) -> Result<&'a Tensor, StrategyError> {
    named
        .iter()
        .find(|(n, _)| n == key)
        .map(|(_, t)| t)
        .ok_or_else(|| StrategyError::Checkpoint(format!("`{key}` is missing")))
}

/// A named tensor of a checkpoint that must have `shape`, or an error naming it.
pub(crate) fn get_shaped<'a>(
    named: &'a [(String, Tensor)],
    key: &str,
    shape: &[i64],
) -> Result<&'a Tensor, StrategyError> {
    let t = get(named, key)?;
    if t.size() != shape {
        return Err(StrategyError::Checkpoint(format!(
            "`{key}` has shape {:?}, expected {shape:?}",
            t.size()
        )));
    }
    Ok(t)
}

impl<N: AdaptNet> Strategy for Adapt<N> {
    fn method(&self) -> Method {
        self.method
    }

    fn train_step(&mut self, batch: &StepBatch, lr: f64, lambda: f64) -> Result<(), StrategyError> {
        let (xs, ys) = batch.labelled;
        let ns = xs.size()[0];
        match self.method {
            Method::SourceOnly | Method::TargetOnly => {
                self.main.zero_grad();
                let (loss, values) = label_only_terms(&self.net, xs, ys);
                loss.backward();
                self.main.step(lr);
                self.metrics.add(&values);
            }
            Method::Dann => {
                let xt = need_target(batch.unlabelled)?;
                self.main.zero_grad();
                let labels = domain_labels(ns, xt.size()[0], xs.device());
                let grl = self.grl;
                let (loss, values) = dann_terms(&self.net, (xs, ys, xt), &labels, |f| grl.apply(f, lambda))?;
                loss.backward();
                self.main.step(lr);
                self.metrics.add(&values);
            }
            Method::DannAlt => {
                let xt = need_target(batch.unlabelled)?;
                let nt = xt.size()[0];
                let disc = self
                    .disc
                    .as_mut()
                    .ok_or_else(|| StrategyError::Other("dann-alt needs a discriminator optimiser".into()))?;
                let labels = domain_labels(ns, nt, xs.device());
                // 1. Discriminator step on detached features, true domain labels.
                disc.zero_grad();
                let f = self.net.features(&Tensor::cat(&[xs, xt], 0), true);
                let (ld, dcorrect, dcount) = domain_terms(&self.net.discriminate(&f.detach(), true), &labels);
                ld.backward();
                disc.step(lr);
                // 2. Feature and label step against flipped domain labels, weighted by lambda.
                self.main.zero_grad();
                let (lc, correct, count) = label_terms(&self.net.classify(&f.narrow(0, 0, ns), true), ys);
                let flipped = domain_labels(ns, nt, xs.device()).g_mul_scalar(-1.0).g_add_scalar(1.0);
                let fool = self
                    .net
                    .discriminate(&f, true)
                    .binary_cross_entropy_with_logits::<Tensor>(&flipped, None, None, Reduction::Mean);
                (&lc + fool * lambda).backward();
                self.main.step(lr);
                self.metrics
                    .add(&[lc.detach(), correct, count, ld.detach(), dcorrect, dcount]);
            }
        }
        self.metrics.step_done();
        Ok(())
    }

    fn take_metrics(&mut self) -> StepMetrics {
        self.metrics.take()
    }

    fn accuracy(&self, x: &Tensor, y: &Tensor) -> f64 {
        evaluate::accuracy(&self.net, x, y, 1000)
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = model_state(&self.net);
        named.extend(self.main.state("opt.main."));
        if let Some(d) = &self.disc {
            named.extend(d.state("opt.disc."));
        }
        named.extend(self.metrics.state());
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    }

    fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
        load_model_state(&self.net, named)?;
        self.main.load_state("opt.main.", named)?;
        if let Some(d) = &mut self.disc {
            d.load_state("opt.disc.", named)?;
        }
        self.metrics.load(named)
    }
}
