//! Deep CORAL: correlation alignment (Sun & Saenko, ECCV 2016 workshops). The distance between the second-order
//! statistics of the two domains' features:
//!
//! ```text
//! C_D = (f_D - mean(f_D))^T (f_D - mean(f_D)) / (n_D - 1)          (d x d, per domain)
//! L   = CE(C(f_s), y_s) + trade_off * lambda * |C_s - C_t|_F^2 / (4 d^2)
//! ```
//!
//! as the paper writes it (Transfer-Learning-Library's code adds a mean term and drops the 4).

use super::{Capture, 
    label_plus_transfer, BuildContext, DataNeeds, Forward, Lambda, Method, MethodInfo, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::Tensor;

/// The registry entry. No Deep CORAL number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "coral",
    help: "Deep CORAL: align the domains' feature covariances (Sun & Saenko, ECCV-W 2016)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Coral::new(c)?)),
    published: &[],
    params: &[Param::non_negative(
        "trade_off",
        10.0,
        "jindongwang/transferlearning, code/DeepDA/DeepCoral/DeepCoral.yaml, transfer_loss_weight",
    )],
};

/// The unbiased covariance of the rows of `f`.
pub fn covariance(f: &Tensor) -> Tensor {
    let n = f.size()[0] as f64;
    let centred = f - f.mean_dim(0, true, f.kind());
    centred.transpose(0, 1).mm(&centred) / (n - 1.0)
}

/// `|C_s - C_t|_F^2 / (4 d^2)` of source rows `fs` and target rows `ft`.
pub fn coral_loss(fs: &Tensor, ft: &Tensor) -> Result<Tensor, StrategyError> {
    if fs.size()[0] < 2 || ft.size()[0] < 2 {
        return Err(StrategyError::Other("CORAL needs at least 2 rows per domain".into()));
    }
    let d = fs.size()[1] as f64;
    let diff = covariance(fs) - covariance(ft);
    Ok((&diff * &diff).sum(diff.kind()) / (4.0 * d * d))
}

#[derive(Debug)]
pub struct Coral {
    trade_off: f64,
}

impl Coral {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            trade_off: ctx.param("trade_off")?,
        })
    }
}

impl Method for Coral {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = Forward::of(net, batch, self.name())?;
        let transfer = coral_loss(&fwd.source().0, &fwd.target().0)?;
        Ok(label_plus_transfer(
            &fwd,
            batch.labelled.1,
            transfer,
            self.trade_off,
            lambda,
        ))
    }
}
