//! The single-task baseline of multitask learning (Sener & Koltun, NeurIPS 2018, "single task"): the multitask
//! net trained on one task's cross-entropy alone, `L = CE(h_k(f(x)), y_k)` for the task `k = params.single-task.task`
//! (0-based, in the labels' column order); the other heads receive no gradient. One run per task gives the row.

use super::multi_task::TaskForward;
use super::{BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, Param, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "single-task",
    help: "Single task: the multitask net trained on one task's loss alone (params.single-task.task)",
    data: DataNeeds::TASKS,
    build: |c| Ok(Box::new(SingleTask::new(c)?)),
    published: &[],
    params: &[Param::index("task", 0.0, "the task trained, 0-based in the labels' column order")],
};

#[derive(Debug)]
pub struct SingleTask {
    task: usize,
}

impl SingleTask {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let task = ctx.param("task")?;
        let tasks = ctx.net.tasks();
        if task >= tasks as f64 {
            return Err(StrategyError::Invalid {
                field: "params.single-task.task".into(),
                msg: format!("the net has {tasks} task(s), 0..{}; got {task}", tasks - 1),
            });
        }
        Ok(Self { task: task as usize })
    }
}

impl Method for SingleTask {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = TaskForward::of(net, batch, self.name())?;
        let losses = fwd.losses();
        let loss = losses[self.task].shallow_clone();
        let task = Tensor::full([], self.task as f64, (Kind::Float, loss.device()));
        Ok(fwd.terms(loss, &losses, &task))
    }
}
