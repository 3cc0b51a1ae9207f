//! The capture-ready train step: any method whose step is one joint loss ([`Capture::Joint`]) with static input
//! buffers, the learning rate and lambda in device tensors, the flat-buffer optimiser and on-device metrics, so
//! that on CUDA the whole step (forward, both losses, backward, update, metrics) is captured once in a CUDA
//! graph and replayed; the first replays are checked against the eager step ([`crate::replay_check`]).
//! Elsewhere, or where capture or the check fails, the same step runs eagerly (with a message).

use crate::methods::{
    domain_labels, BuildContext, Capture, EpochStart, Lambda, Method, MethodName, MethodSpec, StepInputs, Terms,
};
use crate::metrics::DeviceMetrics;
use crate::replay_check::{check_replay, ReplayCheck, CHECKED_REPLAYS};
use crate::state::{load_model_state, model_state};
use crate::strategy::backbone_groups;
use crate::{
    error::StrategyError, flat_sgd::FlatSgd, metrics::StepMetrics, optimiser::GroupSpec, optimiser::Update,
    strategy::IndexedBatch, strategy::StepBatch, strategy::Strategy,
};
use shift_models::AdaptNet;
use shift_tensor::tch::{Device, Kind, Tensor};
use shift_tensor::{CudaGraph, SideStream};

/// Which train step a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// [`Adapt`](crate::strategy::Adapt): per-tensor SGD, host-side schedules.
    #[default]
    Eager,
    /// [`FastAdapt`]: flat optimiser, device-side schedules, a CUDA graph on CUDA.
    Fast,
}

impl std::str::FromStr for StepKind {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "eager" => Ok(Self::Eager),
            "fast" => Ok(Self::Fast),
            _ => Err(StrategyError::Invalid {
                field: "step".into(),
                msg: format!("unknown step `{s}` (known: eager, fast)"),
            }),
        }
    }
}

impl StepKind {
    /// A strategy for the method `name` on `net` with this step and the optimiser `update` over the backbone's usual
    /// groups ([`backbone_groups`], features at 1x). Also returns, for the caller to print, why a fast step
    /// runs eagerly where it does.
    pub fn build<N: AdaptNet + 'static>(
        self,
        net: N,
        method: impl Into<MethodSpec>,
        update: Update,
    ) -> Result<(Box<dyn Strategy>, Option<String>), StrategyError> {
        self.build_with(net, method, &backbone_groups(1.0), update)
    }

    /// The same over the backbone's groups `base` (the method adds its own networks' groups). Freezing what
    /// they leave out is the caller's business ([`freeze_outside`](crate::optimiser::freeze_outside)).
    pub fn build_with<N: AdaptNet + 'static>(
        self,
        net: N,
        method: impl Into<MethodSpec>,
        base: &[GroupSpec],
        update: Update,
    ) -> Result<(Box<dyn Strategy>, Option<String>), StrategyError> {
        let spec = method.into();
        let method = spec.name.build(&BuildContext { net: &net, spec: &spec })?;
        Ok(match self {
            Self::Eager => (Box::new(crate::strategy::Adapt::new(net, method, base, update)?), None),
            Self::Fast => {
                let mut fast = FastAdapt::new(net, method, base, update)?;
                let note = fast.take_note();
                (Box::new(fast), note)
            }
        })
    }
}

/// Refuses, before anything runs, a method the fast step cannot capture: the same check as [`FastAdapt::new`],
/// made on a method built on a throw-away CPU digit net (the capture and optimiser layout do not depend on it).
pub fn check_capturable(name: MethodName) -> Result<(), StrategyError> {
    let net = shift_models::digit::DigitNet::new(Device::Cpu);
    let spec = MethodSpec::from(name);
    let method = name.build(&BuildContext { net: &net, spec: &spec })?;
    capture_refusal(method.as_ref(), &backbone_groups(1.0)).map_or(Ok(()), Err)
}

/// Why the fast step cannot capture `method` over `base`, if it cannot.
fn capture_refusal(method: &dyn Method, base: &[GroupSpec]) -> Option<StrategyError> {
    let why = match method.capture() {
        Capture::No(why) => why.to_string(),
        Capture::Joint => match method.optimisers(base).len() {
            1 => return None,
            n => format!("it has {n} optimisers"),
        },
    };
    Some(StrategyError::Invalid {
        field: "step".into(),
        msg: format!(
            "the fast step captures one joint loss; {} cannot be captured: {why}",
            method.name()
        ),
    })
}

