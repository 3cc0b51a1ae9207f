//! ESZSL: "An embarrassingly simple approach to zero-shot learning" (Romera-Paredes & Torr, ICML 2015). A bilinear
//! compatibility `x^T V s` between an example's features and a class's signature, fitted to the seen classes in
//! closed form:
//!
//! ```text
//! X: [N, D] features of the seen classes' examples
//! Y: [N, Z] 1 at each example's class, -1 elsewhere          S: [Z, A] the seen classes' signatures
//! V = (X^T X + gamma I)^-1  X^T Y S  (S^T S + lambda I)^-1    [D, A]
//! class(x) = argmax_c x^T V s_c, over the candidate classes' signatures s_c
//! ```
//!
//! (the paper's eq. 7, written with examples as rows). The paper chooses `gamma` and `lambda` on seen classes held
//! out of training, over 10^-3 .. 10^3; so does `experiments::zero_shot`. Solved in double precision.

use crate::{check_fit, ZeroShotError};
use shift_tensor::tch::{Kind, Tensor};

/// The products of the closed form that do not depend on the regularisers, `X^T X`, `X^T Y S` and `S^T S`: formed
/// once, solved for each `(gamma, lambda)` of a search.
#[derive(Debug)]
pub struct EszslProblem {
    gram: Tensor,
    xtys: Tensor,
    sts: Tensor,
}

impl EszslProblem {
    /// The problem of features `x` (`[N, D]`), classes `y` (`[N]`, rows of `s`) and signatures `s` (`[Z, A]`).
    pub fn new(x: &Tensor, y: &Tensor, s: &Tensor) -> Result<Self, ZeroShotError> {
        let (_, _, z, _) = check_fit(x, y, s)?;
        let x = x.to_kind(Kind::Double);
        let s = s.to_kind(Kind::Double);
        let targets = y.one_hot(z).to_kind(Kind::Double) * 2.0 - 1.0;
        Ok(Self {
            gram: x.tr().matmul(&x),
            xtys: x.tr().matmul(&targets).matmul(&s),
            sts: s.tr().matmul(&s),
        })
    }

    /// `V` for regularisers `gamma` and `lambda` (each > 0).
    pub fn solve(&self, gamma: f64, lambda: f64) -> Result<Eszsl, ZeroShotError> {
        for (name, v) in [("gamma", gamma), ("lambda", lambda)] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(ZeroShotError::invalid(
                    format!("eszsl.{name}"),
                    format!("must be > 0, got {v}"),
                ));
            }
        }
        let (d, a) = (self.gram.size()[0], self.sts.size()[0]);
        let eye = |n: i64| Tensor::eye(n, (Kind::Double, self.gram.device()));
        // (X^T X + gamma I)^-1 (X^T Y S), then times (S^T S + lambda I)^-1 from the right (both symmetric).
        let v = Tensor::linalg_solve(&(&self.gram + eye(d) * gamma), &self.xtys, true);
        let v = Tensor::linalg_solve(&(&self.sts + eye(a) * lambda), &v.tr(), true).tr();
        Ok(Eszsl { v })
    }
}

/// A fitted ESZSL map.
#[derive(Debug)]
pub struct Eszsl {
    v: Tensor,
}

impl Eszsl {
    /// Fits `V` to features `x` (`[N, D]`) of examples of classes `y` (`[N]`, rows of `s`) with signatures `s`
    /// (`[Z, A]`); `gamma` and `lambda` must be positive.
    pub fn fit(x: &Tensor, y: &Tensor, s: &Tensor, gamma: f64, lambda: f64) -> Result<Self, ZeroShotError> {
        EszslProblem::new(x, y, s)?.solve(gamma, lambda)
    }

    /// The map `V` (`[D, A]`, double).
    pub fn weights(&self) -> &Tensor {
        &self.v
    }

    /// The compatibility of each example of `x` (`[N, D]`) with each class of `s` (`[C, A]`): `[N, C]`, double.
    pub fn scores(&self, x: &Tensor, s: &Tensor) -> Result<Tensor, ZeroShotError> {
        let (d, a) = (self.v.size()[0], self.v.size()[1]);
        if x.dim() != 2 || x.size()[1] != d || s.dim() != 2 || s.size()[1] != a {
            return Err(ZeroShotError::invalid(
                "eszsl.scores",
                format!(
                    "fitted on {d} features and {a} attributes, got features {:?} and signatures {:?}",
                    x.size(),
                    s.size()
                ),
            ));
        }
        Ok(x.to_kind(Kind::Double)
            .matmul(&self.v)
            .matmul(&s.to_kind(Kind::Double).tr()))
    }
}
