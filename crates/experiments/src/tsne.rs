//! t-SNE of features (van der Maaten & Hinton, JMLR 2008), Barnes-Hut accelerated (van der Maaten, JMLR 2014)
//! by the `bhtsne` crate, after a PCA to at most 50 dimensions; the start is seeded, so an embedding repeats.

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use shift_tensor::tch::{Kind, Tensor};

/// The embedding's settings: the usual perplexity 30, theta 0.5 and 1,000 iterations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TsneSettings {
    pub perplexity: f64,
    pub theta: f64,
    pub epochs: usize,
    /// Dimensions kept by the PCA before t-SNE.
    pub pca: i64,
    /// The seed of the start (a N(0, 1e-4) draw per coordinate).
    pub seed: u64,
}

impl Default for TsneSettings {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            theta: 0.5,
            epochs: 1000,
            pca: 50,
            seed: 0,
        }
    }
}

/// The leading `k` principal components of the rows of `x` (centred; by SVD).
pub fn pca(x: &Tensor, k: i64) -> Tensor {
    let x = x.to_kind(Kind::Double);
    let centred = &x - x.mean_dim([0i64].as_slice(), true, Kind::Double);
    let (u, s, _) = centred.svd(true, true);
    let k = k.min(s.size()[0]);
    u.narrow(1, 0, k) * s.narrow(0, 0, k).unsqueeze(0)
}

/// A 2-D embedding of the rows of `x`, one point per row. An error when there are too few rows for the
/// perplexity (t-SNE needs more than 3 x perplexity neighbours) or the settings are out of range.
pub fn embed(x: &Tensor, s: &TsneSettings) -> Result<Vec<[f64; 2]>> {
    let n = x.size()[0] as usize;
    if !(s.perplexity > 0.0 && s.theta > 0.0 && s.epochs > 0 && s.pca > 0) {
        bail!("t-SNE: perplexity, theta, epochs and PCA dimensions must be positive, got {s:?}");
    }
    if (n as f64) < 3.0 * s.perplexity + 2.0 {
        bail!(
            "t-SNE: {n} points are too few for perplexity {} (it needs at least {})",
            s.perplexity,
            (3.0 * s.perplexity + 2.0).ceil()
        );
    }
    let reduced = pca(x, s.pca);
    let d = reduced.size()[1] as usize;
    let flat: Vec<f64> = Vec::<f64>::try_from(reduced.flatten(0, -1))?;
    let rows: Vec<&[f64]> = flat.chunks(d).collect();
    // N(0, 1e-4) by Box-Muller from seeded uniforms.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(s.seed);
    let start: Vec<f64> = (0..2 * n)
        .map(|_| {
            let (u, v): (f64, f64) = (1.0 - rng.gen::<f64>(), rng.gen());
            1e-4 * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        })
        .collect();
    // bhtsne sums in parallel (rayon), in an order that changes with the threads' timing and so moves the
    // embedding from one call to the next; on one thread it repeats exactly.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let embedding = pool.install(|| {
        let mut tsne: bhtsne::tSNE<f64, &[f64], 2> = bhtsne::tSNE::new(&rows);
        tsne.perplexity(s.perplexity)
            .epochs(s.epochs)
            .initial_embedding(start)
            .barnes_hut(s.theta, |a, b| {
                a.iter().zip(b.iter()).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt()
            });
        tsne.embedding()
    });
    Ok(embedding.chunks(2).map(|p| [p[0], p[1]]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::Device;

    /// Two far-apart clusters in 20-D stay apart in the embedding: each point's nearest embedded neighbour is
    /// of its own cluster, and the same seed gives the same embedding.
    #[test]
    fn clusters_stay_apart_and_a_seed_repeats() {
        shift_tensor::tch::manual_seed(0);
        let o = (Kind::Double, Device::Cpu);
        let a = Tensor::randn([60, 20], o);
        let b = Tensor::randn([60, 20], o) + 8.0;
        let x = Tensor::cat(&[a, b], 0);
        let s = TsneSettings {
            perplexity: 10.0,
            epochs: 300,
            ..Default::default()
        };
        let e = embed(&x, &s).unwrap();
        assert_eq!(e.len(), 120);
        for (i, p) in e.iter().enumerate() {
            let nearest = (0..e.len())
                .filter(|&j| j != i)
                .min_by(|&j, &k| {
                    let d = |q: &[f64; 2]| (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2);
                    d(&e[j]).total_cmp(&d(&e[k]))
                })
                .unwrap();
            assert_eq!(
                nearest < 60,
                i < 60,
                "point {i}'s nearest neighbour {nearest} is of the other cluster"
            );
        }
        let again = embed(&x, &s).unwrap();
        assert_eq!(e, again, "the same seed gives the same embedding");
    }

    #[test]
    fn too_few_points_or_bad_settings_are_refused() {
        let x = Tensor::randn([20, 4], (Kind::Double, Device::Cpu));
        let e = embed(&x, &TsneSettings::default()).unwrap_err().to_string();
        assert!(e.contains("20 points are too few for perplexity 30"), "{e}");
        let e = embed(
            &x,
            &TsneSettings {
                theta: 0.0,
                perplexity: 2.0,
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("must be positive"), "{e}");
    }

    #[test]
    fn pca_keeps_the_leading_directions() {
        // Points on a line in 3-D: one component holds all the variance.
        let t = Tensor::from_slice(&[-2.0f64, -1.0, 0.0, 1.0, 2.0]).unsqueeze(1);
        let x = Tensor::cat(&[&t * 3.0, &t * 4.0, t.zeros_like()], 1);
        let p = pca(&x, 2);
        assert_eq!(p.size(), [5, 2]);
        let first = Vec::<f64>::try_from(p.select(1, 0).abs()).unwrap();
        assert!(
            first
                .iter()
                .zip([10.0, 5.0, 0.0, 5.0, 10.0])
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{first:?}"
        );
        assert!(p.select(1, 1).abs().max().double_value(&[]) < 1e-9);
    }
}
