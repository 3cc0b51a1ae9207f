//! SimCLR's random views of a batch of images, on the device (Chen et al., ICML 2020, Appendix A): a random
//! resized crop, then a colour jitter with probability 0.8, then greyscale with probability 0.2.
//!
//! ```text
//! crop:   area a ~ U(scale), aspect ratio r = exp(U(ln 3/4, ln 4/3)), w = min(1, sqrt(a r)), h = min(1, sqrt(a / r))
//!         of the image's side, centred uniformly where the crop fits; resampled bilinearly to the input size
//! jitter: brightness u -> u b, contrast u -> (u - mean(grey(u))) c + mean(grey(u)),
//!         saturation u -> (u - grey(u)) s + grey(u),   b, c, s ~ U(1 - 0.8 strength, 1 + 0.8 strength)
//! grey:   grey(u) = 0.299 R + 0.587 G + 0.114 B in every channel
//! ```
//!
//! on the pixels `u = (x + 1) / 2` in [0, 1] (shift's images are in [-1, 1]), each step clamped to [0, 1] as
//! torchvision's functions clamp. What differs from the paper's CIFAR-10 recipe, chosen for digits before any run:
//! no horizontal flip (a mirrored digit is another symbol, or none), no hue jitter, and the jitter's three parts
//! in one fixed order rather than torchvision's random order. Every draw comes from libtorch's generator, so a step
//! draws the same on a resumed run.

use shift_tensor::tch::Tensor;

/// The distortion of one view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Views {
    /// The crop's area as a fraction of the image's, drawn uniformly from this range.
    pub crop_scale: (f64, f64),
    /// The colour distortion's strength s (brightness, contrast and saturation within 1 +- 0.8 s).
    pub strength: f64,
    /// The probability of the colour jitter.
    pub jitter_p: f64,
    /// The probability of greyscale.
    pub grey_p: f64,
}

/// `lo + (hi - lo) * U(0, 1)` of `shape`, like `x`.
fn uniform(x: &Tensor, shape: &[i64], (lo, hi): (f64, f64)) -> Tensor {
    Tensor::rand(shape, (x.kind(), x.device())) * (hi - lo) + lo
}

/// 1 with probability `p`, else 0, of `shape`, like `x`.
fn bernoulli(x: &Tensor, shape: &[i64], p: f64) -> Tensor {
    Tensor::rand(shape, (x.kind(), x.device())).lt(p).to_kind(x.kind())
}

/// The luma of N x 3 x H x W pixels, N x 1 x H x W (ITU-R 601, as torchvision's `rgb_to_grayscale`).
pub fn grey(u: &Tensor) -> Tensor {
    let w = Tensor::from_slice(&[0.299, 0.587, 0.114])
        .to_kind(u.kind())
        .to_device(u.device())
        .view([1, 3, 1, 1]);
    (u * w).sum_dim_intlist([1i64].as_slice(), true, u.kind())
}

impl Views {
    /// SimCLR's CIFAR-10 setting: crops of 8% to 100% of the area, colour distortion strength 0.5 (Chen et al.,
    /// ICML 2020, Appendix B.9).
    pub const SIMCLR_CIFAR: Self = Self {
        crop_scale: (0.08, 1.0),
        strength: 0.5,
        jitter_p: 0.8,
        grey_p: 0.2,
    };

