//! The method interface: what a domain adaptation method is to the train steps, in the spirit of
//! Transfer-Learning-Library's loss modules. A method owns the networks it adds to a backbone (a discriminator, a
//! critic, a second head), names its optimisers' groups, declares the data it needs, computes its loss terms
//! from one step's batch through the backbone's features and logits, and says whether its step can be captured
//! in a CUDA graph. One file per method; the `methods!` line below declares it and its entry in [`REGISTRY`].

pub mod anneal;
pub mod info;
pub mod labelled_pass;
pub mod min_norm;
pub mod mmd;
pub mod multi_domain;
pub mod multi_task;
pub mod phases;
pub mod registry;
pub mod teacher;
pub mod vat;

/// Declares each method's module and its registry entries together, in the order tables list them: a method is
/// one file in `methods/` and one line here.
macro_rules! methods {
    ($($module:ident => [$($info:ident),+]),+ $(,)?) => {
        $(pub mod $module;)+

        /// Every method, in the order tables list them.
        pub static REGISTRY: &[&MethodInfo] = &[$($(&$module::$info),+),+];
    };
}

methods! {
    source_only => [INFO],
    dann => [INFO],
    dann_alt => [INFO],
    cdan => [INFO, INFO_E],
    dan => [INFO],
    jan => [INFO],
    coral => [INFO],
    bnm => [INFO],
    mcc => [INFO],
    mdd => [INFO],
    dsan => [INFO],
    wdgrl => [INFO],
    daan => [INFO],
    mcd => [INFO],
    daae => [INFO],
    adda => [INFO],
    vada => [INFO],
    dirt_t => [INFO],
    self_ensembling => [INFO],
    shot => [INFO],
    target_only => [INFO],
    erm => [INFO],
    irm => [INFO],
    vrex => [INFO],
    group_dro => [INFO],
    mixup => [INFO],
    domain_alignment => [INFO_CORAL, INFO_MMD],
    domain_adversarial => [INFO_DANN, INFO_CDANN],
    rotation => [INFO],
    simclr => [INFO],
    l2_sp => [INFO],
    bss => [INFO],
    lwf => [INFO],
    delta => [INFO],
    co_tuning => [INFO],
    equal_weights => [INFO],
    uncertainty => [INFO],
    mgda_ub => [INFO],
    pcgrad => [INFO],
    single_task => [INFO],
}

pub use info::{MethodInfo, Param, Protocol, Published};
pub use registry::{MethodName, MethodSpec};

use crate::{error::StrategyError, optimiser::GroupSpec, optimiser::Optimiser, optimiser::Update};
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Reduction, Tensor};
use std::fmt;

/// The data a method trains on. The labelled stream is source images with their labels, or, for a method that
/// trains on the target's labels (target-only, the upper bound), target images with theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataNeeds {
    pub labelled_source: bool,
    pub unlabelled_target: bool,
    pub labelled_target: bool,
    /// Why the method needs images (an image augmentation), where it does: tasks of feature vectors refuse it.
    pub images: Option<&'static str>,
    /// Why the method needs a backbone's latent sequence over time (`AdaptNet::sequence`: the audio CNN's),
    /// where it does: tasks of other inputs refuse it.
    pub sequence: Option<&'static str>,
    /// Whether the method needs several labelled source domains, told apart (domain generalisation: each step's
    /// labelled batch is one block per domain, [`StepInputs::domain_blocks`]); tasks with one source refuse it.
    pub domains: bool,
    /// Whether the method is self-supervised pretraining: it reads the labelled stream's images and never their
    /// labels, and trains no label predictor (`experiment finetune --pretrain` runs it; adaptation refuses it).
    pub pretext: bool,
    /// Whether the method is a fine-tuning regulariser: it trains the label predictor on the labelled stream (the
    /// target's labelled examples) from a pretrained start, with a term that holds the network near what it
    /// started as (`experiment finetune --regulariser` runs it; adaptation refuses it).
    pub regulariser: bool,
    /// Why the method reads the labelled examples whole before its first step (DELTA's channel attention,
    /// Co-Tuning's class relationship), where it does: tasks that stream them from the host refuse it.
    pub labelled_whole: Option<&'static str>,
    /// Whether the method weighs several tasks of one input (multitask learning: each labelled row has a class per
    /// task, `[B, T]`, and the backbone a head per task, [`AdaptNet::tasks`]); `experiment multitask` runs it and
    /// every other experiment refuses it.
    pub tasks: bool,
}

