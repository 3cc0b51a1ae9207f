//! MGDA-UB (Sener & Koltun, "Multi-task learning as multi-objective optimization", NeurIPS 2018): each step
//! descends along the minimum-norm convex combination of the tasks' gradients, a direction that decreases every
//! task's loss at once (the multiple-gradient descent algorithm, Désidéri 2012), with the gradients taken at the
//! shared representation `z = f(x)` rather than at the shared parameters (their upper bound, Section 3.3: one
//! backward pass through the trunk instead of one per task):
//!
//! ```text
//! g_t = d CE_t / d z                      (each task's loss through its own head only)
//! a   = argmin_{a in simplex} | sum_t a_t g_t |^2          (methods::min_norm)
//! L   = sum_t a_t CE_t                    (back-propagated through heads and trunk)
//! ```
//!
//! One forward pass serves both the gradients and the update, so its dropout masks are the ones the weights were
//! solved for (as the reference code reuses them, `multi_task/train_multi_task.py`, `use_approximation`). No
//! gradient normalisation (the paper's algorithm, and its authors' MultiMNIST setting). The transfer metric is
//! task 0's weight `a_0`.

use super::min_norm::min_norm_weights;
use super::multi_task::TaskForward;
use super::{Capture, DataNeeds, Method, MethodInfo, StepInputs};
use crate::error::StrategyError;
use crate::optimiser::Optimiser;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "mgda-ub",
    help: "MGDA-UB: the min-norm combination of the tasks' gradients at the shared representation (Sener & Koltun, NeurIPS 2018)",
    data: DataNeeds::TASKS,
    build: |_| Ok(Box::new(MgdaUb)),
    published: &[],
    params: &[],
};

/// Each of `losses`' gradient with respect to `z`, flattened, as the rows of one `[T, numel(z)]` tensor.
pub fn gradients_at(losses: &[Tensor], z: &Tensor, method: &str) -> Result<Tensor, StrategyError> {
    let rows = losses
        .iter()
        .map(|l| {
            let g = Tensor::f_run_backward(&[l], &[z], true, false)
                .map_err(|e| StrategyError::Other(format!("{method}: a task's gradient failed: {e}")))?;
            Ok(g[0].flatten(0, -1))
        })
        .collect::<Result<Vec<_>, StrategyError>>()?;
    Ok(Tensor::stack(&rows, 0))
}

/// The min-norm weights of the gradients `g` (`[T, P]`, one row per task), read to the host in f64.
pub fn min_norm_of(g: &Tensor, method: &str) -> Result<Vec<f64>, StrategyError> {
    let g = g.to_kind(Kind::Double);
    let t = g.size()[0] as usize;
    let flat = Vec::<f64>::try_from(g.matmul(&g.transpose(0, 1)).flatten(0, -1))
        .map_err(|e| StrategyError::Other(format!("{method}: cannot read the gradients' Gram matrix: {e}")))?;
    let gram: Vec<Vec<f64>> = flat.chunks(t).map(<[f64]>::to_vec).collect();
    Ok(min_norm_weights(&gram)?.0)
}

#[derive(Debug, Default)]
pub struct MgdaUb;

impl Method for MgdaUb {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("MGDA-UB solves for its task weights on the host at every step")
    }

    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        _lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let fwd = TaskForward::of(net, batch, self.name())?;
        let losses = fwd.losses();
        let a = min_norm_of(&gradients_at(&losses, &fwd.features, self.name())?, self.name())?;
        let loss = losses
            .iter()
            .zip(&a)
            .map(|(l, &w)| l * w)
            .reduce(|x, y| x + y)
            .ok_or_else(|| StrategyError::Other(format!("{}: no task", self.name())))?;
        let a0 = Tensor::full([], a[0], (Kind::Float, loss.device()));
        let terms = fwd.terms(loss, &losses, &a0);
        super::joint_update(opts, self.name(), terms, lr)
    }
}
