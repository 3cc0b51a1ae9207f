//! The inter-twinning moons of Ganin et al. (JMLR 2016, Section 5.1.1, Figure 2), as the authors'
//! `experiments_moons.py` builds them: two half circles (scikit-learn's `make_moons` construction) with Gaussian
//! noise, centred on the source's mean and doubled; the target is another draw, rotated by `angle` degrees
//! (counter-clockwise) about the source's centre.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

/// One domain's points (`[x, y]`) and classes (0 for the upper moon, 1 for the lower).
#[derive(Debug, Clone, PartialEq)]
pub struct MoonsDomain {
    pub points: Vec<[f64; 2]>,
    pub classes: Vec<i64>,
}

/// The source and the rotated target.
#[derive(Debug, Clone, PartialEq)]
pub struct TransMoons {
    pub source: MoonsDomain,
    pub target: MoonsDomain,
}

/// `per_class` points on each moon: the upper moon `(cos t, sin t)` and the lower `(1 - cos t, 1 - sin t - 0.5)`
/// for `t` evenly spaced over `[0, pi]` (`make_moons`), each moved by N(0, noise^2) per coordinate drawn from
/// `seed` (ChaCha8, Box-Muller; not scikit-learn's generator, so the draws differ from the authors').
pub fn make_moons(per_class: usize, noise: f64, seed: u64) -> MoonsDomain {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut gauss = || {
        let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    };
    let t = |i: usize| {
        if per_class > 1 {
            PI * i as f64 / (per_class - 1) as f64
        } else {
            0.0
        }
    };
    let mut points = Vec::with_capacity(2 * per_class);
    let mut classes = Vec::with_capacity(2 * per_class);
    for class in 0..2 {
        for i in 0..per_class {
            let p = if class == 0 {
                [t(i).cos(), t(i).sin()]
            } else {
                [1.0 - t(i).cos(), 1.0 - t(i).sin() - 0.5]
            };
            points.push([p[0] + noise * gauss(), p[1] + noise * gauss()]);
            classes.push(class as i64);
        }
    }
    MoonsDomain { points, classes }
}

/// The source (drawn from `seed`) and the target (from `seed + 1`, rotated by `angle` degrees), both centred on the
/// source's mean and scaled by 2, as `make_trans_moons` does.
pub fn trans_moons(per_class: usize, angle: f64, noise: f64, seed: u64) -> TransMoons {
    let mut source = make_moons(per_class, noise, seed);
    let mut target = make_moons(per_class, noise, seed + 1);
    let n = source.points.len() as f64;
    let mean = [0, 1].map(|k| source.points.iter().map(|p| p[k]).sum::<f64>() / n);
    let (s, c) = (angle * PI / 180.0).sin_cos();
    for p in &mut source.points {
        *p = [2.0 * (p[0] - mean[0]), 2.0 * (p[1] - mean[1])];
    }
    for p in &mut target.points {
        let q = [2.0 * (p[0] - mean[0]), 2.0 * (p[1] - mean[1])];
        *p = [c * q[0] - s * q[1], s * q[0] + c * q[1]];
    }
    TransMoons { source, target }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_noise_is_seeded_and_balanced_classes_have_the_declared_spread() {
        let a = make_moons(500, 0.1, 7);
        assert_eq!(a, make_moons(500, 0.1, 7));
        assert_ne!(a, make_moons(500, 0.1, 8));
        assert_eq!(a.classes.iter().filter(|&&c| c == 1).count(), 500);
        let clean = make_moons(500, 0.0, 7);
        let d: Vec<f64> = a
            .points
            .iter()
            .zip(&clean.points)
            .flat_map(|(p, q)| [p[0] - q[0], p[1] - q[1]])
            .collect();
        let std = (d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64).sqrt();
        assert!((std - 0.1).abs() < 0.01, "{std}");
    }
}