impl DataNeeds {
    /// Labelled source only.
    pub const SOURCE: Self = Self {
        labelled_source: true,
        unlabelled_target: false,
        labelled_target: false,
        images: None,
        sequence: None,
        domains: false,
        pretext: false,
        regulariser: false,
        labelled_whole: None,
        tasks: false,
    };
    /// Labelled source and unlabelled target: unsupervised domain adaptation.
    pub const SOURCE_AND_TARGET: Self = Self {
        labelled_source: true,
        unlabelled_target: true,
        labelled_target: false,
        images: None,
        sequence: None,
        domains: false,
        pretext: false,
        regulariser: false,
        labelled_whole: None,
        tasks: false,
    };
    /// Several labelled source domains, told apart, and no target: domain generalisation.
    pub const DOMAINS: Self = Self {
        labelled_source: true,
        unlabelled_target: false,
        labelled_target: false,
        images: None,
        sequence: None,
        domains: true,
        pretext: false,
        regulariser: false,
        labelled_whole: None,
        tasks: false,
    };
    /// The source images alone, without their labels: self-supervised pretraining on `why` (its views of images).
    pub const fn source_images(why: &'static str) -> Self {
        Self {
            labelled_source: false,
            unlabelled_target: false,
            labelled_target: false,
            images: Some(why),
            sequence: None,
            domains: false,
            pretext: true,
            regulariser: false,
            labelled_whole: None,
            tasks: false,
        }
    }
    /// The labelled target from a pretrained start, held near that start: a fine-tuning regulariser.
    pub const FINETUNING: Self = Self {
        regulariser: true,
        ..Self::LABELLED_TARGET
    };
    /// A fine-tuning regulariser that reads the labelled examples whole before its first step, for `why`.
    pub const fn finetuning_reading_all(why: &'static str) -> Self {
        Self {
            labelled_whole: Some(why),
            ..Self::FINETUNING
        }
    }
    /// The labelled examples with a class per task: a multitask weighting.
    pub const TASKS: Self = Self {
        tasks: true,
        ..Self::SOURCE
    };
    /// Labelled target only (uses target labels by design).
    pub const LABELLED_TARGET: Self = Self {
        labelled_source: false,
        unlabelled_target: false,
        labelled_target: true,
        images: None,
        sequence: None,
        domains: false,
        pretext: false,
        regulariser: false,
        labelled_whole: None,
        tasks: false,
    };
}

/// Whether a method's step can be captured in a CUDA graph by the fast step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// The step is one joint [`Method::loss`], one backward and one optimiser: the fast step captures it.
    Joint,
    /// It is not, for this reason (the fast step refuses the method, naming it).
    No(&'static str),
}

/// What a method builds its networks for: the backbone (its variables, feature size, class count and
/// discriminator recipe), and the method's hyper-parameters. Networks go into the backbone's `VarStore` under
/// `discriminator.`, so checkpoints, optimiser groups and freezing address them by name.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    pub net: &'a dyn AdaptNet,
    pub spec: &'a MethodSpec,
}

impl BuildContext<'_> {
    /// The hyper-parameter `key` (the configuration's value, or the registry's default).
    pub fn param(&self, key: &str) -> Result<f64, StrategyError> {
        self.spec.get(key)
    }
}

