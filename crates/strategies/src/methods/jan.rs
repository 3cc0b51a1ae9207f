//! JAN: joint adaptation networks (Long, Zhu, Wang & Jordan, ICML 2017). The joint distributions of features
//! and predictions are aligned by the joint MMD, whose kernel is the product of a kernel on each layer:
//!
//! ```text
//! K   = (sum_k K_{2^k}(f)) ⊙ K_sigma(softmax(C(f))),  k = -3..1, sigma = 0.92 (fixed)
//! L   = CE(C(f_s), y_s) + trade_off * lambda * MMD_q(K)
//! ```
//!
//! with the quadratic unbiased estimate ([`super::mmd::mmd_from_kernel`]; `linear` = 1 gives the linear one).
//! The predictions are not detached: the joint MMD shapes the classifier too.

use super::mmd::{gaussian_kernel_fixed, gaussian_kernels, mmd_from_kernel, DAN_ALPHAS};
use super::{Capture, 
    label_plus_transfer, BuildContext, DataNeeds, Forward, Lambda, Method, MethodInfo, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::Tensor;

/// The registry entry. No JAN number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "jan",
    help: "JAN: joint MMD over features and predictions (Long et al., ICML 2017)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Jan::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative(
            "trade_off",
            1.0,
            "Transfer-Learning-Library, examples/domain_adaptation/image_classification/jan.py, --trade-off",
        ),
        Param::positive(
            "sigma",
            0.92,
            "Transfer-Learning-Library, jan.py: GaussianKernel(sigma=0.92) on the softmax layer",
        ),
        Param::flag(
            "linear",
            0.0,
            "Transfer-Learning-Library, jan.py: --linear off (the quadratic estimate)",
        ),
    ],
};

/// The joint MMD of (features, logits) of `[source; target]` rows, as many of each (`ns` source rows first).
pub fn jmmd(f: &Tensor, logits: &Tensor, ns: i64, sigma: f64, linear: bool) -> Result<Tensor, StrategyError> {
    let n = f.size()[0];
    if 2 * ns != n {
        return Err(StrategyError::Other(format!(
            "JMMD needs as many source as target rows; got {ns} and {}",
            n - ns
        )));
    }
    let p = logits.softmax(1, logits.kind());
    let k = gaussian_kernels(f, &DAN_ALPHAS) * gaussian_kernel_fixed(&p, sigma);
    mmd_from_kernel(&k, linear)
}

#[derive(Debug)]
pub struct Jan {
    trade_off: f64,
    sigma: f64,
    linear: bool,
}

impl Jan {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            trade_off: ctx.param("trade_off")?,
            sigma: ctx.param("sigma")?,
            linear: ctx.param("linear")? != 0.0,
        })
    }
}

impl Method for Jan {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = Forward::of(net, batch, self.name())?;
        let transfer = jmmd(&fwd.f, &fwd.logits, fwd.ns, self.sigma, self.linear)?;
        Ok(label_plus_transfer(
            &fwd,
            batch.labelled.1,
            transfer,
            self.trade_off,
            lambda,
        ))
    }
}
