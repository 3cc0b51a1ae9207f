//! MCC: minimum class confusion (Jin, Wang, Long & Wang, ECCV 2020). The target predictions, softened by a
//! temperature and weighted by certainty, should not confuse classes with each other:
//!
//! ```text
//! P     = softmax(C(f_t) / T)                                        (B x C)
//! H_i   = -sum_c P_ic log(P_ic + 1e-5),  w_i = 1 + exp(-H_i) (no gradient), normalised to sum_i w_i = B
//! M     = P^T diag(w) P,  M~_jk = M_jk / sum_i M_ik                 (class confusion, columns normalised)
//! L     = CE(C(f_s), y_s) + trade_off * lambda * (sum_jk M~_jk - tr M~) / C
//! ```

use super::{Capture, 
    label_plus_transfer, BuildContext, DataNeeds, Forward, Lambda, Method, MethodInfo, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::Tensor;

/// The registry entry. No MCC number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "mcc",
    help: "MCC: minimum class confusion on the target predictions (Jin et al., ECCV 2020)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Mcc::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative(
            "trade_off",
            1.0,
            "Transfer-Learning-Library, examples/domain_adaptation/image_classification/mcc.py, --trade-off",
        ),
        Param::positive(
            "temperature",
            2.5,
            "Jin et al., ECCV 2020, Section 4.1 (T = 2.5); TLlib mcc.py, --temperature",
        ),
    ],
};

/// The class confusion loss of target logits at `temperature`.
pub fn mcc_loss(logits: &Tensor, temperature: f64) -> Tensor {
    let k = logits.kind();
    let (b, c) = (logits.size()[0] as f64, logits.size()[1] as f64);
    let p = (logits / temperature).softmax(1, k);
    let entropy = -(&p * (&p + 1e-5).log()).sum_dim_intlist([1i64].as_slice(), false, k);
    let w = entropy.detach().neg().exp() + 1.0;
    let w = (&w / w.sum(k) * b).unsqueeze(1);
    let confusion = (&p * w).transpose(0, 1).mm(&p);
    let normalised = &confusion / confusion.sum_dim_intlist([0i64].as_slice(), true, k);
    (normalised.sum(k) - normalised.trace()) / c
}

#[derive(Debug)]
pub struct Mcc {
    trade_off: f64,
    temperature: f64,
}

impl Mcc {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            trade_off: ctx.param("trade_off")?,
            temperature: ctx.param("temperature")?,
        })
    }
}

impl Method for Mcc {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = Forward::of(net, batch, self.name())?;
        let transfer = mcc_loss(&fwd.target().1, self.temperature);
        Ok(label_plus_transfer(
            &fwd,
            batch.labelled.1,
            transfer,
            self.trade_off,
            lambda,
        ))
    }
}
