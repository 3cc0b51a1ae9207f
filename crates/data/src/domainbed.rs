//! DomainBed's two MNIST data sets (Gulrajani & Lopez-Paz, ICLR 2021; `domainbed/datasets.py`), built from the
//! 70,000 MNIST digits exactly as its `MultipleEnvironmentMNIST` builds them, so that the same seed gives the
//! same domains:
//!
//! 1. train and test images concatenated (train first), then shuffled by `torch.randperm(70000)` from libtorch's
//!    generator seeded with the construction seed (DomainBed's `torch.manual_seed(args.seed)` in `train.py`);
//! 2. domain `i` of `D` takes every `D`-th image from `i` (`original_images[i::D]`);
//! 3. each domain is transformed in turn:
//!    - **ColoredMNIST** (Arjovsky et al., 2019): the label is `digit < 5`, flipped with probability 0.25; the
//!      colour is the label, flipped with the domain's probability (0.1, 0.2, 0.9: the colour agrees with the
//!      label +90%, +80%, -90% of the time); the image is two channels, the one not of its colour zeroed; 28 x
//!      28, in [0, 1]. Each flip is `torch.rand(n) < p`, label noise first, then colour, domain by domain.
//!    - **RotatedMNIST**: each image rotated by the domain's angle (0, 15, 30, 45, 60, 75 degrees) as
//!      torchvision's `rotate` does a PIL image (bilinear, fill 0, about the centre, same size; [`pil_rotate`]),
//!      one channel in [0, 1], the digit its class.

use crate::digits::Digits;
use crate::error::DataError;
use shift_tensor::tch::{Device, Kind, Tensor};

/// ColoredMNIST's domains: the probability that the colour is flipped from the label, and its name.
pub const COLORED_FLIPS: [(f64, &str); 3] = [(0.1, "+90%"), (0.2, "+80%"), (0.9, "-90%")];
/// RotatedMNIST's domains: the rotation in degrees.
pub const ROTATIONS: [u32; 6] = [0, 15, 30, 45, 60, 75];
/// ColoredMNIST's label noise.
pub const LABEL_NOISE: f64 = 0.25;

/// One domain: images `[n, C, 28, 28]` in [0, 1] and classes `[n]`, on the CPU.
#[derive(Debug)]
pub struct Domain {
    pub name: String,
    pub x: Tensor,
    pub y: Tensor,
}

/// The 70,000 digits (train then test) as `[70000, 28, 28]` bytes and `[70000]` classes, shuffled by
/// `torch.randperm` after `manual_seed(seed)`, and the index of each domain's rows (`i::domains`).
fn shuffled(train: &Digits, test: &Digits, seed: u64) -> Result<(Tensor, Tensor), DataError> {
    for d in [train, test] {
        if (d.height, d.width, d.channels) != (28, 28, 1) {
            return Err(DataError::Invalid {
                what: "MNIST".into(),
                msg: format!(
                    "DomainBed's MNIST data sets need 28 x 28 grey digits, got {} x {} x {}",
                    d.height, d.width, d.channels
                ),
            });
        }
    }
    let n = (train.len() + test.len()) as i64;
    let bytes: Vec<u8> = train.images.iter().chain(&test.images).copied().collect();
    let labels: Vec<i64> = train.labels.iter().chain(&test.labels).map(|&l| i64::from(l)).collect();
    let images = Tensor::from_slice(&bytes).view([n, 28, 28]);
    let labels = Tensor::from_slice(&labels);
    shift_tensor::tch::manual_seed(seed as i64);
    let shuffle = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
    Ok((images.index_select(0, &shuffle), labels.index_select(0, &shuffle)))
}

/// Rows `i::d` of `t`.
fn every(t: &Tensor, i: i64, d: i64) -> Tensor {
    let n = t.size()[0];
    t.slice(0, i, n, d)
}

/// `torch.rand(n) < p` as 0/1 integers (DomainBed's `torch_bernoulli_`).
fn bernoulli(p: f64, n: i64) -> Tensor {
    Tensor::rand([n], (Kind::Float, Device::Cpu)).lt(p).to_kind(Kind::Int64)
}

