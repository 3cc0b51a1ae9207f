//! The minimum-norm point in the convex hull of task gradients, the subproblem of MGDA (Désidéri, 2012) as Sener &
//! Koltun (NeurIPS 2018, Section 3.1) solve it:
//!
//! ```text
//! min_a | sum_t a_t g_t |^2   subject to   sum_t a_t = 1,  a_t >= 0
//! ```
//!
//! over the Gram matrix `M_ij = <g_i, g_j>`. Two tasks have the closed form of their Algorithm 1 (the line
//! `a g_1 + (1 - a) g_2`: `a = <g_2 - g_1, g_2> / |g_1 - g_2|^2`, clipped to [0, 1]); more tasks the Frank-Wolfe
//! iteration of their Algorithm 2, each step's line search by Algorithm 1, started from the best point on an edge
//! of the simplex (the reference code's start, `multi_task/min_norm_solvers.py`), at most [`MAX_ITER`] steps,
//! stopping when the Frank-Wolfe gap `a'Ma - min_r (Ma)_r` falls below [`GAP`] of `a'Ma`. If `sum a_t g_t` is 0 the point is
//! Pareto-stationary; otherwise its negative is a direction that decreases every task's loss.

use crate::error::StrategyError;

/// The Frank-Wolfe iterations at most.
pub const MAX_ITER: usize = 1000;
/// The Frank-Wolfe gap, relative to the squared norm, below which the iteration stops.
pub const GAP: f64 = 1e-9;

/// Algorithm 1: the `a` in [0, 1] minimising `|a x + (1 - a) y|^2` from `<x, x>`, `<x, y>` and `<y, y>`, and that
/// squared norm.
pub fn line(xx: f64, xy: f64, yy: f64) -> (f64, f64) {
    if xy >= xx {
        return (1.0, xx);
    }
    if xy >= yy {
        return (0.0, yy);
    }
    let a = (yy - xy) / (xx + yy - 2.0 * xy);
    (a, yy + a * (xy - yy))
}

/// The weights `a` (on the simplex) of the minimum-norm point of the gradients whose Gram matrix is `gram` (`T x
/// T`, row-major), and its squared norm. An error where the matrix is not square, not finite, or has no task.
pub fn min_norm_weights(gram: &[Vec<f64>]) -> Result<(Vec<f64>, f64), StrategyError> {
    let t = gram.len();
    if t == 0 || gram.iter().any(|r| r.len() != t) {
        return Err(StrategyError::Other(format!(
            "the min-norm solver needs a square Gram matrix of at least one task, got {t} row(s) of lengths {:?}",
            gram.iter().map(Vec::len).collect::<Vec<_>>()
        )));
    }
    if gram.iter().flatten().any(|v| !v.is_finite()) {
        return Err(StrategyError::Other(
            "the min-norm solver's Gram matrix has a non-finite entry (a task's gradient is NaN or infinite)".into(),
        ));
    }
    if t == 1 {
        return Ok((vec![1.0], gram[0][0]));
    }
    if t == 2 {
        let (a, d) = line(gram[0][0], gram[0][1], gram[1][1]);
        return Ok((vec![a, 1.0 - a], d));
    }
    let quad = |a: &[f64], b: &[f64]| -> f64 {
        (0..t)
            .map(|i| (0..t).map(|j| a[i] * gram[i][j] * b[j]).sum::<f64>())
            .sum()
    };
    // The best point on an edge of the simplex (the reference code's start), then Frank-Wolfe.
    let mut a = vec![0.0; t];
    let mut best = f64::INFINITY;
    for i in 0..t {
        for j in i + 1..t {
            let (g, d) = line(gram[i][i], gram[i][j], gram[j][j]);
            if d < best {
                best = d;
                a = vec![0.0; t];
                a[i] = g;
                a[j] = 1.0 - g;
            }
        }
    }
    for _ in 0..MAX_ITER {
        // The vertex the linearised objective prefers: argmin_r (M a)_r; a Frank-Wolfe gap of 0 is the minimum.
        let ma: Vec<f64> = (0..t).map(|r| (0..t).map(|j| gram[r][j] * a[j]).sum()).collect();
        let r = (0..t).min_by(|&i, &j| ma[i].total_cmp(&ma[j])).unwrap_or(0);
        let norm = quad(&a, &a);
        if norm - ma[r] <= GAP * norm.max(f64::MIN_POSITIVE) {
            break;
        }
        let mut e = vec![0.0; t];
        e[r] = 1.0;
        // Line search between the current point and the vertex: a <- g a + (1 - g) e_r.
        let (g, _) = line(norm, ma[r], gram[r][r]);
        a = (0..t).map(|i| g * a[i] + (1.0 - g) * e[i]).collect();
    }
    let d = quad(&a, &a);
    Ok((a, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_tasks_at_the_corners_and_between() {
        // g1 = (1, 0), g2 = (0, 1): the midpoint, norm^2 0.5.
        let (a, d) = min_norm_weights(&[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap();
        assert_eq!(a, vec![0.5, 0.5]);
        assert!((d - 0.5).abs() < 1e-15);
        // g1 short and g2 = 2 g1: all on g1.
        let (a, d) = min_norm_weights(&[vec![1.0, 2.0], vec![2.0, 4.0]]).unwrap();
        assert_eq!(a, vec![1.0, 0.0]);
        assert_eq!(d, 1.0);
    }

    #[test]
    fn refuses_a_gram_matrix_it_cannot_solve() {
        assert!(min_norm_weights(&[]).unwrap_err().to_string().contains("square"));
        assert!(min_norm_weights(&[vec![1.0, 0.0]])
            .unwrap_err()
            .to_string()
            .contains("square"));
        let e = min_norm_weights(&[vec![f64::NAN, 0.0], vec![0.0, 1.0]]).unwrap_err();
        assert!(e.to_string().contains("non-finite"), "{e}");
    }
}
