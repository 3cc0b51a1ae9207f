//! A threaded image pipeline: decodes and transforms a batch on rayon's threads while the previous batch
//! trains (bounded prefetch), with an optional in-memory cache of decoded, resized images.

use crate::bsds500::decode_rgb;
use crate::error::DataError;
use crate::office31::ImageList;
use crate::transforms::{crop_normalise, resize_shorter, Transform, CROP, RESIZE};
use image::RgbImage;
use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use shift_tensor::tch::Tensor;
use std::sync::{mpsc, Arc, OnceLock};

/// A labelled batch: images N x 3 x 224 x 224 (float, normalised) and labels N (int64), on the CPU.
pub type Batch = (Tensor, Tensor);

/// Loads and transforms images from a list, batch by batch.
#[derive(Debug, Clone)]
pub struct ImagePipeline {
    list: Arc<ImageList>,
    transform: Transform,
    batch: usize,
    prefetch: usize,
    /// Decoded and resized (shorter side 256) images, filled on first use when caching is on.
    cache: Option<Arc<Vec<OnceLock<Arc<RgbImage>>>>>,
}

impl ImagePipeline {
    pub fn new(list: ImageList, transform: Transform, batch: usize) -> Result<Self, DataError> {
        if batch == 0 {
            return Err(DataError::Invalid {
                what: "batch size".into(),
                msg: "must be at least 1".into(),
            });
        }
        Ok(Self {
            list: Arc::new(list),
            transform,
            batch,
            prefetch: 2,
            cache: None,
        })
    }

    /// Keeps every decoded, resized image in memory after its first use (Office-31 fits easily).
    pub fn with_cache(mut self) -> Self {
        self.cache = Some(Arc::new((0..self.list.len()).map(|_| OnceLock::new()).collect()));
        self
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Batches in one epoch (the last, short batch is kept for evaluation and dropped for training).
    pub fn batches_per_epoch(&self) -> usize {
        match self.transform {
            Transform::Train => self.list.len() / self.batch,
            Transform::Eval => self.list.len().div_ceil(self.batch),
        }
    }

    /// One epoch: shuffled for training, in order for evaluation. The crops and flips depend only on `seed`
    /// and the image's position in the epoch, never on thread timing. Batches are produced ahead on a
    /// background thread.
    pub fn epoch(&self, seed: u64) -> impl Iterator<Item = Result<Batch, DataError>> {
        let mut order: Vec<usize> = (0..self.list.len()).collect();
        if self.transform == Transform::Train {
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            order.truncate(self.batches_per_epoch() * self.batch);
        }
        let (tx, rx) = mpsc::sync_channel(self.prefetch);
        let me = self.clone();
        std::thread::spawn(move || {
            for (b, chunk) in order.chunks(me.batch).enumerate() {
                let batch = me.make_batch(chunk, seed, b * me.batch);
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        rx.into_iter()
    }

    fn make_batch(&self, indices: &[usize], seed: u64, offset: usize) -> Result<Batch, DataError> {
        // Transformed in parallel, collected in order: the error reported is the first bad file, every time.
        let pixels: Vec<Result<Vec<f32>, DataError>> = indices
            .par_iter()
            .enumerate()
            .map(|(k, &i)| {
                let img = self.resized(i)?;
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream((offset + k) as u64);
                Ok(crop_normalise(&img, self.transform, &mut rng))
            })
            .collect();
        let pixels = pixels.into_iter().collect::<Result<Vec<_>, DataError>>()?;
        let n = indices.len() as i64;
        let x = Tensor::from_slice(&pixels.concat()).view([n, 3, CROP as i64, CROP as i64]);
        let y = Tensor::from_slice(&indices.iter().map(|&i| self.list.labels[i]).collect::<Vec<_>>());
        Ok((x, y))
    }

    fn resized(&self, i: usize) -> Result<Arc<RgbImage>, DataError> {
        let load = || decode_rgb(&self.list.paths[i]).map(|img| Arc::new(resize_shorter(&img, RESIZE)));
        match &self.cache {
            Some(cache) => {
                if let Some(img) = cache[i].get() {
                    return Ok(img.clone());
                }
                let img = load()?;
                Ok(cache[i].get_or_init(|| img).clone())
            }
            None => load(),
        }
    }
}
