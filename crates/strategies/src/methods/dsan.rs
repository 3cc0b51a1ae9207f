//! DSAN: deep subdomain adaptation with the local MMD (Zhu, Zhuang, Wang, Ke, Chen, Bian, Xiong & He, IEEE TNNLS
//! 2020). The MMD is taken per class, each row weighted by its class membership: source rows by their labels,
//! target rows by their predicted probabilities (pseudo-labels, no gradient):
//!
//! ```text
//! w^s_ic = y_ic / sum_j y_jc,   w^t_ic = p_ic / sum_j p_jc,   p = softmax(C(f_t))
//! LMMD   = 1/|K| sum_{c in K} [ w^s_c^T K_ss w^s_c + w^t_c^T K_tt w^t_c - 2 w^s_c^T K_st w^t_c ]
//! L      = CE(C(f_s), y_s) + trade_off * lambda * LMMD
//! ```
//!
//! `K` holds the classes present among the batch's source labels and among its target predictions (the others
//! have no rows to compare); with none, LMMD is 0. The kernel is the reference code's (DeepDA, `lmmd.py`): five
//! Gaussians `exp(-D / (b 2^k))`, k = -2..2, `b` the mean off-diagonal squared distance (no gradient).

use super::mmd::squared_distances;
use super::{Capture, 
    label_plus_transfer, BuildContext, DataNeeds, Forward, Lambda, Method, MethodInfo, Param, StepInputs, Terms,
};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry. No DSAN number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "dsan",
    help: "DSAN: local (class-weighted) MMD with target pseudo-label weights (Zhu et al., TNNLS 2020)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Dsan::new(c)?)),
    published: &[],
    params: &[Param::non_negative(
        "trade_off",
        0.5,
        "jindongwang/transferlearning, code/DeepDA/DSAN/DSAN.yaml, transfer_loss_weight",
    )],
};

/// DeepDA's kernel over the rows of `z`: `sum_k exp(-D / (b 2^k))`, k = -2..2, `b` the mean squared distance
/// over the pairs of distinct rows (no gradient; at least 1e-12).
pub fn deepda_kernels(z: &Tensor) -> Tensor {
    let d = squared_distances(z);
    let n = z.size()[0] as f64;
    let b = (d.detach().sum(d.kind()) / (n * n - n)).clamp_min(1e-12);
    (-2..=2)
        .map(|k| (-&d / (&b * 2f64.powi(k))).exp())
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| d.zeros_like())
}

/// The local MMD of source features `fs` with labels `ys`, and target features `ft` with logits `logits_t`, over
/// `classes` classes.
pub fn lmmd(fs: &Tensor, ys: &Tensor, ft: &Tensor, logits_t: &Tensor, classes: i64) -> Result<Tensor, StrategyError> {
    let (ns, nt) = (fs.size()[0], ft.size()[0]);
    if ns == 0 || nt == 0 {
        return Err(StrategyError::Other("LMMD needs source and target rows".into()));
    }
    let k = fs.kind();
    let one_hot = ys.one_hot(classes).to_kind(k);
    let p = logits_t.detach().softmax(1, k);
    // Column-normalised memberships (a class with no mass keeps a zero column).
    let normalise = |w: &Tensor| w / w.sum_dim_intlist([0i64].as_slice(), true, k).clamp_min(1e-12);
    let (ws, wt) = (normalise(&one_hot), normalise(&p));
    // The classes both domains have: among the source labels and the target predictions.
    let in_source = one_hot.sum_dim_intlist([0i64].as_slice(), false, k).gt(0.0);
    let predicted = p
        .argmax(1, false)
        .one_hot(classes)
        .sum_dim_intlist([0i64].as_slice(), false, Kind::Int64);
    let present = in_source.logical_and(&predicted.gt(0)).to_kind(k);
    let count = present.sum(k);
    let kernel = deepda_kernels(&Tensor::cat(&[fs, ft], 0));
    let kss = kernel.narrow(0, 0, ns).narrow(1, 0, ns);
    let ktt = kernel.narrow(0, ns, nt).narrow(1, ns, nt);
    let kst = kernel.narrow(0, 0, ns).narrow(1, ns, nt);
    // Per class c: w_c^T K w_c', summed over the present classes.
    let quad = |a: &Tensor, m: &Tensor, b: &Tensor| (a * m.mm(b)).sum_dim_intlist([0i64].as_slice(), false, k);
    let per_class = quad(&ws, &kss, &ws) + quad(&wt, &ktt, &wt) - quad(&ws, &kst, &wt) * 2.0;
    Ok((per_class * &present).sum(k) / count.clamp_min(1.0))
}

#[derive(Debug)]
pub struct Dsan {
    trade_off: f64,
    classes: i64,
}

impl Dsan {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            trade_off: ctx.param("trade_off")?,
            classes: ctx.net.num_classes(),
        })
    }
}

impl Method for Dsan {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = Forward::of(net, batch, self.name())?;
        let ((fs, _), (ft, zt)) = (fwd.source(), fwd.target());
        let transfer = lmmd(&fs, batch.labelled.1, &ft, &zt, self.classes)?;
        Ok(label_plus_transfer(
            &fwd,
            batch.labelled.1,
            transfer,
            self.trade_off,
            lambda,
        ))
    }
}