/// One step's batch: the labelled images and labels (source, or target for target-only), the unlabelled target
/// images, and the domain labels of the concatenated rows (0 labelled, 1 target) where there is a target.
#[derive(Debug, Clone, Copy)]
pub struct StepInputs<'a> {
    pub labelled: (&'a Tensor, &'a Tensor),
    pub target: Option<&'a Tensor>,
    pub domain: Option<&'a Tensor>,
    /// The target rows' indices into [`EpochStart::target`], where the batch was drawn from it (digit tasks).
    pub target_index: Option<&'a Tensor>,
    /// The labelled rows are this many equal blocks, one per training domain in order (domain generalisation);
    /// 1 on every task with one source.
    pub domains: i64,
}

impl<'a> StepInputs<'a> {
    /// The labelled batch as its domains' blocks, `(examples, classes)` each; an error naming `method` where the
    /// batch does not split into `domains` equal blocks.
    pub fn domain_blocks(&self, method: &str) -> Result<Vec<(Tensor, Tensor)>, StrategyError> {
        let (x, y) = self.labelled;
        let n = x.size()[0];
        if self.domains < 1 || n % self.domains != 0 {
            return Err(StrategyError::Other(format!(
                "{method} trains on source domains told apart, one equal block of the batch each; this batch has \
                 {n} rows in {} block(s)",
                self.domains
            )));
        }
        Ok(x.chunk(self.domains, 0)
            .into_iter()
            .zip(y.chunk(self.domains, 0))
            .collect())
    }

    /// The target images, or an error naming `method`.
    pub fn target(&self, method: &str) -> Result<&'a Tensor, StrategyError> {
        self.target
            .ok_or_else(|| StrategyError::Other(format!("{method} needs a target batch")))
    }

    /// The target images and domain labels, or an error naming `method`.
    pub fn adversarial(&self, method: &str) -> Result<(&'a Tensor, &'a Tensor), StrategyError> {
        match (self.target(method)?, self.domain) {
            (t, Some(d)) => Ok((t, d)),
            _ => Err(StrategyError::Other(format!("{method} needs a target batch"))),
        }
    }
}

/// The `N` optimisers of a method that steps several in turn, named in the error when there are not `N`.
pub fn named_optimisers<'o, const N: usize>(
    opts: &'o mut [Optimiser],
    method: &str,
    names: [&str; N],
) -> Result<&'o mut [Optimiser; N], StrategyError> {
    let n = opts.len();
    opts.try_into()
        .map_err(|_| StrategyError::Other(format!("{method} steps {N} optimisers ({}), got {n}", names.join(", "))))
}

/// The reversal weight lambda of a step: a host value (eager step) or a 0-dim device tensor (fast step, read
/// when the graph replays).
#[derive(Debug, Clone, Copy)]
pub enum Lambda<'a> {
    Host(f64),
    Device(&'a Tensor),
}

impl Lambda<'_> {
    /// The gradient reversal layer at this lambda: identity forward, `-lambda * grad` backward.
    pub fn reverse(&self, f: &Tensor) -> Result<Tensor, StrategyError> {
        let grl = shift_grl::GradientReversal;
        Ok(match self {
            Self::Host(l) => grl.apply(f, *l)?,
            Self::Device(l) => grl.apply_scaled(f, l)?,
        })
    }

    /// The gradient reversal layer at `scale * lambda` (MDD's reversal runs to a tenth of the schedule).
    pub fn reverse_scaled(&self, f: &Tensor, scale: f64) -> Result<Tensor, StrategyError> {
        let grl = shift_grl::GradientReversal;
        Ok(match self {
            Self::Host(l) => grl.apply(f, *l * scale)?,
            Self::Device(l) => grl.apply_scaled(f, &(*l * scale))?,
        })
    }

    /// `t * lambda`.
    pub fn weigh(&self, t: &Tensor) -> Tensor {
        match self {
            Self::Host(l) => t * *l,
            Self::Device(l) => t * *l,
        }
    }
}