    /// A random view of each of the N x C x H x W images `x` (pixels in [-1, 1]); the colour steps need C = 3 and
    /// are skipped on other inputs.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        let x = self.crop(&x.detach());
        if x.size()[1] != 3 || (self.jitter_p == 0.0 && self.grey_p == 0.0) {
            return x;
        }
        let u = ((x + 1.0) / 2.0).clamp(0.0, 1.0);
        let n = u.size()[0];
        let per_image = [n, 1, 1, 1];
        let jittered = self.jitter(&u);
        let jitter = bernoulli(&u, &per_image, self.jitter_p);
        let u = &jittered * &jitter + &u * (1.0 - &jitter);
        let greyed = grey(&u).expand_as(&u);
        let to_grey = bernoulli(&u, &per_image, self.grey_p);
        let u = greyed * &to_grey + &u * (1.0 - &to_grey);
        u * 2.0 - 1.0
    }

    /// Each image cropped to its drawn rectangle and resampled to its size (bilinear, align_corners = false; the
    /// border pixels repeat where a sample falls between the last pixel centre and the edge).
    fn crop(&self, x: &Tensor) -> Tensor {
        if self.crop_scale == (1.0, 1.0) {
            return x.shallow_clone();
        }
        let size = x.size();
        let n = size[0];
        let area = uniform(x, &[n], self.crop_scale);
        let ratio = uniform(x, &[n], ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln())).exp();
        let w = (&area * &ratio).sqrt().clamp_max(1.0);
        let h = (&area / &ratio).sqrt().clamp_max(1.0);
        // The centre in [-1, 1] coordinates, where the crop of half-width w (of the half-side 1) fits.
        let cx = (uniform(x, &[n], (-1.0, 1.0))) * (1.0 - &w);
        let cy = (uniform(x, &[n], (-1.0, 1.0))) * (1.0 - &h);
        let zero = Tensor::zeros([n], (x.kind(), x.device()));
        let theta = Tensor::stack(&[&w, &zero, &cx, &zero, &h, &cy], 1).view([n, 2, 3]);
        let grid = Tensor::affine_grid_generator(&theta, size.as_slice(), false);
        x.contiguous().grid_sampler(&grid, 0, 1, false)
    }

    /// Brightness, contrast and saturation, each by its own factor per image, clamped to [0, 1] after each.
    fn jitter(&self, u: &Tensor) -> Tensor {
        let n = u.size()[0];
        let range = (1.0 - 0.8 * self.strength, 1.0 + 0.8 * self.strength);
        let factor = || uniform(u, &[n, 1, 1, 1], range).clamp_min(0.0);
        let u = (u * factor()).clamp(0.0, 1.0);
        let mean = grey(&u).mean_dim([1i64, 2, 3].as_slice(), true, u.kind());
        let u = ((&u - &mean) * factor() + &mean).clamp(0.0, 1.0);
        let g = grey(&u);
        ((&u - &g) * factor() + &g).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::{Device, Kind};

    fn none() -> Views {
        Views {
            crop_scale: (1.0, 1.0),
            strength: 0.0,
            jitter_p: 0.0,
            grey_p: 0.0,
        }
    }

    #[test]
    fn no_distortion_is_the_identity() {
        let _rng = crate::test_rng();
        let x = Tensor::rand([4, 3, 8, 8], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        assert_eq!(none().apply(&x), x);
    }

    #[test]
    fn greyscale_always_gives_equal_channels_of_the_luma() {
        let _rng = crate::test_rng();
        let x = Tensor::rand([4, 3, 8, 8], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let y = Views { grey_p: 1.0, ..none() }.apply(&x);
        let want = grey(&((&x + 1.0) / 2.0)) * 2.0 - 1.0;
        for c in 0..3 {
            let d = (y.narrow(1, c, 1) - &want).abs().max().double_value(&[]);
            assert!(d < 1e-6, "channel {c}: {d}");
        }
    }

    /// A crop magnifies part of the image: a constant image stays constant (nothing from outside comes in) and a
    /// ramp's range shrinks; the same seed draws the same views.
    #[test]
    fn a_crop_stays_inside_the_image_and_magnifies() {
        let _rng = crate::test_rng();
        let ramp = Tensor::arange(8, (Kind::Float, Device::Cpu))
            .view([1, 1, 1, 8])
            .expand([2, 1, 8, 8], false)
            / 7.0;
        let small = Views {
            crop_scale: (0.25, 0.25),
            ..none()
        };
        let ones = Tensor::ones([16, 3, 8, 8], (Kind::Float, Device::Cpu));
        let y = small.apply(&ones);
        assert!(
            (y - 1.0).abs().max().double_value(&[]) < 1e-5,
            "a crop reads only inside the image"
        );
        let y = small.apply(&ramp.contiguous());
        let spread = |t: &Tensor| (t.max() - t.min()).double_value(&[]);
        assert!(spread(&y.get(0)) < 0.8 * spread(&ramp.get(0)));
        shift_tensor::tch::manual_seed(4);
        let a = Views::SIMCLR_CIFAR.apply(&ones);
        shift_tensor::tch::manual_seed(4);
        assert_eq!(Views::SIMCLR_CIFAR.apply(&ones), a, "the same seed, the same views");
    }

    #[test]
    fn the_jitter_keeps_pixels_in_range() {
        let _rng = crate::test_rng();
        let x = Tensor::rand([32, 3, 8, 8], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let y = Views {
            strength: 1.0,
            jitter_p: 1.0,
            ..none()
        }
        .apply(&x);
        assert!(y.max().double_value(&[]) <= 1.0 && y.min().double_value(&[]) >= -1.0);
        assert!((&y - &x).abs().max().double_value(&[]) > 0.1, "the colours moved");
    }
}
