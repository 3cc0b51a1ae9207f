//! BNM: batch nuclear-norm maximization (Cui, Wang, Zhuo, Li, Huang & Tian, CVPR 2020). Maximising the nuclear
//! norm of the target batch's prediction matrix raises both its discriminability and its diversity:
//!
//! ```text
//! A = softmax(C(f_t))                        (B x C)
//! L = CE(C(f_s), y_s) - trade_off * lambda * |A|_* / B
//! ```
//!
//! as the paper writes it (Eq. 9); the authors' code divides by min(B, C) instead of B.

use super::{Capture, 
    label_plus_transfer, BuildContext, DataNeeds, Forward, Lambda, Method, MethodInfo, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry. No BNM number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "bnm",
    help: "BNM: maximise the nuclear norm of the target predictions (Cui et al., CVPR 2020)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Bnm::new(c)?)),
    published: &[],
    params: &[Param::non_negative(
        "trade_off",
        1.0,
        "Cui et al., CVPR 2020, Section 4.1 (lambda = 1); cuishuhao/BNM, DA/BNM/train_image.py, --trade_off",
    )],
};

/// `-|softmax(logits)|_* / B`: the negated nuclear norm of the batch's predictions over its rows.
pub fn bnm_loss(logits: &Tensor) -> Tensor {
    let a = logits.softmax(1, logits.kind());
    let b = a.size()[0] as f64;
    -a.linalg_norm_ord_str("nuc", [0i64, 1].as_slice(), false, None::<Kind>) / b
}

#[derive(Debug)]
pub struct Bnm {
    trade_off: f64,
}

impl Bnm {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            trade_off: ctx.param("trade_off")?,
        })
    }
}

impl Method for Bnm {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = Forward::of(net, batch, self.name())?;
        let transfer = bnm_loss(&fwd.target().1);
        Ok(label_plus_transfer(
            &fwd,
            batch.labelled.1,
            transfer,
            self.trade_off,
            lambda,
        ))
    }
}