/// A step's loss to back-propagate and its six metric values (0-dim, on the device): class loss, correct and
/// counted labelled rows, transfer loss, correct and counted rows of the transfer term (a discriminator's
/// accuracy; zeros where a method has none).
#[derive(Debug)]
pub struct Terms {
    pub loss: Tensor,
    pub metrics: [Tensor; 6],
}

/// An optimiser of a method: its checkpoint name (`opt.<name>.`), its update rule and its groups.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimiserSpec {
    pub name: &'static str,
    /// The method's own update rule for this optimiser, where its paper trains a part with another rule than
    /// the run's (ADDA's adaptation phase: Adam); None takes the run's (`train.optimiser`).
    pub update: Option<Update>,
    pub groups: Vec<GroupSpec>,
}

/// Where an epoch starts: its number, the step it starts at (0, or where a resumed run continues), and the
/// unlabelled target images where they are on the device (digit tasks; image-folder tasks stream theirs and give
/// None), for a method that pseudo-labels them.
#[derive(Debug, Clone, Copy)]
pub struct EpochStart<'a> {
    pub epoch: usize,
    /// The step of the epoch training starts at (0, or later on a resumed run).
    pub step: i64,
    /// The schedule: epochs of steps (a method in phases places them by it).
    pub epochs: usize,
    pub steps_per_epoch: i64,
    pub target: Option<&'a Tensor>,
    /// The labelled examples and their classes where they are on the device (digit tasks), for a method that
    /// reads them whole before its first step (DELTA's channel attention, Co-Tuning's class relationship).
    pub labelled: Option<(&'a Tensor, &'a Tensor)>,
}

impl EpochStart<'_> {
    /// The run's step about to be taken, counted from the schedule's start.
    pub fn global_step(&self) -> i64 {
        self.epoch as i64 * self.steps_per_epoch + self.step
    }

    /// The schedule's number of steps.
    pub fn total_steps(&self) -> i64 {
        self.epochs as i64 * self.steps_per_epoch
    }
}

/// A domain adaptation method on a backbone.
pub trait Method: fmt::Debug {
    /// The method's registry entry: its name, help, data needs and published numbers.
    fn info(&self) -> &'static MethodInfo;
    /// The registry name (`dann`, `cdan-e`).
    fn name(&self) -> &'static str {
        self.info().name
    }
    fn data(&self) -> DataNeeds {
        self.info().data
    }
    /// The optimisers over the backbone's groups `base` (feature extractor and classifier, with their
    /// learning-rate multipliers), the first stepped first; a joint method has one. The default is the one
    /// optimiser over the backbone, for a method that adds no networks; one that adds them includes their
    /// groups (`joint_optimiser(base, true)`). Each takes the run's update rule (`update: None`) unless the
    /// method's paper trains that part with another (`update: Some(..)`, ADDA's adaptation phase).
    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, false)
    }
    /// Whether the fast step can capture the step: [`Capture::Joint`] for a method whose step is its one
    /// [`loss`](Self::loss), else why not. No default: a method that overrides [`step`](Self::step) cannot
    /// inherit `Joint` by forgetting to say.
    fn capture(&self) -> Capture;
    /// The joint loss of one step (what [`Capture::Joint`] methods back-propagate once). Other methods
    /// override [`step`](Self::step) instead and keep this default, an error.
    fn loss(&self, _net: &dyn AdaptNet, _batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        Err(StrategyError::Invalid {
            field: "methods".into(),
            msg: format!("{} has no joint loss", self.name()),
        })
    }
    /// One eager step over `opts` (built from [`optimisers`](Self::optimisers), in that order); returns the
    /// metric values. The default is the joint step: zero the gradients, back-propagate [`loss`](Self::loss),
    /// step the one optimiser.
    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let terms = self.loss(net, batch, Lambda::Host(lambda))?;
        joint_update(opts, self.name(), terms, lr)
    }
    /// Before each epoch's first step (e.g. pseudo-labels of the target).
    fn on_epoch_start(&mut self, _net: &dyn AdaptNet, _at: &EpochStart) -> Result<(), StrategyError> {
        Ok(())
    }
    /// After each step's update (e.g. a teacher's moving average).
    fn after_step(&mut self, _net: &dyn AdaptNet) -> Result<(), StrategyError> {
        Ok(())
    }
    /// The base step size of the last step taken (before the groups' `lr_mult`), given the schedule's learning
    /// rate `scheduled` for it: what an epoch's record reports as `lr`. The default is the schedule's; a method
    /// whose optimisers step at a rate of their own (ADDA's adaptation phase) says so here.
    fn stepped_lr(&self, scheduled: f64) -> f64 {
        scheduled
    }
}

