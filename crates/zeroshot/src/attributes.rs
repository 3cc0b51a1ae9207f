//! The digits' attribute description, their seven-segment display codes, and the seen/unseen class splits that
//! zero-shot learning trains and tests on.
//!
//! The segments, as a display names them: `a` top, `b` upper right, `c` lower right, `d` bottom, `e` lower left,
//! `f` upper left, `g` middle. Each digit lights the segments of the common display font (6 with its top bar, 7
//! without `f`, 9 with its bottom bar): 0 `abcdef`, 1 `bc`, 2 `abdeg`, 3 `abcdg`, 4 `bcfg`, 5 `acdfg`,
//! 6 `acdefg`, 7 `abc`, 8 `abcdefg`, 9 `abcdfg`.

use crate::ZeroShotError;
use shift_tensor::tch::{Device, Kind, Tensor};

/// The segments' names, in the attribute order.
pub const SEGMENTS: [&str; 7] = [
    "a (top)",
    "b (upper right)",
    "c (lower right)",
    "d (bottom)",
    "e (lower left)",
    "f (upper left)",
    "g (middle)",
];

/// Digit `i`'s code: 1 where segment `a`..`g` is lit.
pub const SEVEN_SEGMENT: [[u8; 7]; 10] = [
    [1, 1, 1, 1, 1, 1, 0],
    [0, 1, 1, 0, 0, 0, 0],
    [1, 1, 0, 1, 1, 0, 1],
    [1, 1, 1, 1, 0, 0, 1],
    [0, 1, 1, 0, 0, 1, 1],
    [1, 0, 1, 1, 0, 1, 1],
    [1, 0, 1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0, 0, 0],
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 1, 1],
];

/// The ten codes as a `[10, 7]` float matrix of 0 and 1.
pub fn signatures(device: Device) -> Tensor {
    let flat: Vec<f32> = SEVEN_SEGMENT.iter().flatten().map(|&b| f32::from(b)).collect();
    Tensor::from_slice(&flat)
        .view([10, 7])
        .to_kind(Kind::Float)
        .to_device(device)
}

/// Whether every attribute takes both values among `classes`: only then can a classifier of each attribute be
/// trained on them.
pub fn covers(classes: &[usize]) -> bool {
    (0..SEGMENTS.len()).all(|m| {
        let lit = classes.iter().filter(|&&c| SEVEN_SEGMENT[c][m] == 1).count();
        lit > 0 && lit < classes.len()
    })
}

/// A split of the ten digits: the classes training sees, and those it never sees.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Split {
    pub seen: Vec<usize>,
    pub unseen: Vec<usize>,
}

impl Split {
    /// The split whose unseen classes are `unseen` (each a digit, no repeats).
    pub fn with_unseen(unseen: &[usize]) -> Result<Self, ZeroShotError> {
        let mut u = unseen.to_vec();
        u.sort_unstable();
        u.dedup();
        if u.len() != unseen.len() || u.iter().any(|&c| c > 9) || u.is_empty() || u.len() > 8 {
            return Err(ZeroShotError::invalid(
                "unseen classes",
                format!("want 1 to 8 distinct digits 0-9, got {unseen:?}"),
            ));
        }
        Ok(Self {
            seen: (0..10).filter(|c| !u.contains(c)).collect(),
            unseen: u,
        })
    }

    /// The folder-safe name: `unseen-0-1-3`.
    pub fn name(&self) -> String {
        let u: Vec<String> = self.unseen.iter().map(usize::to_string).collect();
        format!("unseen-{}", u.join("-"))
    }

    /// The first `held` seen classes (in lexicographic order of the subsets) that can be held out of training
    /// while the rest still cover every attribute: the classes hyper-parameters are chosen on, standing in for the
    /// unseen ones (never the unseen classes themselves).
    pub fn validation_fold(&self, held: usize) -> Option<Split> {
        let mut chosen = None;
        subsets(&self.seen, held, &mut |h| {
            let rest: Vec<usize> = self.seen.iter().copied().filter(|c| !h.contains(c)).collect();
            if chosen.is_none() && covers(&rest) {
                chosen = Some(Split {
                    seen: rest,
                    unseen: h.to_vec(),
                });
            }
        });
        chosen
    }
}

