//! Image transforms for ImageNet-style backbones: resize the shorter side, crop, flip, normalise to CHW floats.

use image::{imageops, RgbImage};
use rand::Rng;

/// ImageNet channel means and standard deviations (torchvision's).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Train: resize 256, random crop 224, random horizontal flip. Eval: resize 256, centre crop 224.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Train,
    Eval,
}

pub const RESIZE: u32 = 256;
pub const CROP: u32 = 224;

/// Resizes so that the shorter side is `side` (bilinear), keeping the aspect ratio (torchvision `Resize(int)`).
pub fn resize_shorter(img: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.min(h) == side {
        return img.clone();
    }
    let (nw, nh) = if w <= h {
        (side, ((h as f64) * side as f64 / w as f64).round() as u32)
    } else {
        (((w as f64) * side as f64 / h as f64).round() as u32, side)
    };
    imageops::resize(img, nw, nh, imageops::FilterType::Triangle)
}

/// Applies the crop (and flip) of `transform` to an image already resized by [`resize_shorter`], and returns
/// normalised CHW floats (3 x 224 x 224).
pub fn crop_normalise(img: &RgbImage, transform: Transform, rng: &mut impl Rng) -> Vec<f32> {
    let (w, h) = img.dimensions();
    let (x0, y0, flip) = match transform {
        Transform::Train => (
            rng.gen_range(0..=w.saturating_sub(CROP)),
            rng.gen_range(0..=h.saturating_sub(CROP)),
            rng.gen_bool(0.5),
        ),
        Transform::Eval => (w.saturating_sub(CROP) / 2, h.saturating_sub(CROP) / 2, false),
    };
    let plane = (CROP * CROP) as usize;
    let mut out = vec![0f32; 3 * plane];
    for y in 0..CROP.min(h) {
        for x in 0..CROP.min(w) {
            let sx = if flip { x0 + CROP.min(w) - 1 - x } else { x0 + x };
            let px = img.get_pixel(sx, y0 + y).0;
            let at = (y * CROP + x) as usize;
            for c in 0..3 {
                out[c * plane + at] = (px[c] as f32 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            }
        }
    }
    out
}
