//! BSDS500 train photos (Arbelaez et al. 2011): the backgrounds MNIST-M is blended onto.

use crate::error::DataError;
use image::RgbImage;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Loads every JPEG in `<folder>/train`, in file-name order (the order the rebuild's random draws index).
pub fn load_train_photos(folder: &Path) -> Result<Vec<RgbImage>, DataError> {
    crate::require_complete(folder, "bsds500")?;
    let dir = folder.join("train");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(DataError::io(&dir))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(DataError::format(&dir, "no .jpg photos"));
    }
    // Decoded in parallel, collected in order: the error reported is the first bad file, every time.
    let decoded: Vec<Result<RgbImage, DataError>> = paths.par_iter().map(|p| decode_rgb(p)).collect();
    decoded.into_iter().collect()
}

/// Decodes any image file to 8-bit RGB; an unreadable file is an error naming it.
pub fn decode_rgb(path: &Path) -> Result<RgbImage, DataError> {
    let img = image::ImageReader::open(path)
        .map_err(DataError::io(path))?
        .with_guessed_format()
        .map_err(DataError::io(path))?
        .decode()
        .map_err(|e| DataError::Image {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
    Ok(img.into_rgb8())
}