/// `count` splits with `unseen` unseen digits: of every subset of that size (in lexicographic order) whose seen
/// classes cover every attribute and leave a validation fold of 2, `count` spread evenly over the list (the
/// `i * n / count`-th).
pub fn splits(unseen: usize, count: usize) -> Result<Vec<Split>, ZeroShotError> {
    if !(1..=6).contains(&unseen) {
        return Err(ZeroShotError::invalid(
            "unseen",
            format!("want 1 to 6 unseen digits, got {unseen}"),
        ));
    }
    let digits: Vec<usize> = (0..10).collect();
    let mut valid = Vec::new();
    subsets(&digits, unseen, &mut |u| {
        if let Ok(s) = Split::with_unseen(u) {
            if covers(&s.seen) && s.validation_fold(2).is_some() {
                valid.push(s);
            }
        }
    });
    if count == 0 || count > valid.len() {
        return Err(ZeroShotError::invalid(
            "splits",
            format!(
                "want 1 to {} splits of {unseen} unseen digits, got {count}",
                valid.len()
            ),
        ));
    }
    let n = valid.len();
    Ok((0..count).map(|i| valid[i * n / count].clone()).collect())
}

/// Calls `f` with every `k`-subset of `items`, in lexicographic order.
fn subsets(items: &[usize], k: usize, f: &mut dyn FnMut(&[usize])) {
    fn go(items: &[usize], k: usize, from: usize, picked: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
        if picked.len() == k {
            f(picked);
            return;
        }
        for i in from..items.len() {
            picked.push(items[i]);
            go(items, k, i + 1, picked, f);
            picked.pop();
        }
    }
    go(items, k, 0, &mut Vec::with_capacity(k), f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_are_distinct_and_as_a_display_lights_them() {
        let lit = |d: usize| -> String {
            (0..7)
                .filter(|&m| SEVEN_SEGMENT[d][m] == 1)
                .map(|m| (b'a' + m as u8) as char)
                .collect()
        };
        let want = [
            "abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg",
        ];
        for (d, w) in want.iter().enumerate() {
            assert_eq!(lit(d), *w, "digit {d}");
        }
        for (i, a) in SEVEN_SEGMENT.iter().enumerate() {
            for (j, b) in SEVEN_SEGMENT[..i].iter().enumerate() {
                assert_ne!(a, b, "{i} and {j}");
            }
        }
        let s = signatures(Device::Cpu);
        assert_eq!(s.size(), [10, 7]);
        assert_eq!(s.sum(Kind::Float).double_value(&[]), 49.0);
    }

    #[test]
    fn splits_cover_every_attribute_and_hold_out_a_validation_fold() {
        let all = splits(3, 5).unwrap();
        let unseen: Vec<Vec<usize>> = all.iter().map(|s| s.unseen.clone()).collect();
        assert_eq!(
            unseen,
            [
                vec![0, 1, 3],
                vec![0, 4, 7],
                vec![1, 3, 7],
                vec![3, 4, 7],
                vec![4, 5, 9]
            ]
        );
        for s in &all {
            assert!(covers(&s.seen), "{s:?}");
            assert_eq!(s.seen.len() + s.unseen.len(), 10);
            let fold = s.validation_fold(2).unwrap();
            assert!(
                covers(&fold.seen) && fold.unseen.iter().all(|c| s.seen.contains(c)),
                "{fold:?}"
            );
        }
        assert_eq!(all[0].name(), "unseen-0-1-3");
        // Segment c is dark only in 2: with 2 unseen, the seen digits never show c off.
        assert!(!covers(&Split::with_unseen(&[2, 5, 8]).unwrap().seen));
    }

    #[test]
    fn bad_splits_are_refused_naming_what_is_wrong() {
        for (e, says) in [
            (splits(0, 1).unwrap_err(), "want 1 to 6 unseen digits, got 0"),
            (
                splits(3, 0).unwrap_err(),
                "want 1 to 69 splits of 3 unseen digits, got 0",
            ),
            (splits(3, 70).unwrap_err(), "got 70"),
            (
                Split::with_unseen(&[1, 1]).unwrap_err(),
                "distinct digits 0-9, got [1, 1]",
            ),
            (Split::with_unseen(&[10]).unwrap_err(), "got [10]"),
        ] {
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
