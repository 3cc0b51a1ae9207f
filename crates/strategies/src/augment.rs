//! On-device augmentation of a batch, as self-ensembling applies it (French, Mackiewicz & Fisher, ICLR 2018;
//! the reference code's `augmentation.py`): per image an intensity flip, scale and offset (one value for all
//! channels, or with `per_channel` one per channel: a colour change), a small random affine warp (identity plus N(0, affine_std) on the 2 x 2 matrix, a translation
//! uniform in +-translate pixels; bilinear, zero outside), then Gaussian noise. Every draw comes from libtorch's
//! generator, so a step draws the same on a resumed run. Inputs that are not images (N x D) get the noise only.

use shift_tensor::tch::{Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Std of the normal noise added to each entry of the affine warp's 2 x 2 matrix.
    pub affine_std: f64,
    /// Largest translation, in pixels.
    pub translate: f64,
    /// The intensity flip (x -> -x with probability 1/2), scale and offset of each image.
    pub intensity: Option<Intensity>,
    /// Std of the Gaussian noise added last.
    pub noise_std: f64,
}

/// Each image's intensity change: flipped with probability 1/2, scaled by U(scale), offset by U(offset).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intensity {
    pub scale: (f64, f64),
    pub offset: (f64, f64),
    /// Draw the flip, scale and offset for each channel apart (a grey image becomes a coloured one).
    pub per_channel: bool,
}

/// `lo + (hi - lo) * U(0, 1)` of `shape`, like `x`.
fn uniform(x: &Tensor, shape: &[i64], (lo, hi): (f64, f64)) -> Tensor {
    Tensor::rand(shape, (x.kind(), x.device())) * (hi - lo) + lo
}

impl Augmentation {
    /// An augmented copy of `x` (N x C x H x W images, or N x D vectors which get the noise only).
    pub fn apply(&self, x: &Tensor) -> Tensor {
        let x = x.detach();
        let x = if x.dim() == 4 {
            self.warp(&self.intensity(&x))
        } else {
            x
        };
        if self.noise_std > 0.0 {
            &x + x.randn_like() * self.noise_std
        } else {
            x
        }
    }

    fn intensity(&self, x: &Tensor) -> Tensor {
        let Some(i) = self.intensity else {
            return x.shallow_clone();
        };
        let size = x.size();
        let per_image = [size[0], if i.per_channel { size[1] } else { 1 }, 1, 1];
        let sign = Tensor::rand(per_image, (x.kind(), x.device()))
            .lt(0.5)
            .to_kind(x.kind())
            * -2.0
            + 1.0;
        x * sign * uniform(x, &per_image, i.scale) + uniform(x, &per_image, i.offset)
    }

    fn warp(&self, x: &Tensor) -> Tensor {
        if self.affine_std == 0.0 && self.translate == 0.0 {
            return x.shallow_clone();
        }
        let size = x.size();
        let (n, h, w) = (size[0], size[2], size[3]);
        let opts = (x.kind(), x.device());
        let matrix = Tensor::eye(2, opts).unsqueeze(0) + Tensor::randn([n, 2, 2], opts) * self.affine_std;
        // Pixels to the [-1, 1] coordinates of the sampling grid (align_corners = false: a pixel is 2 / size).
        let shift = uniform(x, &[n, 2, 1], (-self.translate, self.translate))
            * Tensor::from_slice(&[2.0 / w as f64, 2.0 / h as f64])
                .to_kind(x.kind())
                .to_device(x.device())
                .view([1, 2, 1]);
        let theta = Tensor::cat(&[matrix, shift], 2);
        let grid = Tensor::affine_grid_generator(&theta, size.as_slice(), false);
        // Bilinear (0), zeros outside (0).
        x.contiguous()
            .grid_sampler(&grid.to_kind(Kind::Float).to_kind(x.kind()), 0, 0, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::Device;

    fn none() -> Augmentation {
        Augmentation {
            affine_std: 0.0,
            translate: 0.0,
            intensity: None,
            noise_std: 0.0,
        }
    }

    #[test]
    fn the_identity_leaves_images_as_they_are() {
        let _rng = crate::test_rng();
        let x = Tensor::randn([3, 3, 8, 8], (Kind::Float, Device::Cpu));
        assert_eq!(none().apply(&x), x);
    }

    #[test]
    fn a_whole_pixel_shift_moves_the_image_by_one_pixel() {
        // translate 1 with the uniform draw forced to the edge is not reachable by sampling, so check the warp
        // itself: an identity matrix and a one-pixel shift reproduce the image moved by one column.
        let x = Tensor::arange(16, (Kind::Float, Device::Cpu)).view([1, 1, 4, 4]);
        let theta = Tensor::from_slice(&[1.0f32, 0.0, 2.0 / 4.0, 0.0, 1.0, 0.0]).view([1, 2, 3]);
        let grid = Tensor::affine_grid_generator(&theta, [1, 1, 4, 4].as_slice(), false);
        let y = x.grid_sampler(&grid, 0, 0, false);
        let want = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 0.0]);
        assert_eq!(y.get(0).get(0).get(0), want);
    }

