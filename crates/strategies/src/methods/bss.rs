//! BSS (Chen, Wang, Fu, Long & Wang, NeurIPS 2019): batch spectral shrinkage. Fine-tuning on few labels
//! amplifies the feature directions of the smallest singular values, which transfer worst; BSS shrinks them:
//!
//! ```text
//! L = CE(C(F(x_t)), y_t) + eta * sum_{i=1..k} sigma_{b+1-i}(F(x_t))^2
//! ```
//!
//! with `sigma_1 >= ... >= sigma_b` the singular values of the batch's B x d feature matrix (not centred), the
//! k smallest squared and summed (computed as the smallest eigenvalues of the smaller of `F F^T` and `F^T F`). Defaults: TLlib's (`tllib/regularization/bss.py`,
//! `examples/task_adaptation/image_classification/bss.py`: k = 1, trade-off 0.001).

use super::{regularised_terms, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, Param, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::Tensor;

const TLLIB: &str = "Transfer-Learning-Library, examples/task_adaptation/image_classification/bss.py";

/// The registry entry. TLlib's numbers are ResNet-50 on CUB, Cars and Aircraft: another protocol.
pub static INFO: MethodInfo = MethodInfo {
    name: "bss",
    help: "BSS: fine-tuning that shrinks the batch features' smallest singular values (Chen et al., NeurIPS 2019)",
    data: DataNeeds::FINETUNING,
    build: |c| Ok(Box::new(Bss::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative("trade_off", 0.001, TLLIB),
        Param::count("k", 1.0, TLLIB),
    ],
};

/// `sum_{i=1..k} sigma_{b+1-i}(f)^2`: the k smallest singular values of the feature matrix `f`, squared and
/// summed; an error where `f` has fewer than k singular values.
pub fn spectral_shrinkage(f: &Tensor, k: i64) -> Result<Tensor, StrategyError> {
    let size = f.size();
    if size.len() != 2 || size[0].min(size[1]) < k {
        return Err(StrategyError::Other(format!(
            "bss shrinks the {k} smallest singular values of a B x d feature matrix; got shape {size:?}"
        )));
    }
    // The squared singular values are the eigenvalues of the smaller Gram matrix, in ascending order.
    let gram = if size[0] <= size[1] { f.matmul(&f.tr()) } else { f.tr().matmul(f) };
    let eig = Tensor::linalg_eigvalsh(&gram, "L");
    Ok(eig.narrow(0, 0, k).sum(f.kind()))
}

#[derive(Debug)]
pub struct Bss {
    trade_off: f64,
    k: i64,
}

impl Bss {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            trade_off: ctx.param("trade_off")?,
            k: ctx.param("k")? as i64,
        })
    }
}

impl Method for Bss {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("its singular value decomposition is not yet checked under CUDA-graph capture")
    }

    /// The transfer loss reported is the unweighted shrinkage term.
    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (x, y) = batch.labelled;
        let f = net.features(x, true);
        let term = spectral_shrinkage(&f, self.k)?;
        let weighted = &term * self.trade_off;
        Ok(regularised_terms(net, &f, y, &term, weighted))
    }
}
