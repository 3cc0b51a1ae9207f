//! The target terms of VADA and DIRT-T (Shu, Bui, Narui & Ermon, ICLR 2018): the conditional entropy of the
//! predictions, and virtual adversarial training (Miyato, Maeda, Koyama & Ishii, TPAMI 2018), which asks the
//! predictions to stay put inside a small ball around each input:
//!
//! ```text
//! L_c(x) = -mean_i sum_c p_ic log p_ic,                    p = softmax(h(x))
//! d      = xi * d0 / |d0|                                   (d0 ~ N(0, I), |.| per example, over all its values)
//! g      = grad_d KL(p || softmax(h(x + d)))                (p held fixed)
//! r_adv  = eps * g / |g|
//! L_v(x) = mean_i KL(p_i || softmax(h(x + r_adv))_i)        (p and r_adv held fixed)
//! ```
//!
//! xi is the finite-difference step of the one power iteration (1e-6 in the reference code) and eps the radius
//! of the ball.

use crate::error::StrategyError;
use shift_tensor::tch::{Kind, Tensor};

/// `-mean_i sum_c p_ic log p_ic` of `logits`, through log-softmax (a zero probability adds zero).
pub fn conditional_entropy(logits: &Tensor) -> Tensor {
    let log_p = logits.log_softmax(1, logits.kind());
    -(log_p.exp() * &log_p)
        .sum_dim_intlist([1i64].as_slice(), false, logits.kind())
        .mean(logits.kind())
}

/// `mean_i KL(softmax(clean_i) || softmax(perturbed_i))`, with the clean predictions held fixed.
pub fn kl_from_clean(clean: &Tensor, perturbed: &Tensor) -> Tensor {
    let k = perturbed.kind();
    let log_p = clean.detach().log_softmax(1, k);
    let log_q = perturbed.log_softmax(1, k);
    (log_p.exp() * (&log_p - log_q))
        .sum_dim_intlist([1i64].as_slice(), false, k)
        .mean(k)
}

/// Each row of `d` (over all its values) scaled to unit length; a zero row stays zero.
fn unit_rows(d: &Tensor) -> Tensor {
    let n = d.size()[0];
    let norm = d
        .reshape([n, -1])
        .norm_scalaropt_dim(2.0, [1i64].as_slice(), false)
        .clamp_min(1e-12);
    let mut shape = vec![n];
    shape.resize(d.dim(), 1);
    d / norm.reshape(shape.as_slice())
}

/// The virtual adversarial loss of inputs `x` whose clean logits are `clean`, through `logits_of` (the network,
/// input to logits), from the random direction `d0` (same shape as `x`), with finite-difference step `xi` and
/// radius `eps`. The one power iteration differentiates with respect to the perturbation only: no gradient
/// reaches the network's parameters from it.
pub fn vat_loss(
    logits_of: &dyn Fn(&Tensor) -> Tensor,
    x: &Tensor,
    clean: &Tensor,
    d0: &Tensor,
    xi: f64,
    eps: f64,
) -> Result<Tensor, StrategyError> {
    if d0.size() != x.size() {
        return Err(StrategyError::Other(format!(
            "VAT: the random direction has shape {:?}, the inputs {:?}",
            d0.size(),
            x.size()
        )));
    }
    let d = (unit_rows(d0) * xi).set_requires_grad(true);
    let x = x.detach();
    let probe = kl_from_clean(clean, &logits_of(&(&x + &d)));
    let grads = Tensor::f_run_backward(&[probe], &[&d], false, false)
        .map_err(|e| StrategyError::Other(format!("VAT power iteration: {e}")))?;
    let g = grads
        .into_iter()
        .next()
        .ok_or_else(|| StrategyError::Other("VAT: no gradient for the perturbation".into()))?;
    let r_adv = unit_rows(&g.detach()) * eps;
    Ok(kl_from_clean(clean, &logits_of(&(x + r_adv))))
}

/// [`vat_loss`] from a standard normal direction drawn from libtorch's generator (the step's seed).
pub fn vat_loss_random(
    logits_of: &dyn Fn(&Tensor) -> Tensor,
    x: &Tensor,
    clean: &Tensor,
    xi: f64,
    eps: f64,
) -> Result<Tensor, StrategyError> {
    let d0 = x.randn_like();
    vat_loss(logits_of, x, clean, &d0, xi, eps)
}

/// Checks that `x` holds floating-point values (a VAT direction is drawn like it).
pub fn check_float(x: &Tensor, what: &str) -> Result<(), StrategyError> {
    match x.kind() {
        Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16 => Ok(()),
        k => Err(StrategyError::Other(format!(
            "{what}: VAT perturbs floating-point inputs, got {k:?}"
        ))),
    }
}
