//! `Digits`: a labelled split of small images held as bytes (N x H x W x C), and its conversion to tensors.

use crate::error::DataError;
use shift_tensor::tch::{Device, Kind, Tensor};

/// Images as interleaved bytes, N x H x W x C, with one label (0..=9) each.
#[derive(Debug, Clone, PartialEq)]
pub struct Digits {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Digits {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.height * self.width * self.channels;
        &self.images[i * n..(i + 1) * n]
    }

    /// The first `n` examples (or all of them).
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        let size = self.height * self.width * self.channels;
        Self {
            images: self.images[..n * size].to_vec(),
            labels: self.labels[..n].to_vec(),
            ..*self
        }
    }

    /// Examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut images = Vec::with_capacity(indices.len() * self.height * self.width * self.channels);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Self {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ..*self
        }
    }

    /// Images as float N x 3 x 32 x 32 in [-1, 1] (`(x / 255 - 0.5) / 0.5`, as the PyTorch reference does):
    /// 28 x 28 grey digits are zero-padded to 32 x 32 and repeated over three channels. Labels as int64.
    pub fn to_tensors(&self, device: Device) -> Result<(Tensor, Tensor), DataError> {
        let (n, h, w, c) = (
            self.len() as i64,
            self.height as i64,
            self.width as i64,
            self.channels as i64,
        );
        let raw = Tensor::from_slice(&self.images)
            .view([n, h, w, c])
            .permute([0, 3, 1, 2]);
        let raw = match (h, w, c) {
            (32, 32, 3) => raw,
            (28, 28, 1) => raw.constant_pad_nd([2, 2, 2, 2]).expand([n, 3, 32, 32], false),
            _ => {
                return Err(DataError::Invalid {
                    what: "digits".into(),
                    msg: format!("{h}x{w}x{c} images cannot become 3x32x32 inputs"),
                })
            }
        };
        let x = (raw.to_kind(Kind::Float) / 255.0 - 0.5) / 0.5;
        let y = Tensor::from_slice(&self.labels).to_kind(Kind::Int64);
        Ok((x.contiguous().to_device(device), y.to_device(device)))
    }
}
