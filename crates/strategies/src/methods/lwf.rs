//! LWF (Li & Hoiem, TPAMI 2017): learning without forgetting. While the network learns the target, the
//! pretrained label predictor, read off the new features, must keep giving what the pretrained network gives:
//!
//! ```text
//! L = CE(C(F(x_t)), y_t) + lambda_o * KL( softmax(C0(F0(x_t)) / T) || softmax(C0(F(x_t)) / T) )
//! ```
//!
//! the KL divergence a mean over the batch (PyTorch's `KLDivLoss(reduction="batchmean")`, no `T^2` factor, as
//! TLlib's `knowledge_distillation.py`), `F0, C0` the pretrained network frozen under `teacher.`; the gradient
//! reaches F through the frozen old head. TLlib computes the old outputs once, before training, on augmented
//! images; here the frozen copy computes them for each batch (the digits are not augmented, so they are the
//! same values). Defaults: TLlib's (`examples/task_adaptation/image_classification/lwf.py`: T = 3, trade-off 4).

use super::teacher::Teacher;
use super::{regularised_terms, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, Param, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Reduction, Tensor};

const TLLIB: &str = "Transfer-Learning-Library, examples/task_adaptation/image_classification/lwf.py";

/// The registry entry. TLlib's numbers are ResNet-50 on CUB, Cars and Aircraft: another protocol.
pub static INFO: MethodInfo = MethodInfo {
    name: "lwf",
    help: "LWF: fine-tuning that keeps the pretrained head's outputs, learning without forgetting (Li & Hoiem, TPAMI 2017)",
    data: DataNeeds::FINETUNING,
    build: |c| Ok(Box::new(Lwf::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative("trade_off", 4.0, TLLIB),
        Param::positive("temperature", 3.0, TLLIB),
    ],
};

/// `KL(softmax(old / T) || softmax(new / T))`, a mean over the rows: knowledge distillation of the new logits
/// towards the old (which carry no gradient).
pub fn distillation(new: &Tensor, old: &Tensor, t: f64) -> Tensor {
    let k = new.kind();
    let log_p = (new / t).log_softmax(1, k);
    let log_q = (old.detach() / t).log_softmax(1, k);
    log_p.kl_div(&log_q, Reduction::Sum, true) / new.size()[0] as f64
}

#[derive(Debug)]
pub struct Lwf {
    old: Teacher,
    trade_off: f64,
    temperature: f64,
}

impl Lwf {
    /// The old network is the one the method is built on (the fine-tuning run loads its checkpoint first).
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            old: Teacher::new(ctx.net, INFO.name)?,
            trade_off: ctx.param("trade_off")?,
            temperature: ctx.param("temperature")?,
        })
    }
}

impl Method for Lwf {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    /// The transfer loss reported is the unweighted distillation term.
    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (x, y) = batch.labelled;
        let f = net.features(x, true);
        let old = self.old.logits(x, false);
        let term = distillation(&self.old.classify(&f, true), &old, self.temperature);
        let weighted = &term * self.trade_off;
        Ok(regularised_terms(net, &f, y, &term, weighted))
    }
}
