//! MultiMNIST as Sener & Koltun (NeurIPS 2018) build it (isl-org/MultiObjectiveOptimization,
//! `multi_task/loaders/multi_mnist_loader.py`): two MNIST digits overlaid, one up-left and one down-right, with a
//! task for each.
//!
//! For every image `i` of a split (train and test alike), one partner `j` drawn uniformly from the same split
//! (`i` itself possible, as `np.random.permutation(n)[:1]` allows), then:
//! 1. a 36 x 36 canvas of zeros; digit `i` at rows and columns 0..28, digit `j` at 6..34, and where they overlap
//!    (6..28) the pixel-wise maximum of the two;
//! 2. scipy's `imresize(canvas, (28, 28), interp='nearest')`: the float canvas byte-scaled to 0..255 by its own
//!    minimum and maximum (`bytescale`: `(v - min) * 255 / (max - min) + 0.5`, clipped, truncated), then PIL's
//!    nearest resize (output pixel `o` reads input `floor((o + 0.5) * 36 / 28)`);
//! 3. the loader's transform: `ToTensor` (/ 255) and `Normalize((0.1307,), (0.3081,))`.
//!
//! The left task's class is digit `i`'s, the right task's digit `j`'s. The loader draws partners from NumPy's
//! unseeded generator; here they come from libtorch's generator under a construction seed (train first, then
//! test), so every run of an experiment sees the same images.

use crate::digits::Digits;
use crate::error::DataError;
use shift_tensor::tch::{Device, Kind, Tensor};

/// The canvas side.
pub const CANVAS: usize = 36;
/// Where the second digit starts, in rows and columns.
pub const OFFSET: usize = 6;
/// The image side after the resize.
pub const SIDE: usize = 28;
/// The loader's normalisation (MNIST's mean and spread).
pub const MEAN: f64 = 0.1307;
pub const STD: f64 = 0.3081;
/// The tasks' names, in label-column order.
pub const TASKS: [&str; 2] = ["left", "right"];

/// One MultiMNIST split: images `[n, 1, 28, 28]` (normalised floats), classes `[n, 2]` (left, right), and each
/// image's partner (its index into the MNIST split).
#[derive(Debug)]
pub struct MultiDigits {
    pub x: Tensor,
    pub y: Tensor,
    pub partners: Vec<i64>,
}

