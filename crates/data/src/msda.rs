//! Marginalized stacked denoising autoencoders (Chen, Xu, Weinberger & Sha, ICML 2012): each layer's linear
//! denoiser in closed form, `W = P (Q + eta I)^-1` for inputs corrupted by dropout at rate `noise`, marginalised
//! over the corruption; the representation is the input beside every layer's `tanh(W [h; 1])`. Ganin et al. (JMLR
//! 2016, Table 1's right half) feed the Amazon reviews' 30,000-value mSDA representation (5 layers) to DANN.
//!
//! With `Xb = [X 1]` (n x (d+1)) and `S = Xb^T Xb`, `q = (1 - noise, ..., 1 - noise, 1)`:
//! `Q_ij = S_ij q_i q_j` off the diagonal, `Q_ii = S_ii q_i`; `P_ij = S_ij q_j` for the d input rows;
//! the bias column is never corrupted and never regularised.

use shift_tensor::tch::{Kind, Tensor};

/// Chen et al.'s and the DANN authors' settings for the Amazon reviews: 5 layers, dropout 0.5, eta 1e-5.
pub const LAYERS: usize = 5;
pub const NOISE: f64 = 0.5;
pub const ETA: f64 = 1e-5;

/// The fitted layers: each `d x (d+1)`, the last column the bias.
#[derive(Debug)]
pub struct Msda {
    pub weights: Vec<Tensor>,
}

/// One marginalized denoising layer fitted on the rows of `x` (n x d): its mapping `W` (d x (d+1)) and the
/// hidden representation `tanh([x 1] W^T)` (n x d). Computed in double precision.
pub fn mda(x: &Tensor, noise: f64, eta: f64) -> (Tensor, Tensor) {
    let x = x.to_kind(Kind::Double);
    let d = x.size()[1];
    let xb = with_bias(&x);
    let s = xb.transpose(0, 1).matmul(&xb);
    let mut q = vec![1.0 - noise; d as usize + 1];
    q[d as usize] = 1.0;
    let q = Tensor::from_slice(&q).to_device(x.device());
    let big_q = &s * q.unsqueeze(1).matmul(&q.unsqueeze(0));
    big_q.diagonal(0, 0, 1).copy_(&(s.diagonal(0, 0, 1) * &q));
    let p = s.narrow(0, 0, d) * q.unsqueeze(0);
    let mut reg = vec![eta; d as usize + 1];
    reg[d as usize] = 0.0;
    let reg = Tensor::from_slice(&reg).to_device(x.device()).diag(0);
    // W (Q + reg) = P, solved as (Q + reg)^T W^T = P^T.
    let w = Tensor::linalg_solve(&(big_q.transpose(0, 1) + reg), &p.transpose(0, 1), true).transpose(0, 1);
    let h = xb.matmul(&w.transpose(0, 1)).tanh();
    (h, w)
}

fn with_bias(x: &Tensor) -> Tensor {
    let ones = Tensor::ones([x.size()[0], 1], (x.kind(), x.device()));
    Tensor::cat(&[x.shallow_clone(), ones], 1)
}

impl Msda {
    /// Stacks `layers` layers fitted on the rows of `x` (n x d), each on the previous layer's output.
    pub fn fit(x: &Tensor, noise: f64, layers: usize, eta: f64) -> Self {
        Self::fit_transform(x, noise, layers, eta).0
    }

    /// [`fit`](Self::fit), and the representation of the rows it was fitted on: what [`forward`](Self::forward)
    /// gives for `x`, from the layers' outputs of the fit rather than computed again.
    pub fn fit_transform(x: &Tensor, noise: f64, layers: usize, eta: f64) -> (Self, Tensor) {
        let kind = x.kind();
        let mut h = x.to_kind(Kind::Double);
        let mut all = vec![h.shallow_clone()];
        let mut weights = Vec::with_capacity(layers);
        for _ in 0..layers {
            let (next, w) = mda(&h, noise, eta);
            weights.push(w);
            all.push(next.shallow_clone());
            h = next;
        }
        (Self { weights }, Tensor::cat(&all, 1).to_kind(kind))
    }

    /// The representation of the rows of `x`: `[x, h_1, ..., h_layers]` (n x (1 + layers) d), in `x`'s kind.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        let mut h = x.to_kind(Kind::Double);
        let mut all = vec![h.shallow_clone()];
        for w in &self.weights {
            h = with_bias(&h).matmul(&w.transpose(0, 1)).tanh();
            all.push(h.shallow_clone());
        }
        Tensor::cat(&all, 1).to_kind(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::Device;

    /// Counts with a pattern a denoiser can learn: columns 2 and 3 copy columns 0 and 1.
    fn counts(n: i64) -> Tensor {
        let base = Tensor::randint(4, [n, 2], (Kind::Float, Device::Cpu));
        Tensor::cat(&[base.shallow_clone(), base], 1)
    }

    #[test]
    fn the_marginalised_denoiser_reconstructs_corrupted_inputs_better_than_one_fitted_without_noise() {
        shift_tensor::seed_everything(0);
        let x = counts(400).to_kind(Kind::Double);
        let (_, w_noise) = mda(&x, 0.5, 1e-5);
        let (_, w_plain) = mda(&x, 0.0, 1e-5);
        // Mean reconstruction error of x from dropout-corrupted copies, over many draws.
        let err = |w: &Tensor| {
            let mut total = 0.0;
            for _ in 0..50 {
                let keep = Tensor::rand_like(&x).ge(0.5).to_kind(Kind::Double);
                let corrupted = with_bias(&(&x * keep));
                total += (corrupted.matmul(&w.transpose(0, 1)) - &x)
                    .square()
                    .mean(Kind::Double)
                    .double_value(&[]);
            }
            total / 50.0
        };
        let (with_noise, without) = (err(&w_noise), err(&w_plain));
        assert!(with_noise < 0.7 * without, "{with_noise} vs {without}");
    }

    #[test]
    fn the_representation_stacks_the_input_and_every_layer() {
        let x = counts(30);
        let m = Msda::fit(&x, NOISE, 3, ETA);
        let r = m.forward(&x);
        assert_eq!(r.size(), [30, 16]);
        assert_eq!(r.kind(), Kind::Float);
        assert_eq!(r.narrow(1, 0, 4), x);
        assert!(r.narrow(1, 4, 12).abs().max().double_value(&[]) < 1.0);
        // The fit's own representation is forward's, to the bit.
        let (again, fitted) = Msda::fit_transform(&x, NOISE, 3, ETA);
        assert_eq!(fitted, r);
        assert_eq!(again.forward(&x), r);
    }
}