/// The metrics of a pretext step: no label loss and no correct label (the label predictor does not run) over the
/// batch's rows, then the pretext loss and its correct and counted rows.
pub fn pretext_terms(
    loss: Tensor,
    (correct, count): (Tensor, Tensor),
    rows: i64,
    device: shift_tensor::tch::Device,
) -> Terms {
    let zero = || Tensor::zeros([], (Kind::Float, device));
    Terms {
        metrics: [
            zero(),
            zero(),
            Tensor::full([], rows as f64, (Kind::Float, device)),
            loss.detach(),
            correct,
            count,
        ],
        loss,
    }
}

/// The trainable variables of `net` under `part.` (`features`, `classifier`), in name order.
pub fn trainable_under(net: &dyn AdaptNet, part: &str) -> Vec<(String, Tensor)> {
    let prefix = format!("{part}.");
    let mut vars: Vec<(String, Tensor)> = net
        .var_store()
        .variables()
        .into_iter()
        .filter(|(n, v)| n.starts_with(&prefix) && v.requires_grad())
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// The joint step's update for `terms` (computed on the current parameters): the one optimiser's gradients
/// zeroed, the loss back-propagated, one step at `lr`; returns the metrics. An error names `method` where there
/// is not exactly one optimiser.
pub fn joint_update(opts: &mut [Optimiser], method: &str, terms: Terms, lr: f64) -> Result<[Tensor; 6], StrategyError> {
    let [opt] = opts else {
        return Err(StrategyError::Other(format!(
            "{method}: a joint step has one optimiser, got {}",
            opts.len()
        )));
    };
    opt.zero_grad();
    terms.loss.backward();
    opt.step(lr);
    Ok(terms.metrics)
}

/// Cross-entropy of the label predictor, its correct count and the batch size (all 0-dim, on the device).
pub fn label_terms(logits: &Tensor, y: &Tensor) -> (Tensor, Tensor, Tensor) {
    let loss = logits.cross_entropy_for_logits(y);
    let correct = logits.argmax(-1, false).eq_tensor(y).sum(Kind::Float);
    let count = Tensor::full([], y.size()[0] as f64, (Kind::Float, y.device()));
    (loss, correct, count)
}

/// The mean cross-entropy of `logits` against class indices `y` in the logits' own precision, the rows whose
/// largest logit is their class, and the rows (0-dim each).
pub fn classification_terms(logits: &Tensor, y: &Tensor) -> (Tensor, Tensor, Tensor) {
    let k = logits.kind();
    let loss = logits.log_softmax(-1, k).nll_loss(y);
    let correct = logits.argmax(-1, false).eq_tensor(y).sum(Kind::Float);
    let count = Tensor::full([], y.size()[0] as f64, (Kind::Float, y.device()));
    (loss, correct, count)
}

/// Domain labels: 0 for the `ns` labelled rows, 1 for the `nt` target rows.
pub fn domain_labels(ns: i64, nt: i64, device: shift_tensor::tch::Device) -> Tensor {
    Tensor::cat(
        &[
            Tensor::zeros([ns], (Kind::Float, device)),
            Tensor::ones([nt], (Kind::Float, device)),
        ],
        0,
    )
}

/// Logistic loss of a domain discriminator's logits (weighted per row where `weight` is given: the mean of
/// `weight * loss`), its correct count and the batch size.
pub fn domain_terms(logits: &Tensor, labels: &Tensor, weight: Option<&Tensor>) -> (Tensor, Tensor, Tensor) {
    let loss = logits.binary_cross_entropy_with_logits::<&Tensor>(labels, weight, None, Reduction::Mean);
    let correct = logits.gt(0.0).to_kind(Kind::Float).eq_tensor(labels).sum(Kind::Float);
    let count = Tensor::full([], labels.size()[0] as f64, (Kind::Float, labels.device()));
    (loss, correct, count)
}

/// The label loss on the labelled rows (in the features' precision) plus a regulariser's weighted term `weighted` (reported as the transfer
/// loss, unweighted: `term`), with no transfer accuracy: the step of the fine-tuning regularisers.
pub fn regularised_terms(net: &dyn AdaptNet, f: &Tensor, ys: &Tensor, term: &Tensor, weighted: Tensor) -> Terms {
    let (lc, correct, count) = classification_terms(&net.classify(f, true), ys);
    let zero = || Tensor::zeros([], (Kind::Float, f.device()));
    Terms {
        metrics: [
            lc.detach().to_kind(Kind::Float),
            correct,
            count,
            term.detach().to_kind(Kind::Float),
            zero(),
            zero(),
        ],
        loss: lc + weighted,
    }
}

/// The label loss on the labelled rows alone, with zeros for the transfer metrics: the step of source-only and
/// target-only, and of any method's labelled part.
pub fn supervised_terms(net: &dyn AdaptNet, xs: &Tensor, ys: &Tensor) -> Terms {
    let (lc, correct, count) = label_terms(&net.classify(&net.features(xs, true), true), ys);
    let zero = || Tensor::zeros([], (Kind::Float, xs.device()));
    Terms {
        metrics: [lc.detach(), correct, count, zero(), zero(), zero()],
        loss: lc,
    }
}

/// A domain discriminator on the backbone's features, with the backbone's recipe, under `discriminator.`: what
/// DANN and its alternating form add.
pub fn feature_discriminator(ctx: &BuildContext) -> shift_models::DomainDiscriminator {
    let net = ctx.net;
    let p = net.var_store().root() / shift_models::DISCRIMINATOR;
    shift_models::DomainDiscriminator::new(&p, net.feature_dim(), &net.discriminator_shape())
}

/// The backbone's groups of one part (the feature extractor's, at their learning-rate multipliers).
pub fn groups_of(base: &[GroupSpec], part: shift_models::Part) -> Vec<GroupSpec> {
    base.iter().filter(|g| g.part == part).cloned().collect()
}

/// The usual single optimiser: the backbone's groups, plus the method's own networks where it has any.
pub fn joint_optimiser(base: &[GroupSpec], with_discriminator: bool) -> Vec<OptimiserSpec> {
    let mut groups = base.to_vec();
    if with_discriminator {
        groups.push(GroupSpec::part(shift_models::Part::Discriminator));
    }
    vec![OptimiserSpec {
        name: "main",
        update: None,
        groups,
    }]
}

/// The features of `[x_s; x_t]` in train mode: one pass, or, on a backbone with batch norm, one pass per domain
/// (each domain normalised by its own batch statistics, as the VADA and self-ensembling reference code run it).
/// The labelled rows' pass leaves the running statistics alone, so that evaluation on the target normalises by
/// target statistics.
pub fn features_of_both(net: &dyn AdaptNet, xs: &Tensor, xt: &Tensor) -> Tensor {
    if net.statistics().is_some() {
        let fs = held_statistics(net, || net.features(xs, true));
        Tensor::cat(&[fs, net.features(xt, true)], 0)
    } else {
        net.features(&Tensor::cat(&[xs, xt], 0), true)
    }
}

/// `f()` with the backbone's batch-norm running statistics held (passes of labelled rows, perturbed copies):
/// its batches are still normalised by their own statistics. The switch is restored however `f` ends, a panic
/// included.
pub fn held_statistics<T>(net: &dyn AdaptNet, f: impl FnOnce() -> T) -> T {
    /// Sets the switch back to what it was when dropped.
    struct Restore<'a>(&'a shift_models::batch_norm::StatisticsSwitch, bool);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            self.0.set(self.1);
        }
    }
    match net.statistics() {
        Some(switch) => {
            let _restore = Restore(switch, switch.tracking());
            switch.set(false);
            f()
        }
        None => f(),
    }
}

