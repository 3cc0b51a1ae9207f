//! MNIST-M (Ganin et al., JMLR 2016): MNIST digits blended over BSDS500 patches. Loads the released layout
//! (`mnist_m_{train,test}/*.png` + `mnist_m_{train,test}_labels.txt`), rebuilds it with the paper's recipe,
//! and writes the released layout.

use crate::{bsds500::decode_rgb, digits::Digits, error::DataError, mnist::Mnist};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Released split sizes: the first 59,001 MNIST train and 9,001 MNIST test digits.
pub const TRAIN_LEN: usize = 59_001;
pub const TEST_LEN: usize = 9_001;
const SIDE: usize = 32;

#[derive(Debug, Clone)]
pub struct MnistM {
    pub train: Digits,
    pub test: Digits,
}

impl MnistM {
    /// Loads a folder installed by `cargo xtask download mnist-m`.
    pub fn load(folder: &Path) -> Result<Self, DataError> {
        crate::require_complete(folder, "mnist-m")?;
        Self::from_files(folder)
    }

    /// Loads the released layout from `folder` without asking for the completion marker.
    pub fn from_files(folder: &Path) -> Result<Self, DataError> {
        Ok(Self {
            train: load_split(folder, "train")?,
            test: load_split(folder, "test")?,
        })
    }

    /// Rebuilds MNIST-M: each MNIST digit, zero-padded to 32 x 32 and binarised (x > 0 -> 255) on three
    /// channels, is combined with a random 32 x 32 crop of a random BSDS500 train photo as `|crop - digit|`.
    /// Train comes from the first 59,001 MNIST train digits, test from the first 9,001 test digits, so counts
    /// and labels match the released set. Deterministic for a seed, whatever the number of threads.
    pub fn rebuild(mnist: &Mnist, photos: &[RgbImage], seed: u64) -> Result<Self, DataError> {
        if let Some(small) = photos
            .iter()
            .find(|p| (p.width() as usize) < SIDE || (p.height() as usize) < SIDE)
        {
            return Err(DataError::Invalid {
                what: "BSDS500 photos".into(),
                msg: format!("a {}x{} photo is smaller than 32x32", small.width(), small.height()),
            });
        }
        if photos.is_empty() {
            return Err(DataError::Invalid {
                what: "BSDS500 photos".into(),
                msg: "none given".into(),
            });
        }
        Ok(Self {
            train: blend(&mnist.train.take(TRAIN_LEN), photos, seed, 0),
            test: blend(&mnist.test.take(TEST_LEN), photos, seed, 1),
        })
    }

    /// Writes the released layout into `folder` (PNG files and label files).
    pub fn write(&self, folder: &Path) -> Result<(), DataError> {
        write_split(&self.train, folder, "train")?;
        write_split(&self.test, folder, "test")
    }
}

fn blend(digits: &Digits, photos: &[RgbImage], seed: u64, split: u64) -> Digits {
    let (dh, dw) = (digits.height, digits.width);
    let (top, left) = ((SIDE - dh) / 2, (SIDE - dw) / 2);
    let images: Vec<Vec<u8>> = (0..digits.len())
        .into_par_iter()
        .map(|i| {
            // One independent stream per image: the same result however rayon splits the work.
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream((split << 40) | i as u64);
            let photo = &photos[rng.gen_range(0..photos.len())];
            let x0 = rng.gen_range(0..=photo.width() as usize - SIDE);
            let y0 = rng.gen_range(0..=photo.height() as usize - SIDE);
            let digit = digits.image(i);
            let mut out = vec![0u8; SIDE * SIDE * 3];
            for r in 0..SIDE {
                for c in 0..SIDE {
                    let inside = (top..top + dh).contains(&r) && (left..left + dw).contains(&c);
                    let d = if inside && digit[(r - top) * dw + (c - left)] > 0 {
                        255i16
                    } else {
                        0
                    };
                    let px = photo.get_pixel((x0 + c) as u32, (y0 + r) as u32).0;
                    for ch in 0..3 {
                        out[(r * SIDE + c) * 3 + ch] = (px[ch] as i16 - d).unsigned_abs() as u8;
                    }
                }
            }
            out
        })
        .collect();
    Digits {
        images: images.concat(),
        labels: digits.labels.clone(),
        height: SIDE,
        width: SIDE,
        channels: 3,
    }
}

fn labels_path(folder: &Path, split: &str) -> PathBuf {
    folder.join(format!("mnist_m_{split}_labels.txt"))
}

/// Parses `<file> <digit>` lines; returns (file name, label) pairs.
pub fn parse_labels(text: &str, path: &Path) -> Result<Vec<(String, u8)>, DataError> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(file), Some(label), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(DataError::format(
                path,
                format!("line {}: expected `<file> <digit>`, got `{line}`", n + 1),
            ));
        };
        let label: u8 = match label.parse() {
            Ok(l) if l <= 9 => l,
            _ => {
                return Err(DataError::format(
                    path,
                    format!("line {}: label `{label}` is not a digit 0-9", n + 1),
                ))
            }
        };
        if file.contains('/') || file.contains("..") {
            return Err(DataError::format(
                path,
                format!("line {}: `{file}` is not a plain file name", n + 1),
            ));
        }
        rows.push((file.to_string(), label));
    }
    Ok(rows)
}

fn load_split(folder: &Path, split: &str) -> Result<Digits, DataError> {
    let lpath = labels_path(folder, split);
    let text = std::fs::read_to_string(&lpath).map_err(DataError::io(&lpath))?;
    let rows = parse_labels(&text, &lpath)?;
    let dir = folder.join(format!("mnist_m_{split}"));
    // Decoded in parallel, collected in order: the error reported is the first bad file, every time.
    let decoded: Vec<Result<Vec<u8>, DataError>> = rows
        .par_iter()
        .map(|(file, _)| {
            let path = dir.join(file);
            let img = decode_rgb(&path)?;
            if img.width() as usize != SIDE || img.height() as usize != SIDE {
                return Err(DataError::format(
                    &path,
                    format!("image is {}x{}, expected 32x32", img.width(), img.height()),
                ));
            }
            Ok(img.into_raw())
        })
        .collect();
    let images = decoded.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Digits {
        images: images.concat(),
        labels: rows.iter().map(|(_, l)| *l).collect(),
        height: SIDE,
        width: SIDE,
        channels: 3,
    })
}

fn write_split(digits: &Digits, folder: &Path, split: &str) -> Result<(), DataError> {
    let dir = folder.join(format!("mnist_m_{split}"));
    std::fs::create_dir_all(&dir).map_err(DataError::io(&dir))?;
    (0..digits.len()).into_par_iter().try_for_each(|i| {
        let path = dir.join(format!("{i:08}.png"));
        let img = RgbImage::from_raw(SIDE as u32, SIDE as u32, digits.image(i).to_vec()).expect("32x32x3 bytes");
        img.save(&path).map_err(|e| DataError::Image {
            path: path.clone(),
            msg: e.to_string(),
        })
    })?;
    let labels: String = digits
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{i:08}.png {l}\n"))
        .collect();
    let lpath = labels_path(folder, split);
    std::fs::write(&lpath, labels).map_err(DataError::io(&lpath))
}
