//! The `Strategy` trait (a train step, evaluation, checkpoint state) and `Adapt`, the eager step: any
//! [`Method`] on any [`AdaptNet`], with a per-tensor optimiser (SGD or Adam) for each of the method's optimisers.

use crate::methods::{domain_labels, BuildContext, EpochStart, Method, MethodSpec, StepInputs};
use crate::metrics::DeviceMetrics;
use crate::state::{load_model_state, model_state};
use crate::{
    error::StrategyError, evaluate, metrics::StepMetrics, optimiser::GroupSpec, optimiser::Optimiser, optimiser::Update,
};
use shift_data::DigitBatcher;
use shift_models::AdaptNet;
use shift_tensor::tch::Tensor;

/// One step's data. `labelled` is what the label predictor learns from (source, or target for target-only);
/// `unlabelled` is the target batch of methods that adapt.
#[derive(Debug)]
pub struct StepBatch<'a> {
    pub labelled: (&'a Tensor, &'a Tensor),
    pub unlabelled: Option<&'a Tensor>,
    /// Where the unlabelled rows sit in the target images an epoch starts with ([`EpochStart::target`]), when
    /// the batch was drawn from them (a method that keeps per-image pseudo-labels reads them by it).
    pub unlabelled_index: Option<&'a Tensor>,
    /// The labelled rows are this many equal blocks, one per training domain in order (domain generalisation);
    /// 1 on every task with one source.
    pub domains: i64,
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

    /// The target rows' indices into the unlabelled images.
    pub fn unlabelled_index(&self) -> Option<Tensor> {
        self.unlabelled
            .map(|(_, d)| d.narrow(0, self.step * self.batch, self.batch))
    }
}

pub trait Strategy {
    /// The method this strategy trains.
    fn method(&self) -> &dyn Method;
    /// One optimisation step at learning rate `lr` and reversal weight `lambda`. Metrics accumulate on the
    /// device; nothing here waits for the device.
    fn train_step(&mut self, batch: &StepBatch, lr: f64, lambda: f64) -> Result<(), StrategyError>;
    /// The same step on a batch given by indices. By default the batch is gathered here; a step that gathers
    /// inside its own (captured) work overrides this.
    fn train_step_indexed(&mut self, batch: &IndexedBatch, lr: f64, lambda: f64) -> Result<(), StrategyError> {
        let ((xs, ys), xt) = batch.gather();
        let index = batch.unlabelled_index();
        let b = StepBatch {
            domains: 1,
            labelled: (&xs, &ys),
            unlabelled: xt.as_ref(),
            unlabelled_index: index.as_ref(),
        };
        self.train_step(&b, lr, lambda)
    }
    /// The method's hook before an epoch's first step.
    fn on_epoch_start(&mut self, at: &EpochStart) -> Result<(), StrategyError>;
    /// Reads and resets the accumulated metrics (one device sync).
    fn take_metrics(&mut self) -> Result<StepMetrics, StrategyError>;
    /// Why a step that was asked to run captured runs eagerly instead, if it does.
    fn fallback(&self) -> Option<String> {
        None
    }
    /// Accuracy of the label predictor on (x, y), in evaluation mode; an error for an empty set.
    fn accuracy(&self, x: &Tensor, y: &Tensor) -> Result<f64, StrategyError> {
        evaluate::accuracy(self.network(), x, y, 1000)
    }
    /// The network that is evaluated: its features and logits are what validators score.
    fn network(&self) -> &dyn AdaptNet;
    /// Everything a checkpoint needs: variables, optimiser buffers, metric accumulators.
    fn state(&self) -> Vec<(String, Tensor)>;
    fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<(), StrategyError>;
}

/// The backbone's usual groups: the feature extractor at `features_lr_mult`, the classifier at 1x.
pub fn backbone_groups(features_lr_mult: f64) -> Vec<GroupSpec> {
    vec![
        GroupSpec {
            part: shift_models::Part::Features,
            prefix: None,
            lr_mult: features_lr_mult,
        },
        GroupSpec::part(shift_models::Part::Classifier),
    ]
}