/// The labelled rows' logits of features `f` (the first `ns` rows; the rest are target rows). On a backbone with
/// batch norm the target rows pass the classifier as well, for its running statistics only.
pub fn labelled_logits(net: &dyn AdaptNet, f: &Tensor, ns: i64) -> Tensor {
    if net.statistics().is_some() {
        classify_both(net, f, ns).narrow(0, 0, ns)
    } else {
        net.classify(&f.narrow(0, 0, ns), true)
    }
}

/// Class logits of features `f` whose first `ns` rows are labelled: one pass, or, on a backbone with batch norm,
/// one per domain (the labelled pass holding the running statistics).
pub fn classify_both(net: &dyn AdaptNet, f: &Tensor, ns: i64) -> Tensor {
    if net.statistics().is_some() {
        let n = f.size()[0];
        let ls = held_statistics(net, || net.classify(&f.narrow(0, 0, ns), true));
        Tensor::cat(&[ls, net.classify(&f.narrow(0, ns, n - ns), true)], 0)
    } else {
        net.classify(f, true)
    }
}

/// The labelled and target rows through the backbone in one pass: the features and logits of all rows, the
/// first `ns` of them labelled.
#[derive(Debug)]
pub struct Forward {
    pub f: Tensor,
    pub logits: Tensor,
    pub ns: i64,
}