    /// `apply` warps: a shift of up to one pixel keeps a constant image's interior (bilinear of a constant) and
    /// pulls zeros in at the edges it moves away from; the same seed draws the same warp.
    #[test]
    fn apply_shifts_each_image_by_its_own_draw_and_zeros_come_in_at_the_edges() {
        let _rng = crate::test_rng();
        let aug = Augmentation {
            translate: 1.0,
            ..none()
        };
        let x = Tensor::ones([16, 1, 8, 8], (Kind::Float, Device::Cpu));
        shift_tensor::tch::manual_seed(11);
        let y = aug.apply(&x);
        shift_tensor::tch::manual_seed(11);
        assert_eq!(aug.apply(&x), y, "the same seed, the same warp");
        let interior = y.narrow(2, 1, 6).narrow(3, 1, 6);
        assert!((interior - 1.0).abs().max().double_value(&[]) < 1e-6);
        // Every image loses some of its border to the zeros outside, and the images differ from each other.
        let lost = (&x - &y).sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float);
        assert!(lost.min().double_value(&[]) > 0.0, "{lost}");
        assert!((&y.get(0) - &y.get(1)).abs().max().double_value(&[]) > 0.0);
        // The affine part moves a pattern's interior too.
        let warped = Augmentation {
            affine_std: 0.2,
            ..none()
        };
        let pattern = Tensor::arange(64, (Kind::Float, Device::Cpu))
            .view([1, 1, 8, 8])
            .repeat([4, 1, 1, 1]);
        let z = warped.apply(&pattern);
        assert!(
            (z - &pattern)
                .narrow(2, 2, 4)
                .narrow(3, 2, 4)
                .abs()
                .max()
                .double_value(&[])
                > 0.1
        );
    }

    /// The self-ensembling intensity change (scale 0.25..1.5, offset -0.5..0.5) of 64 all-ones 3 x 2 x 2 images,
    /// drawn from `seed` while holding the generator's lock.
    fn intensity_of_ones(seed: i64, per_channel: bool) -> Tensor {
        let _rng = crate::test_rng();
        shift_tensor::tch::manual_seed(seed);
        let aug = Augmentation {
            intensity: Some(Intensity {
                scale: (0.25, 1.5),
                offset: (-0.5, 0.5),
                per_channel,
            }),
            ..none()
        };
        aug.apply(&Tensor::ones([64, 3, 2, 2], (Kind::Float, Device::Cpu)))
    }

    #[test]
    fn each_image_gets_one_intensity_change_for_all_its_channels() {
        let y = intensity_of_ones(3, false);
        // One value per image, the same on every channel and pixel.
        let first = y.narrow(1, 0, 1).narrow(2, 0, 1).narrow(3, 0, 1);
        assert_eq!((y - &first).abs().max().double_value(&[]), 0.0);
        let v: Vec<f64> = Vec::try_from(first.flatten(0, -1).to_kind(Kind::Double)).unwrap();
        // |x| = 1: the value lies in +-[0.25, 1.5] + [-0.5, 0.5]; both signs occur over 64 images.
        assert!(v.iter().all(|a| (-2.0..=2.0).contains(a)), "{v:?}");
        assert!(v.iter().any(|&a| a > 0.9) && v.iter().any(|&a| a < -0.9), "{v:?}");
    }

    #[test]
    fn a_colour_change_draws_each_channel_apart_and_keeps_each_channel_flat() {
        let y = intensity_of_ones(4, true);
        // One value per image and channel: flat over the pixels...
        let corner = y.narrow(2, 0, 1).narrow(3, 0, 1);
        assert_eq!((&y - &corner).abs().max().double_value(&[]), 0.0);
        // ...and different between the channels of every image (a grey input comes out coloured).
        let spread = corner.amax([1i64].as_slice(), false) - corner.amin([1i64].as_slice(), false);
        assert!(spread.min().double_value(&[]) > 0.0, "{spread}");
        let v: Vec<f64> = Vec::try_from(corner.flatten(0, -1).to_kind(Kind::Double)).unwrap();
        assert!(v.iter().all(|a| (-2.0..=2.0).contains(a)), "{v:?}");
    }

    #[test]
    fn vectors_get_noise_only_and_the_same_seed_draws_the_same() {
        let _rng = crate::test_rng();
        let aug = Augmentation {
            noise_std: 0.5,
            ..none()
        };
        let x = Tensor::zeros([1000, 2], (Kind::Float, Device::Cpu));
        shift_tensor::tch::manual_seed(7);
        let a = aug.apply(&x);
        shift_tensor::tch::manual_seed(7);
        assert_eq!(aug.apply(&x), a);
        let std = a.std(true).double_value(&[]);
        assert!((std - 0.5).abs() < 0.05, "{std}");
    }
}
