//! DAN: deep adaptation networks (Long, Cao, Wang & Jordan, ICML 2015). The features of the two domains are
//! brought together by the multi-kernel maximum mean discrepancy ([`super::mmd`]):
//!
//! ```text
//! L = CE(C(f_s), y_s) + trade_off * lambda * MK-MMD(f_s, f_t)   [+ MK-MMD(C(f_s), C(f_t)) with `logits` = 1]
//! ```
//!
//! with DAN's five Gaussian kernels (`sigma^2 = 2^k mean(D)`, k = -3..1) and a linear-time unbiased estimate
//! (over the cyclic pairs (i, i + 1) as Transfer-Learning-Library does; the paper's Eq. 6 takes disjoint
//! quad-tuples; `quadratic` = 1 gives the quadratic estimate). DAN adapts several layers; on shift's backbones
//! the features are the last shared layer, and `logits` = 1 adds the classifier's output as a second layer.
//! Lambda is the experiment's schedule (DANN's ramp by default; a constant 1 gives the paper's fixed weight).

use super::mmd::mk_mmd;
use super::{Capture, 
    label_plus_transfer, BuildContext, DataNeeds, Forward, Lambda, Method, MethodInfo, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use shift_models::AdaptNet;

/// The registry entry. No DAN number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "dan",
    help: "DAN: multi-kernel MMD between the domains' features (Long et al., ICML 2015)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Dan::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative(
            "trade_off",
            1.0,
            "Transfer-Learning-Library, examples/domain_adaptation/image_classification/dan.py, --trade-off",
        ),
        Param::flag(
            "quadratic",
            0.0,
            "Transfer-Learning-Library, dan.py: --non-linear off (the linear-time estimate, as Long et al., ICML 2015, Eq. 6)",
        ),
        Param::flag("logits", 0.0, "TLlib's DAN adapts the bottleneck features only"),
    ],
};

#[derive(Debug)]
pub struct Dan {
    trade_off: f64,
    linear: bool,
    logits: bool,
}

impl Dan {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            trade_off: ctx.param("trade_off")?,
            linear: ctx.param("quadratic")? == 0.0,
            logits: ctx.param("logits")? != 0.0,
        })
    }
}

impl Method for Dan {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = Forward::of(net, batch, self.name())?;
        let ((fs, zs), (ft, zt)) = (fwd.source(), fwd.target());
        let mut transfer = mk_mmd(&fs, &ft, self.linear)?;
        if self.logits {
            transfer += mk_mmd(&zs, &zt, self.linear)?;
        }
        Ok(label_plus_transfer(
            &fwd,
            batch.labelled.1,
            transfer,
            self.trade_off,
            lambda,
        ))
    }
}
