//! L2-SP (Li, Grandvalet & Davoine, ICML 2018): fine-tuning with the weights pulled towards their pretrained
//! values, the starting point (SP), instead of towards zero:
//!
//! ```text
//! L = CE(C(F(x_t)), y_t) + alpha * 0.5 |w_F - w_F^0|^2 + beta * 0.5 |w_C - w_C^0|^2
//! ```
//!
//! over every trainable variable of the feature extractor F and the label predictor C (sums, not means), `w^0`
//! the weights the run started from, kept as a frozen copy under `teacher.` (so a resumed run pulls towards the
//! same start). The paper's `beta` term decays the new head's weights towards zero; the digits' label predictor
//! is pretrained on the same ten classes, so it is pulled to its start like the rest. Defaults: TLlib's
//! (`examples/task_adaptation/image_classification/delta.py --regularization-type l2_sp`: trade-offs 0.01 and
//! 0.01, no weight decay).

use super::teacher::Teacher;
use super::{regularised_terms, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, Param, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::{AdaptNet, CLASSIFIER, FEATURES};

const TLLIB: &str = "Transfer-Learning-Library, examples/task_adaptation/image_classification/delta.py (l2_sp)";

/// The registry entry. TLlib's numbers are ResNet-50 on CUB, Cars and Aircraft: another protocol.
pub static INFO: MethodInfo = MethodInfo {
    name: "l2-sp",
    help: "L2-SP: fine-tuning with the weights pulled towards their pretrained start (Li et al., ICML 2018)",
    data: DataNeeds::FINETUNING,
    build: |c| Ok(Box::new(L2Sp::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative("alpha", 0.01, TLLIB),
        Param::non_negative("beta", 0.01, TLLIB),
    ],
};

#[derive(Debug)]
pub struct L2Sp {
    start: Teacher,
    alpha: f64,
    beta: f64,
}

impl L2Sp {
    /// The start is the network as the method is built on it (the fine-tuning run loads its checkpoint first).
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            start: Teacher::new(ctx.net, INFO.name)?,
            alpha: ctx.param("alpha")?,
            beta: ctx.param("beta")?,
        })
    }
}

impl Method for L2Sp {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    /// The transfer loss reported is the whole penalty, `alpha * 0.5 |.|^2 + beta * 0.5 |.|^2`.
    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (x, y) = batch.labelled;
        let penalty =
            self.start.half_squared_distance(FEATURES) * self.alpha + self.start.half_squared_distance(CLASSIFIER) * self.beta;
        let f = net.features(x, true);
        Ok(regularised_terms(net, &f, y, &penalty, penalty.shallow_clone()))
    }
}
