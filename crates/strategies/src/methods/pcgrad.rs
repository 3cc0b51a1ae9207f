//! PCGrad (Yu, Kumar, Gupta, Levine, Hausman & Finn, "Gradient surgery for multi-task learning", NeurIPS 2020):
//! where two tasks' gradients on the shared parameters conflict (negative inner product), each is projected onto
//! the other's normal plane before they are summed (the paper's Algorithm 1):
//!
//! ```text
//! for each task i:  g_i' = g_i;  for each other task j, in a random order:
//!                       if <g_i', g_j> < 0:  g_i' -= <g_i', g_j> / |g_j|^2 g_j
//! shared update     = sum_i g_i'
//! ```
//!
//! The task-specific heads take their own gradients unchanged. The tasks' losses are the equal weighting's (`1 /
//! T` each, `methods::equal_weights`), so that without a conflict a step is exactly the equal weighting's. The
//! orders are drawn from libtorch's generator (the step's seed). The transfer metric is the share of task pairs
//! whose gradients conflicted at the step.

use super::multi_task::TaskForward;
use super::{trainable_under, Capture, DataNeeds, Method, MethodInfo, StepInputs};
use crate::error::StrategyError;
use crate::optimiser::Optimiser;
use shift_models::{AdaptNet, FEATURES};
use shift_tensor::tch::{no_grad, Device, Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "pcgrad",
    help: "PCGrad: conflicting task gradients projected onto each other's normal plane (Yu et al., NeurIPS 2020)",
    data: DataNeeds::TASKS,
    build: |_| Ok(Box::new(PcGrad)),
    published: &[],
    params: &[],
};

/// Algorithm 1's sum of the projected gradients `g` (`[T, P]`), task `i` projected against the others in the
/// order `orders[i]` (each a permutation of the tasks but `i`), and the share of ordered pairs that conflicted.
pub fn project_conflicts(g: &Tensor, orders: &[Vec<usize>]) -> (Tensor, Tensor) {
    let t = g.size()[0];
    let mut total = g.get(0).zeros_like();
    let mut conflicts = Tensor::zeros([], (Kind::Float, g.device()));
    for (i, order) in orders.iter().enumerate() {
        // A copy: the projection below works in place, and g must stay as it was.
        let mut gi = g.get(i as i64).copy();
        for &j in order {
            let gj = g.get(j as i64);
            let dot = (&gi * &gj).sum(g.kind());
            // Projected only where they conflict (a task whose gradient is 0 conflicts with none).
            let conflict = dot.lt(0.0);
            let coef = (&dot / gj.square().sum(g.kind())).where_self(&conflict, &dot.zeros_like());
            gi -= coef * &gj;
            conflicts += conflict.to_kind(Kind::Float);
        }
        total += gi;
    }
    let pairs = (t * (t - 1)).max(1) as f64;
    (total, conflicts / pairs)
}

/// For each of `t` tasks, the other tasks in an order drawn from libtorch's generator.
pub fn draw_orders(t: usize) -> Result<Vec<Vec<usize>>, StrategyError> {
    (0..t)
        .map(|i| {
            let perm = Vec::<i64>::try_from(Tensor::randperm(t as i64, (Kind::Int64, Device::Cpu)))
                .map_err(|e| StrategyError::Other(format!("pcgrad: cannot read the drawn task order: {e}")))?;
            Ok(perm.into_iter().map(|j| j as usize).filter(|&j| j != i).collect())
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct PcGrad;

impl Method for PcGrad {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("PCGrad takes one backward pass per task and sets the shared gradients itself")
    }

    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        _lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let [opt] = opts else {
            return Err(StrategyError::Other(format!(
                "{}: a joint step has one optimiser, got {}",
                self.name(),
                opts.len()
            )));
        };
        let fwd = TaskForward::of(net, batch, self.name())?;
        let losses = fwd.losses();
        let scaled: Vec<Tensor> = losses.iter().map(|l| l / losses.len() as f64).collect();
        let shared = trainable_under(net, FEATURES);
        let params: Vec<&Tensor> = shared.iter().map(|(_, v)| v).collect();
        let rows = scaled
            .iter()
            .map(|l| {
                let g = Tensor::f_run_backward(&[l], &params, true, false)
                    .map_err(|e| StrategyError::Other(format!("{}: a task's gradient failed: {e}", self.name())))?;
                Ok(Tensor::cat(&g.iter().map(|t| t.flatten(0, -1)).collect::<Vec<_>>(), 0))
            })
            .collect::<Result<Vec<_>, StrategyError>>()?;
        let (surgery, conflicts) = project_conflicts(&Tensor::stack(&rows, 0), &draw_orders(losses.len())?);
        let loss = super::equal_weights::mean_of(&losses);
        let terms = fwd.terms(loss.shallow_clone(), &losses, &conflicts);
        opt.zero_grad();
        loss.backward();
        no_grad(|| {
            let mut at = 0;
            for p in &params {
                let n = p.numel() as i64;
                p.grad().copy_(&surgery.narrow(0, at, n).view_as(p));
                at += n;
            }
        });
        opt.step(lr);
        Ok(terms.metrics)
    }
}