/// ColoredMNIST's three domains from MNIST's train and test digits, under construction seed `seed`.
pub fn colored_mnist(train: &Digits, test: &Digits, seed: u64) -> Result<Vec<Domain>, DataError> {
    let (images, labels) = shuffled(train, test, seed)?;
    let d = COLORED_FLIPS.len() as i64;
    let mut domains = Vec::new();
    for (i, &(flip, name)) in COLORED_FLIPS.iter().enumerate() {
        let (im, digit) = (every(&images, i as i64, d), every(&labels, i as i64, d));
        let n = digit.size()[0];
        let label = digit
            .lt(5)
            .to_kind(Kind::Int64)
            .logical_xor(&bernoulli(LABEL_NOISE, n))
            .to_kind(Kind::Int64);
        let colour = label.logical_xor(&bernoulli(flip, n)).to_kind(Kind::Int64);
        // Channel c keeps the image where the colour is c.
        let keep = Tensor::stack(&[colour.eq(0), colour.eq(1)], 1)
            .to_kind(Kind::Float)
            .view([n, 2, 1, 1]);
        let x = im.to_kind(Kind::Float).unsqueeze(1).repeat([1, 2, 1, 1]) * keep / 255.0;
        domains.push(Domain {
            name: name.to_string(),
            x,
            y: label,
        });
    }
    Ok(domains)
}

/// RotatedMNIST's six domains from MNIST's train and test digits, under construction seed `seed`.
pub fn rotated_mnist(train: &Digits, test: &Digits, seed: u64) -> Result<Vec<Domain>, DataError> {
    let (images, labels) = shuffled(train, test, seed)?;
    let d = ROTATIONS.len() as i64;
    let mut domains = Vec::new();
    for (i, &angle) in ROTATIONS.iter().enumerate() {
        let (im, y) = (every(&images, i as i64, d), every(&labels, i as i64, d));
        let n = y.size()[0];
        let bytes = Vec::<u8>::try_from(im.flatten(0, -1)).map_err(|e| DataError::Invalid {
            what: "RotatedMNIST".into(),
            msg: e.to_string(),
        })?;
        let rotated: Vec<u8> = bytes
            .chunks(28 * 28)
            .flat_map(|img| pil_rotate(img, 28, 28, f64::from(angle)))
            .collect();
        let x = Tensor::from_slice(&rotated).view([n, 1, 28, 28]).to_kind(Kind::Float) / 255.0;
        domains.push(Domain {
            name: angle.to_string(),
            x,
            y,
        });
    }
    Ok(domains)
}

/// A grey `w x h` image rotated by `degrees` counter-clockwise about its centre, as PIL's `Image.rotate(degrees,
/// BILINEAR, expand=False, fillcolor=0)` computes it (Pillow, `Image.rotate` and `libImaging/Geometry.c`): the
/// inverse affine map of each output pixel's centre, rounded to 15 decimals as PIL rounds the matrix; a point
/// outside the image is 0; otherwise bilinear between the four nearest pixels (rows and columns clamped at the
/// edge), truncated to a byte.
pub fn pil_rotate(img: &[u8], w: usize, h: usize, degrees: f64) -> Vec<u8> {
    // Python's round(v, 15): the exact binary value rounded to 15 decimals (scaling by 1e15 first would round
    // twice and misplace some halves).
    let round15 = |v: f64| format!("{v:.15}").parse::<f64>().expect("a formatted float parses");
    let angle = -(degrees % 360.0).to_radians();
    let (c, s) = (round15(angle.cos()), round15(angle.sin()));
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    // matrix = [c, s, tx, -s, c, ty], the translation placing the centre.
    let tx = c * -cx + s * -cy + cx;
    let ty = -s * -cx + c * -cy + cy;
    let at = |x: i64, y: i64| f64::from(img[y.clamp(0, h as i64 - 1) as usize * w + x.clamp(0, w as i64 - 1) as usize]);
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (xo, yo) = (x as f64 + 0.5, y as f64 + 0.5);
            let xin = c * xo + s * yo + tx;
            let yin = -s * xo + c * yo + ty;
            if xin < 0.0 || xin >= w as f64 || yin < 0.0 || yin >= h as f64 {
                continue;
            }
            let (xi, yi) = (xin - 0.5, yin - 0.5);
            let (x0, y0) = (xi.floor() as i64, yi.floor() as i64);
            let (dx, dy) = (xi - x0 as f64, yi - y0 as f64);
            let lerp = |a: f64, b: f64, d: f64| a + (b - a) * d;
            let v1 = lerp(at(x0, y0), at(x0 + 1, y0), dx);
            let v2 = if y0 + 1 < h as i64 {
                lerp(at(x0, y0 + 1), at(x0 + 1, y0 + 1), dx)
            } else {
                v1
            };
            out[y * w + x] = lerp(v1, v2, dy) as u8;
        }
    }
    out
}