/// Eager steps before capture (cuDNN/cuBLAS choose their kernels and workspaces outside the graph).
pub const WARMUP_STEPS: usize = 3;

/// How steps run.
#[derive(Debug)]
enum Mode {
    /// On CUDA: eager on the side stream until `WARMUP_STEPS` steps ran with the current shapes, then captured
    /// there.
    Warming(usize, SideStream),
    /// Replaying; the next `usize` replays are first checked against the eager step ([`check_replay`]).
    Captured(CudaGraph, usize),
    /// Not capturable here (CPU, or capture failed): eager for good.
    Eager,
}

/// Where the step reads its batch: fixed-address tensors only, so that a captured graph stays valid.
#[derive(Debug)]
enum Inputs {
    /// Buffers the caller's batch is copied into before each step.
    Copied {
        xs: Tensor,
        ys: Tensor,
        xt: Option<Tensor>,
        domain: Option<Tensor>,
    },
    /// The device-resident data and index buffers: the step gathers its own rows (inside the graph), so per
    /// step only the step number, lr and lambda are written from the host.
    Indexed {
        x: Tensor,
        y: Tensor,
        order: Tensor,
        /// Target images and the draws buffer.
        target: Option<(Tensor, Tensor)>,
        step: Tensor,
        rows: Tensor,
        batch: i64,
        /// The epoch whose order and draws the buffers hold.
        epoch: usize,
        domain: Option<Tensor>,
    },
}

impl Inputs {
    /// Whether a copied batch has the shapes of these buffers (a target batch counts only for adversarial methods).
    fn fits(&self, batch: &StepBatch, adversarial: bool) -> bool {
        match self {
            Self::Copied { xs, ys, xt, .. } => {
                xs.size() == batch.labelled.0.size()
                    && ys.size() == batch.labelled.1.size()
                    && xt.as_ref().map(Tensor::size) == batch.unlabelled.filter(|_| adversarial).map(Tensor::size)
            }
            Self::Indexed { .. } => false,
        }
    }

    /// Whether an indexed batch reads the same data with the same shapes as these buffers.
    fn fits_indexed(&self, b: &IndexedBatch, adversarial: bool) -> bool {
        let same = |t: &Tensor, u: &Tensor| t.data_ptr() == u.data_ptr() && t.size() == u.size();
        match self {
            Self::Indexed {
                x,
                y,
                order,
                target,
                batch,
                ..
            } => {
                same(x, &b.labelled.x)
                    && same(y, &b.labelled.y)
                    && *batch == b.batch
                    && order.size() == b.order.size()
                    && match (target, b.unlabelled.filter(|_| adversarial)) {
                        (Some((tx, draws)), Some((u, d))) => same(tx, &u.x) && draws.size() == d.size(),
                        (None, None) => true,
                        _ => false,
                    }
            }
            Self::Copied { .. } => false,
        }
    }

    /// This step's (source images, labels, target images, domain labels), read from the fixed-address tensors.
    fn batch(&self) -> (Tensor, Tensor, Option<Tensor>, Option<Tensor>) {
        match self {
            Self::Copied { xs, ys, xt, domain } => (
                xs.shallow_clone(),
                ys.shallow_clone(),
                xt.as_ref().map(Tensor::shallow_clone),
                domain.as_ref().map(Tensor::shallow_clone),
            ),
            Self::Indexed {
                x,
                y,
                order,
                target,
                step,
                rows,
                batch,
                domain,
                ..
            } => {
                // The rows `order[step*batch..][..batch]` (what `DigitBatcher::batch` takes), without a host value.
                let pos = rows + step * *batch;
                let idx = order.index_select(0, &pos);
                let xt = target
                    .as_ref()
                    .map(|(tx, draws)| tx.index_select(0, &draws.index_select(0, &pos)));
                (
                    x.index_select(0, &idx),
                    y.index_select(0, &idx),
                    xt,
                    domain.as_ref().map(Tensor::shallow_clone),
                )
            }
        }
    }
}