#[derive(Debug)]
pub struct Adapt<N: AdaptNet> {
    pub net: N,
    method: Box<dyn Method>,
    /// The method's optimisers, in its order, and their checkpoint names.
    opts: Vec<Optimiser>,
    opt_names: Vec<&'static str>,
    metrics: DeviceMetrics,
}

impl<N: AdaptNet> Adapt<N> {
    /// `method` (a name, or a name with hyper-parameters) built on `net` (its networks join the net's
    /// variables), with the `update` rule over the optimisers the method makes of the backbone's groups `base`
    /// (where the method's `OptimiserSpec` sets no rule of its own).
    pub fn build(
        net: N,
        method: impl Into<MethodSpec>,
        base: &[GroupSpec],
        update: Update,
    ) -> Result<Self, StrategyError> {
        let spec = method.into();
        let method = spec.name.build(&BuildContext { net: &net, spec: &spec })?;
        Self::new(net, method, base, update)
    }

    /// A built `method` on `net` (whose variables hold the method's networks).
    pub fn new(net: N, method: Box<dyn Method>, base: &[GroupSpec], update: Update) -> Result<Self, StrategyError> {
        let specs = method.optimisers(base);
        let opts = specs
            .iter()
            .map(|spec| Optimiser::new(net.var_store(), &spec.groups, spec.update.unwrap_or(update)))
            .collect::<Result<_, StrategyError>>()?;
        let metrics = DeviceMetrics::new(net.var_store().device());
        Ok(Self {
            net,
            method,
            opts,
            opt_names: specs.iter().map(|s| s.name).collect(),
            metrics,
        })
    }

    /// The optimisers' names and the parameters each updates.
    pub fn optimiser_names(&self) -> Vec<(&'static str, Vec<&str>)> {
        self.opt_names
            .iter()
            .copied()
            .zip(self.opts.iter().map(Optimiser::names))
            .collect()
    }
}

impl<N: AdaptNet> Strategy for Adapt<N> {
    fn method(&self) -> &dyn Method {
        self.method.as_ref()
    }

    fn train_step(&mut self, batch: &StepBatch, lr: f64, lambda: f64) -> Result<(), StrategyError> {
        let (xs, ys) = batch.labelled;
        let target = batch.unlabelled.filter(|_| self.method.data().unlabelled_target);
        let domain = target.map(|t| domain_labels(xs.size()[0], t.size()[0], xs.device()));
        let inputs = StepInputs {
            labelled: (xs, ys),
            target,
            domain: domain.as_ref(),
            target_index: batch.unlabelled_index.filter(|_| target.is_some()),
            domains: batch.domains,
        };
        let values = self.method.step(&self.net, &inputs, &mut self.opts, lr, lambda)?;
        self.metrics.add(&values);
        self.method.after_step(&self.net)?;
        self.metrics.step_done();
        Ok(())
    }

    fn on_epoch_start(&mut self, at: &EpochStart) -> Result<(), StrategyError> {
        self.method.on_epoch_start(&self.net, at)
    }

    fn take_metrics(&mut self) -> Result<StepMetrics, StrategyError> {
        self.metrics.take()
    }

    fn network(&self) -> &dyn AdaptNet {
        &self.net
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = model_state(&self.net);
        for (name, opt) in self.opt_names.iter().zip(&self.opts) {
            named.extend(opt.state(&format!("opt.{name}.")));
        }
        named.extend(self.metrics.state());
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    }

    fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
        load_model_state(&self.net, named)?;
        for (name, opt) in self.opt_names.iter().zip(&mut self.opts) {
            opt.load_state(&format!("opt.{name}."), named)?;
        }
        self.metrics.load(named)
    }
}
