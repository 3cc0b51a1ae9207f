//! Kernel two-sample statistics shared by the MMD methods (DAN, JAN): Gaussian kernel matrices with bandwidths
//! set from the batch, and the unbiased estimates of the squared maximum mean discrepancy (Gretton et al., JMLR
//! 2012), in the quadratic form and the linear-time form DAN uses (Long et al., ICML 2015, Eq. 6).
//!
//! ```text
//! D_ij   = |z_i - z_j|^2 over the rows z = [z_s; z_t] (B source rows, then B target rows)
//! K_a    = exp(-D / (2 sigma_a^2)),  sigma_a^2 = a * mean(D) (no gradient through the bandwidth)
//! MMD_q  = 1/(B(B-1)) sum_{i!=j} (K_ss + K_tt)_ij - 2/B^2 sum_ij K_st,ij
//! MMD_l  = 1/B sum_i [K(s_i, s_i') + K(t_i, t_i') - K(s_i, t_i') - K(s_i', t_i)],  i' = i + 1 mod B
//! ```
//!
//! Transfer-Learning-Library's estimators add the constant `2/(B-1)` (no gradient) to keep the value positive;
//! these do not, so they are the published unbiased estimates.

use crate::error::StrategyError;
use shift_tensor::tch::Tensor;

/// Pairwise squared distances between the rows of `z`, as `|z_i|^2 + |z_j|^2 - 2 z_i . z_j` (one matrix product,
/// not an n x n x d difference tensor), held at 0 or above against rounding.
pub fn squared_distances(z: &Tensor) -> Tensor {
    let norms = (z * z).sum_dim_intlist([1i64].as_slice(), true, z.kind());
    (&norms + norms.transpose(0, 1) - z.mm(&z.transpose(0, 1)) * 2.0).clamp_min(0.0)
}

/// The sum of Gaussian kernels over the rows of `z`, one per bandwidth multiplier in `alphas`: bandwidth
/// `sigma^2 = alpha * mean(D)` from the batch's mean squared distance (detached), as DAN's multi-kernel MMD. A
/// batch of identical rows (mean 0) gets the bandwidth of 1e-12 rather than a division by zero: every kernel
/// value is then 1.
pub fn gaussian_kernels(z: &Tensor, alphas: &[f64]) -> Tensor {
    let d = squared_distances(z);
    let mean = d.detach().mean(d.kind()).clamp_min(1e-12);
    alphas
        .iter()
        .map(|a| (-&d / (&mean * (2.0 * a))).exp())
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| d.zeros_like())
}

/// A Gaussian kernel of fixed bandwidth `sigma` over the rows of `z` (JAN's kernel on the predictions).
pub fn gaussian_kernel_fixed(z: &Tensor, sigma: f64) -> Tensor {
    (-squared_distances(z) / (2.0 * sigma * sigma)).exp()
}

/// DAN's five kernels: `sigma^2 = 2^k mean(D)`, k = -3..1 (Transfer-Learning-Library's DAN example).
pub const DAN_ALPHAS: [f64; 5] = [0.125, 0.25, 0.5, 1.0, 2.0];

/// The unbiased MMD estimate from the kernel matrix `k` of `[z_s; z_t]` (B rows each): the quadratic form, or
/// the linear-time form when `linear`.
pub fn mmd_from_kernel(k: &Tensor, linear: bool) -> Result<Tensor, StrategyError> {
    let n = k.size()[0];
    if n % 2 != 0 || n < 4 {
        return Err(StrategyError::Other(format!(
            "MMD needs as many source as target rows, at least 2 each; got {n} rows in all"
        )));
    }
    let b = n / 2;
    let block = |r: i64, c: i64| k.narrow(0, r * b, b).narrow(1, c * b, b);
    let (ss, tt, st) = (block(0, 0), block(1, 1), block(0, 1));
    if linear {
        // Pairs (i, i+1 mod B): K(s_i, s_i') + K(t_i, t_i') - K(s_i, t_i') - K(s_i', t_i).
        let next = |m: &Tensor| m.roll([-1i64].as_slice(), [1i64].as_slice()).diagonal(0, 0, 1);
        let ts = block(1, 0);
        return Ok((next(&ss) + next(&tt) - next(&st) - next(&ts)).mean(k.kind()));
    }
    let off_diagonal = |m: &Tensor| m.sum(k.kind()) - m.diagonal(0, 0, 1).sum(k.kind());
    let bf = b as f64;
    Ok((off_diagonal(&ss) + off_diagonal(&tt)) / (bf * (bf - 1.0)) - st.sum(k.kind()) * (2.0 / (bf * bf)))
}

/// The multi-kernel MMD between the rows of `zs` and `zt` (as many of each) with DAN's kernels.
pub fn mk_mmd(zs: &Tensor, zt: &Tensor, linear: bool) -> Result<Tensor, StrategyError> {
    if zs.size()[0] != zt.size()[0] {
        return Err(StrategyError::Other(format!(
            "MMD needs as many source as target rows; got {} and {}",
            zs.size()[0],
            zt.size()[0]
        )));
    }
    mmd_from_kernel(&gaussian_kernels(&Tensor::cat(&[zs, zt], 0), &DAN_ALPHAS), linear)
}