#[derive(Debug)]
pub struct FastAdapt<N: AdaptNet> {
    pub net: N,
    method: Box<dyn Method>,
    opt: FlatSgd,
    lr: Tensor,
    lambda: Tensor,
    inputs: Option<Inputs>,
    metrics: DeviceMetrics,
    mode: Mode,
    /// Why the graph is not used from the start (for the caller to print once).
    note: Option<String>,
    /// Why the step runs eagerly, once it does (from the start, after a failed capture, or after a replay that
    /// differed): recorded in the run's config.json, result.json and table.
    fallback: Option<String>,
    /// The replay checks made so far.
    checks: Vec<ReplayCheck>,
}

impl<N: AdaptNet> FastAdapt<N> {
    /// A built `method` on `net`, with one flat optimiser over the method's groups of the backbone's `base`.
    /// A method whose step is not one joint loss over one optimiser is refused, naming it and why: the fast
    /// step never trains a method as another.
    pub fn new(net: N, method: Box<dyn Method>, base: &[GroupSpec], update: Update) -> Result<Self, StrategyError> {
        if let Some(refusal) = capture_refusal(method.as_ref(), base) {
            return Err(refusal);
        }
        let spec = method.optimisers(base).remove(0);
        let opt = FlatSgd::new(net.var_store(), &spec.groups, spec.update.unwrap_or(update))?;
        let device = net.var_store().device();
        let scalar = || Tensor::zeros([], (Kind::Float, device));
        let (mode, note) = match device {
            Device::Cuda(_) => match SideStream::new(device) {
                Ok(side) => (Mode::Warming(0, side), None),
                Err(e) => (
                    Mode::Eager,
                    Some(format!(
                        "no side stream for CUDA graphs ({e}); the fast step runs eagerly"
                    )),
                ),
            },
            _ => (
                Mode::Eager,
                Some(format!(
                    "CUDA graphs need a CUDA device; the fast step runs eagerly on {device:?}"
                )),
            ),
        };
        Ok(Self {
            metrics: DeviceMetrics::new(device),
            lr: scalar(),
            lambda: scalar(),
            net,
            method,
            opt,
            inputs: None,
            mode,
            fallback: note.clone(),
            note,
            checks: Vec::new(),
        })
    }

    /// Whether steps now replay a captured CUDA graph.
    pub fn is_captured(&self) -> bool {
        matches!(self.mode, Mode::Captured(..))
    }

    /// The checks of replays against the eager step made so far (after each capture).
    pub fn replay_checks(&self) -> &[ReplayCheck] {
        &self.checks
    }

    /// Why steps run eagerly, if they do (printed once by the caller).
    pub fn take_note(&mut self) -> Option<String> {
        self.note.take()
    }

    /// Sets new inputs; a captured graph read the old ones, so it is dropped (and captured again after warm-up).
    fn replace_inputs(&mut self, inputs: Inputs) -> Result<(), StrategyError> {
        self.inputs = Some(inputs);
        if matches!(self.mode, Mode::Captured(..)) {
            let device = self.net.var_store().device();
            self.mode = Mode::Warming(0, SideStream::new(device)?);
        }
        Ok(())
    }

    /// Copies the batch into the fixed-address inputs (reallocated when shapes change).
    fn load(&mut self, batch: &StepBatch) -> Result<(), StrategyError> {
        let (xs, ys) = batch.labelled;
        let adversarial = self.method.data().unlabelled_target;
        if adversarial && batch.unlabelled.is_none() {
            return Err(StrategyError::Other(format!(
                "{} needs a target batch",
                self.method.name()
            )));
        }
        if !self.inputs.as_ref().is_some_and(|i| i.fits(batch, adversarial)) {
            let xt = batch.unlabelled.filter(|_| adversarial).map(Tensor::copy);
            let domain = xt
                .as_ref()
                .map(|t| domain_labels(xs.size()[0], t.size()[0], xs.device()));
            self.replace_inputs(Inputs::Copied {
                xs: xs.copy(),
                ys: ys.copy(),
                xt,
                domain,
            })?;
            return Ok(());
        }
        if let Some(Inputs::Copied {
            xs: dx, ys: dy, xt: dt, ..
        }) = self.inputs.as_mut()
        {
            dx.copy_(xs);
            dy.copy_(ys);
            if let (Some(dst), Some(src)) = (dt.as_mut(), batch.unlabelled) {
                dst.copy_(src);
            }
        }
        Ok(())
    }