impl Forward {
    /// `[x_s; x_t]` through the features and the classifier (train mode); an error naming `method` without a
    /// target batch.
    pub fn of(net: &dyn AdaptNet, batch: &StepInputs, method: &str) -> Result<Self, StrategyError> {
        let (xs, _) = batch.labelled;
        let xt = batch.target(method)?;
        let f = features_of_both(net, xs, xt);
        let ns = xs.size()[0];
        let logits = classify_both(net, &f, ns);
        Ok(Self { f, logits, ns })
    }

    fn rows(t: &Tensor, ns: i64, source: bool) -> Tensor {
        let n = t.size()[0];
        if source {
            t.narrow(0, 0, ns)
        } else {
            t.narrow(0, ns, n - ns)
        }
    }

    /// (features, logits) of the labelled rows.
    pub fn source(&self) -> (Tensor, Tensor) {
        (
            Self::rows(&self.f, self.ns, true),
            Self::rows(&self.logits, self.ns, true),
        )
    }

    /// (features, logits) of the target rows.
    pub fn target(&self) -> (Tensor, Tensor) {
        (
            Self::rows(&self.f, self.ns, false),
            Self::rows(&self.logits, self.ns, false),
        )
    }
}

/// A joint method's step: the label loss on the labelled rows of `fwd` plus `trade_off * lambda * transfer`;
/// the metrics report the label terms and the unweighted transfer loss (no transfer accuracy: zeros).
pub fn label_plus_transfer(fwd: &Forward, ys: &Tensor, transfer: Tensor, trade_off: f64, lambda: Lambda) -> Terms {
    let (_, logits_s) = fwd.source();
    let (lc, correct, count) = label_terms(&logits_s, ys);
    let zero = || Tensor::zeros([], (Kind::Float, ys.device()));
    Terms {
        loss: lc.shallow_clone() + lambda.weigh(&(&transfer * trade_off)),
        metrics: [lc.detach(), correct, count, transfer.detach(), zero(), zero()],
    }
}
