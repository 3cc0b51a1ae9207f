//! Label-free model selection in the experiments: the `validation` configuration, the seeded held-out source
//! split and the samples the validators score, and the epoch a validator picks.

use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// What the validators score after every epoch (`validation.*` in the configuration, saved in config.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// The fraction of the source training examples held out from training for the validators, at least 2 of
    /// them (0: no validators). MNIST: 0.02 of 60,000 is 1,200.
    pub source_split: f64,
    /// Unlabelled target training images the validators score (their labels are never read); all of them where
    /// there are fewer.
    pub target_examples: usize,
    /// Source training images whose features DEV's domain classifier learns from; all of them where there are
    /// fewer.
    pub source_train_examples: usize,
    /// The seed of the split and the samples: the same for every method and seed of an experiment, so every run
    /// trains on the same source images and is scored on the same ones.
    pub seed: u64,
    /// The validator whose pick the results table shows (any of [`shift_validators::names`]). Default `im`:
    /// over the 45 label-free full-schedule MNIST -> MNIST-M runs ranked in docs/model-selection.md, its per-run
    /// epoch picks average 0.6995 against the last epoch's 0.6944 (`bnm` 0.7012, `source_accuracy` 0.6888), and
    /// its mean weighted Spearman correlation within a method is second only to `bnm`'s (0.2783 against 0.3024).
    /// It chooses nothing in training, so `--resume` does not compare it.
    pub select: String,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            source_split: 0.02,
            target_examples: 2000,
            source_train_examples: 1000,
            seed: 0,
            select: "im".into(),
        }
    }
}

/// Checks that `name` is a validator's, or errors naming `key` (the flag or configuration key it came from) and
/// the known names.
pub fn known_validator(key: &str, name: &str) -> Result<()> {
    let names = shift_validators::names();
    if !names.contains(&name) {
        bail!("{key}: unknown validator `{name}` (known: {})", names.join(", "));
    }
    Ok(())
}

impl ValidationConfig {
    /// Whether validators score the runs.
    pub fn enabled(&self) -> bool {
        self.source_split > 0.0
    }

    /// How many of `n` source training examples are held out.
    pub fn held_out(&self, n: usize) -> usize {
        if self.enabled() {
            ((self.source_split * n as f64).round() as usize).max(2)
        } else {
            0
        }
    }

    /// Checks the table; errors name the key.
    pub fn validate(&self) -> Result<()> {
        known_validator("`validation.select`", &self.select)?;
        if !(0.0..1.0).contains(&self.source_split) {
            bail!(
                "`validation.source_split`: a fraction in [0, 1) of the source training set (0: no validators), \
                 got {}",
                self.source_split
            );
        }
        if self.enabled() {
            if self.target_examples < 2 {
                bail!("`validation.target_examples`: the validators need at least 2 target images");
            }
            if self.source_train_examples == 0 {
                bail!("`validation.source_train_examples`: DEV needs at least 1 source training image");
            }
        }
        Ok(())
    }
}

/// A seeded permutation of `0..n`: the same for the same `n` and `seed` on every machine (ChaCha8).
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    order
}

/// The held-out source split of `n` training examples: (held-out indices, the training indices in their
/// original order). An error names the key when the split leaves nothing to train on.
pub fn split_source(n: usize, cfg: &ValidationConfig) -> Result<(Vec<usize>, Vec<usize>)> {
    let k = cfg.held_out(n);
    if k >= n {
        bail!(
            "`validation.source_split`: {} ({k} held out of {n} source training examples) leaves none to train on",
            cfg.source_split
        );
    }
    let order = permutation(n, cfg.seed);
    let mut held = order[..k].to_vec();
    let mut train = order[k..].to_vec();
    held.sort_unstable();
    train.sort_unstable();
    Ok((held, train))
}

/// The first `count` of a seeded permutation of `0..n` (all of them when `count >= n`), for the samples the
/// validators score. `salt` keeps the samples of different sets apart under one seed.
pub fn sample(n: usize, count: usize, seed: u64, salt: u64) -> Vec<usize> {
    let mut order = permutation(n, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(salt));
    order.truncate(count);
    order
}

/// The epoch (0-based) whose score is highest, the first of equals; NaN scores are passed over. None when no
/// epoch has a score.
pub fn pick(scores: &[f64]) -> Option<usize> {
    scores
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_nan())
        .fold(None, |best: Option<(usize, f64)>, (i, &s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((i, s)),
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_seeded_disjoint_and_complete() {
        let cfg = ValidationConfig {
            source_split: 0.3,
            ..Default::default()
        };
        let (held, train) = split_source(100, &cfg).unwrap();
        assert_eq!((held.len(), train.len()), (30, 70));
        let mut all: Vec<usize> = held.iter().chain(&train).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(split_source(100, &cfg).unwrap().0, held);
        let other = split_source(100, &ValidationConfig { seed: 1, ..cfg.clone() })
            .unwrap()
            .0;
        assert_ne!(other, held);
        // The draw itself is pinned: ChaCha8 from seed 0 (a change of crate or algorithm would move every split).
        assert_eq!(&permutation(10, 0), &[3, 8, 5, 2, 7, 1, 0, 4, 9, 6]);
    }

    #[test]
    fn bad_validation_settings_are_refused_naming_the_key() {
        let bad = |c: ValidationConfig, says: &str| {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        };
        let d = ValidationConfig::default;
        bad(
            ValidationConfig {
                select: "oracle".into(),
                ..d()
            },
            "`validation.select`: unknown validator `oracle`",
        );
        bad(
            ValidationConfig {
                source_split: 1.0,
                ..d()
            },
            "validation.source_split",
        );
        bad(
            ValidationConfig {
                source_split: -0.1,
                ..d()
            },
            "a fraction in [0, 1)",
        );
        bad(
            ValidationConfig {
                target_examples: 1,
                ..d()
            },
            "validation.target_examples",
        );
        bad(
            ValidationConfig {
                source_train_examples: 0,
                ..d()
            },
            "validation.source_train_examples",
        );
        // At least two are held out, which a set of two cannot spare.
        assert_eq!((d().held_out(60_000), d().held_out(10)), (1200, 2));
        let e = split_source(2, &d()).unwrap_err().to_string();
        assert!(e.contains("2 held out of 2"), "{e}");
        // Off: no validators, whatever the sizes.
        ValidationConfig {
            source_split: 0.0,
            target_examples: 0,
            ..d()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn pick_takes_the_first_highest_score_and_passes_over_nan() {
        assert_eq!(pick(&[0.1, 0.5, 0.5, 0.2]), Some(1));
        assert_eq!(pick(&[f64::NAN, 0.3, f64::NAN]), Some(1));
        assert_eq!(pick(&[f64::NAN]), None);
        assert_eq!(pick(&[]), None);
    }
}