    /// Points the inputs at the indexed batch: new buffers when the data or shapes change, the epoch's order and
    /// draws copied in when the epoch changes, and the step number written.
    fn load_indexed(&mut self, b: &IndexedBatch) -> Result<(), StrategyError> {
        let adversarial = self.method.data().unlabelled_target;
        if adversarial && b.unlabelled.is_none() {
            return Err(StrategyError::Other(format!(
                "{} needs a target batch",
                self.method.name()
            )));
        }
        let device = b.labelled.x.device();
        if !self.inputs.as_ref().is_some_and(|i| i.fits_indexed(b, adversarial)) {
            let target = b
                .unlabelled
                .filter(|_| adversarial)
                .map(|(u, d)| (u.x.shallow_clone(), d.copy()));
            let domain = target.as_ref().map(|_| domain_labels(b.batch, b.batch, device));
            self.replace_inputs(Inputs::Indexed {
                x: b.labelled.x.shallow_clone(),
                y: b.labelled.y.shallow_clone(),
                order: b.order.copy(),
                target,
                step: Tensor::zeros([], (Kind::Int64, device)),
                rows: Tensor::arange(b.batch, (Kind::Int64, device)),
                batch: b.batch,
                epoch: b.epoch,
                domain,
            })?;
        }
        if let Some(Inputs::Indexed {
            order,
            target,
            step,
            epoch,
            ..
        }) = self.inputs.as_mut()
        {
            if *epoch != b.epoch {
                order.copy_(b.order);
                if let (Some((_, draws)), Some((_, d))) = (target.as_mut(), b.unlabelled) {
                    draws.copy_(d);
                }
                *epoch = b.epoch;
            }
            let _ = step.fill_(b.step);
        }
        Ok(())
    }

    /// Runs the step on the loaded inputs: eagerly, or captured once and replayed.
    fn run(&mut self, lr: f64, lambda: f64) -> Result<(), StrategyError> {
        let _ = self.lr.fill_(lr);
        let _ = self.lambda.fill_(lambda);
        match std::mem::replace(&mut self.mode, Mode::Eager) {
            Mode::Captured(graph, 0) => {
                graph.replay()?;
                self.mode = Mode::Captured(graph, 0);
            }
            Mode::Captured(graph, left) => self.checked_replay(graph, left)?,
            Mode::Warming(n, side) if n < WARMUP_STEPS => {
                side.run(|| self.body())?;
                self.mode = Mode::Warming(n + 1, side);
            }
            Mode::Warming(_, side) => {
                match CudaGraph::capture(&side, || self.body()) {
                    // Capture records without running: this step happens at the first (checked) replay.
                    Ok(graph) => self.checked_replay(graph, CHECKED_REPLAYS)?,
                    Err(e) => {
                        // Said here, once: the run goes on with the same step, eagerly.
                        let why = format!("CUDA-graph capture failed ({e}); the fast step runs eagerly");
                        eprintln!("shift: {why}");
                        self.fallback = Some(why);
                        self.body()?;
                    }
                }
            }
            Mode::Eager => self.body()?,
        }
        self.metrics.step_done();
        Ok(())
    }

    /// This step by replaying `graph`, checked against the eager step from the same state (run twice, for its
    /// run-to-run noise); `left` checks remain (this one included). A replay that disagrees is said once and the
    /// run continues eagerly, from the eager step's result.
    fn checked_replay(&mut self, graph: CudaGraph, left: usize) -> Result<(), StrategyError> {
        let [params, bufs] = self.opt.buffers();
        let state = [params, bufs, self.metrics.accumulator()];
        let check = check_replay(&state, || self.body(), || Ok(graph.replay()?))?;
        self.checks.push(check);
        if check.passed() {
            self.mode = Mode::Captured(graph, left - 1);
        } else {
            let why = format!(
                "the CUDA graph's step differs from the eager step (relative difference {:.2e}, tolerance \
                 {:.2e}, eager run to run {:.2e}); the fast step runs eagerly",
                check.difference, check.tolerance, check.eager_noise
            );
            eprintln!("shift: {why}");
            self.fallback = Some(why);
        }
        Ok(())
    }