/// The 28 x 28 bytes of `left` overlaid on `right` as the loader builds them (steps 1 and 2).
pub fn overlay(left: &[u8], right: &[u8]) -> Vec<u8> {
    let mut canvas = vec![0u8; CANVAS * CANVAS];
    for r in 0..SIDE {
        for c in 0..SIDE {
            canvas[r * CANVAS + c] = left[r * SIDE + c];
        }
    }
    for r in 0..SIDE {
        for c in 0..SIDE {
            let at = &mut canvas[(r + OFFSET) * CANVAS + c + OFFSET];
            *at = (*at).max(right[r * SIDE + c]);
        }
    }
    let (lo, hi) = canvas
        .iter()
        .fold((u8::MAX, u8::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = if hi == lo { 1.0 } else { f64::from(hi - lo) };
    let scale = 255.0 / span;
    let source = |o: usize| ((o as f64 + 0.5) * CANVAS as f64 / SIDE as f64).floor() as usize;
    let mut out = Vec::with_capacity(SIDE * SIDE);
    for r in 0..SIDE {
        for c in 0..SIDE {
            let v = f64::from(canvas[source(r) * CANVAS + source(c)]);
            out.push((((v - f64::from(lo)) * scale).clamp(0.0, 255.0) + 0.5) as u8);
        }
    }
    out
}

/// The MultiMNIST split of `digits` (28 x 28 grey MNIST digits) with partners drawn by libtorch's generator in its
/// current state, on `device`.
pub fn build(digits: &Digits, device: Device) -> Result<MultiDigits, DataError> {
    if (digits.height, digits.width, digits.channels) != (SIDE, SIDE, 1) {
        return Err(DataError::Invalid {
            what: "MultiMNIST".into(),
            msg: format!(
                "needs 28 x 28 grey MNIST digits, got {} x {} x {}",
                digits.height, digits.width, digits.channels
            ),
        });
    }
    let n = digits.len();
    if n == 0 {
        return Err(DataError::Invalid {
            what: "MultiMNIST".into(),
            msg: "no MNIST digits to overlay".into(),
        });
    }
    let partners =
        Vec::<i64>::try_from(&Tensor::randint(n as i64, [n as i64], (Kind::Int64, Device::Cpu))).map_err(|e| {
            DataError::Invalid {
                what: "MultiMNIST".into(),
                msg: format!("cannot read the drawn partners: {e}"),
            }
        })?;
    let mut bytes = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(2 * n);
    for (i, &j) in partners.iter().enumerate() {
        let j = j as usize;
        bytes.extend(overlay(digits.image(i), digits.image(j)));
        labels.push(i64::from(digits.labels[i]));
        labels.push(i64::from(digits.labels[j]));
    }
    let x = Tensor::from_slice(&bytes)
        .view([n as i64, 1, SIDE as i64, SIDE as i64])
        .to_kind(Kind::Float);
    let x = (x / 255.0 - MEAN) / STD;
    let y = Tensor::from_slice(&labels).view([n as i64, 2]);
    Ok(MultiDigits {
        x: x.to_device(device),
        y: y.to_device(device),
        partners,
    })
}

/// MultiMNIST's train and test splits of MNIST's, their partners drawn after `manual_seed(seed)` (train first).
pub fn train_and_test(
    train: &Digits,
    test: &Digits,
    seed: u64,
    device: Device,
) -> Result<(MultiDigits, MultiDigits), DataError> {
    shift_tensor::tch::manual_seed(seed as i64);
    let train = build(train, device)?;
    let test = build(test, device)?;
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(fill: u8, at: (usize, usize)) -> Vec<u8> {
        let mut d = vec![0u8; SIDE * SIDE];
        d[at.0 * SIDE + at.1] = fill;
        d
    }

    #[test]
    fn overlay_places_the_digits_and_takes_the_maximum_where_they_meet() {
        // Left pixel at canvas (0, 0) -> output (0, 0); right pixel at its (27, 27) -> canvas (33, 33) -> output 25
        // reads canvas floor(25.5 * 36 / 28) = 32, 26 reads 34: so the right digit's (26, 26) at canvas (32, 32)
        // shows at output (25, 25).
        let left = digit(200, (0, 0));
        let right = digit(100, (26, 26));
        let out = overlay(&left, &right);
        // Byte-scaled by the canvas maximum 200 in f64 as NumPy computes it: 200 -> 255, 100 -> 100 * 1.275 =
        // 127.49999999999999, + 0.5, truncated: 127.
        assert_eq!(out[0], 255);
        assert_eq!(out[25 * SIDE + 25], 127);
        assert_eq!(out.iter().filter(|&&v| v > 0).count(), 2);
        // Overlap: left (10, 10) and right (4, 4) share canvas (10, 10); the maximum wins. Output 8 reads canvas
        // floor(8.5 * 9 / 7) = 10.
        let mut left = digit(90, (10, 10));
        left[0] = 255;
        let right = digit(180, (4, 4));
        assert_eq!(overlay(&left, &right)[8 * SIDE + 8], 180);
        let right = digit(30, (4, 4));
        assert_eq!(overlay(&left, &right)[8 * SIDE + 8], 90);
    }

    #[test]
    fn labels_are_the_left_digit_and_its_partner() {
        let n = 50;
        let digits = Digits {
            images: (0..n * SIDE * SIDE).map(|i| (i % 251) as u8).collect(),
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
            height: SIDE,
            width: SIDE,
            channels: 1,
        };
        shift_tensor::tch::manual_seed(3);
        let m = build(&digits, Device::Cpu).unwrap();
        assert_eq!(m.x.size(), [n as i64, 1, 28, 28]);
        assert_eq!(m.y.size(), [n as i64, 2]);
        let y = Vec::<i64>::try_from(m.y.view([-1])).unwrap();
        for (i, &j) in m.partners.iter().enumerate() {
            assert_eq!(y[2 * i], (i % 10) as i64);
            assert_eq!(y[2 * i + 1], j % 10);
            assert!((0..n as i64).contains(&j));
        }
        // Each image is its digit overlaid on its partner's, normalised.
        let want = Tensor::from_slice(&overlay(digits.image(7), digits.image(m.partners[7] as usize)))
            .to_kind(Kind::Float)
            .view([1, 28, 28]);
        let want = (want / 255.0 - MEAN) / STD;
        assert!(m.x.get(7).allclose(&want, 1e-6, 1e-6, false));
        // Not every partner is the image itself: they are drawn.
        assert!(m.partners.iter().enumerate().any(|(i, &j)| i as i64 != j));
        // The same seed draws the same partners.
        shift_tensor::tch::manual_seed(3);
        assert_eq!(build(&digits, Device::Cpu).unwrap().partners, m.partners);
    }

    #[test]
    fn refuses_images_that_are_not_mnist_digits() {
        let digits = Digits {
            images: vec![0; 32 * 32 * 3],
            labels: vec![1],
            height: 32,
            width: 32,
            channels: 3,
        };
        let e = build(&digits, Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("MultiMNIST") && e.contains("32 x 32 x 3"), "{e}");
        let empty = Digits {
            images: vec![],
            labels: vec![],
            height: 28,
            width: 28,
            channels: 1,
        };
        assert!(build(&empty, Device::Cpu)
            .unwrap_err()
            .to_string()
            .contains("no MNIST digits"));
    }
}
