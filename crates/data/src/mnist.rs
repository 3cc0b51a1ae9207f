//! MNIST (LeCun et al. 1998): 60,000 train / 10,000 test grey 28 x 28 digits from the four IDX files.

use crate::{digits::Digits, error::DataError, idx};
use std::path::Path;

pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";

#[derive(Debug, Clone)]
pub struct Mnist {
    pub train: Digits,
    pub test: Digits,
}

impl Mnist {
    /// Loads a folder installed by `cargo xtask download mnist`.
    pub fn load(folder: &Path) -> Result<Self, DataError> {
        crate::require_complete(folder, "mnist")?;
        Self::from_files(folder)
    }

    /// Loads the four files (gz or raw, without the `.gz`) from `folder`, without asking for the marker.
    pub fn from_files(folder: &Path) -> Result<Self, DataError> {
        Ok(Self {
            train: split(folder, TRAIN_IMAGES, TRAIN_LABELS)?,
            test: split(folder, TEST_IMAGES, TEST_LABELS)?,
        })
    }
}

fn pick(folder: &Path, name: &str) -> std::path::PathBuf {
    let gz = folder.join(name);
    if gz.exists() {
        gz
    } else {
        folder.join(name.trim_end_matches(".gz"))
    }
}

fn split(folder: &Path, images: &str, labels: &str) -> Result<Digits, DataError> {
    let (ipath, lpath) = (pick(folder, images), pick(folder, labels));
    let im = idx::read(&ipath)?;
    let lb = idx::read(&lpath)?;
    if im.dims.len() != 3 {
        return Err(DataError::format(
            &ipath,
            format!("expected 3 dims (n, rows, cols), found {:?}", im.dims),
        ));
    }
    if lb.dims.len() != 1 {
        return Err(DataError::format(
            &lpath,
            format!("expected 1 dim (n), found {:?}", lb.dims),
        ));
    }
    if im.dims[0] != lb.dims[0] {
        return Err(DataError::format(
            &lpath,
            format!("{} labels for {} images in {}", lb.dims[0], im.dims[0], ipath.display()),
        ));
    }
    if let Some(bad) = lb.data.iter().position(|&l| l > 9) {
        return Err(DataError::format(
            &lpath,
            format!("label {} at index {bad} is not a digit", lb.data[bad]),
        ));
    }
    Ok(Digits {
        images: im.data,
        labels: lb.data,
        height: im.dims[1],
        width: im.dims[2],
        channels: 1,
    })
}