    /// The step itself, reading only fixed-address tensors: what is captured.
    fn body(&mut self) -> Result<(), StrategyError> {
        let inputs = self.inputs.as_ref().expect("inputs are loaded before the step");
        let (xs, ys, xt, domain) = inputs.batch();
        self.opt.zero_grad();
        let inputs = StepInputs {
            domains: 1,
            labelled: (&xs, &ys),
            target: xt.as_ref(),
            domain: domain.as_ref(),
            target_index: None,
        };
        let Terms { loss, metrics } = self.method.loss(&self.net, &inputs, Lambda::Device(&self.lambda))?;
        loss.backward();
        self.opt.step_on_device(&self.lr);
        self.metrics.add(&metrics);
        Ok(())
    }
}

impl<N: AdaptNet> Strategy for FastAdapt<N> {
    fn method(&self) -> &dyn Method {
        self.method.as_ref()
    }

    fn train_step(&mut self, batch: &StepBatch, lr: f64, lambda: f64) -> Result<(), StrategyError> {
        self.load(batch)?;
        self.run(lr, lambda)?;
        self.method.after_step(&self.net)
    }

    /// Gathers the batch inside the step (and so inside the graph): the host writes only step, lr and lambda.
    fn train_step_indexed(&mut self, batch: &IndexedBatch, lr: f64, lambda: f64) -> Result<(), StrategyError> {
        self.load_indexed(batch)?;
        self.run(lr, lambda)?;
        self.method.after_step(&self.net)
    }

    fn on_epoch_start(&mut self, at: &EpochStart) -> Result<(), StrategyError> {
        self.method.on_epoch_start(&self.net, at)
    }

    fn take_metrics(&mut self) -> Result<StepMetrics, StrategyError> {
        self.metrics.take()
    }

    fn fallback(&self) -> Option<String> {
        self.fallback.clone()
    }

    fn network(&self) -> &dyn AdaptNet {
        &self.net
    }

    /// The same names as [`Adapt`](crate::strategy::Adapt)'s state, so checkpoints move between the two steps.
    fn state(&self) -> Vec<(String, Tensor)> {
        let mut named: Vec<(String, Tensor)> = model_state(&self.net).into_iter().map(|(n, t)| (n, t.copy())).collect();
        named.extend(self.opt.state("opt.main."));
        named.extend(self.metrics.state());
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    }

    fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
        load_model_state(&self.net, named)?;
        self.opt.load_state("opt.main.", named)?;
        self.metrics.load(named)
    }
}

/// `shift info --self-test` on a CUDA device: a DANN step on the digit net (synthetic data, batches gathered in
/// the step) warmed up, captured, and replayed past its checks. Ok with what happened, Err with why the fast step
/// would run eagerly here (on a CPU: that there are no CUDA graphs).
pub fn capture_self_test(device: Device) -> Result<String, String> {
    let fail = |e: StrategyError| e.to_string();
    shift_tensor::seed_everything(0);
    let net = shift_models::digit::DigitNet::new(device);
    let spec = MethodSpec::from(MethodName::DANN);
    let dann = MethodName::DANN
        .build(&BuildContext { net: &net, spec: &spec })
        .map_err(fail)?;
    let mut fast = FastAdapt::new(net, dann, &backbone_groups(1.0), Update::sgd(0.9, 0.0)).map_err(fail)?;
    if let Some(note) = fast.take_note() {
        return Err(note);
    }
    let data = crate::synthetic::SyntheticDigits::new(512, 64, device);
    let steps = WARMUP_STEPS + CHECKED_REPLAYS + 3;
    for step in 0..steps as i64 {
        let batch = data.batch(step);
        let p = step as f64 / steps as f64;
        fast.train_step_indexed(&batch, 0.01 / (1.0 + 10.0 * p).powf(0.75), 0.5 * p)
            .map_err(fail)?;
    }
    let loss = fast.take_metrics().map_err(fail)?.class_loss;
    let worst = fast.replay_checks().iter().map(|c| c.difference).fold(0.0, f64::max);
    match (fast.is_captured(), fast.replay_checks().len()) {
        (true, checked) if checked == CHECKED_REPLAYS && loss.is_finite() => Ok(format!(
            "captured after {WARMUP_STEPS} steps; {checked} replays equal the eager step (largest difference \
             {worst:.1e}); {steps} steps, loss {loss:.3}"
        )),
        (true, _) => Err(format!("captured, but the checks or the loss are off (loss {loss})")),
        (false, 0) => Err("the capture failed (message above); the fast step runs eagerly".into()),
        (false, _) => Err(format!(
            "a replay differed from the eager step (difference {worst:.1e}); the fast step runs eagerly"
        )),
    }
}
