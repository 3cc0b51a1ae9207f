//! Data sets for shift: MNIST, MNIST-M (released layout and the rebuild recipe), BSDS500 photos, Office-31,
//! svmlight files (the Amazon reviews), the spoken digits (FSDD WAV files) and a log-mel front end, image transforms, a threaded image pipeline, and a device-resident batcher.

pub mod amazon_reviews;
pub mod batcher;
pub mod bsds500;
pub mod digits;
pub mod domainbed;
mod error;
pub mod fsdd;
pub mod idx;
pub mod image_folder;
pub mod log_mel;
pub mod mnist;
pub mod mnist_m;
pub mod moons;
pub mod msda;
pub mod multi_mnist;
pub mod office31;
pub mod pipeline;
pub mod svmlight;
pub mod transforms;
pub mod vectors;

pub use batcher::DigitBatcher;
pub use digits::Digits;
pub use error::DataError;
pub use mnist::Mnist;
pub use mnist_m::MnistM;

use std::path::Path;

/// Loaders accept only folders that `cargo xtask download` completed (its marker is written last).
pub(crate) fn require_complete(folder: &Path, name: &str) -> Result<(), DataError> {
    if shift_fetch::install::is_complete(folder) {
        Ok(())
    } else {
        Err(DataError::NotDownloaded {
            path: folder.to_path_buf(),
            command: format!("cargo xtask download {name}"),
        })
    }
}
