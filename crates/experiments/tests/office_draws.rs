//! Office-31 data through the one epoch loop: an epoch resumed at step k hands out the batches an uninterrupted
//! epoch gave at steps k, k+1, ... (the draws before k are made and dropped), for the labelled and target
//! streams, with the train transform's random crops and flips.

use image::RgbImage;
use shift_data::office31::ImageList;
use shift_data::pipeline::ImagePipeline;
use shift_data::transforms::Transform;
use shift_experiments::office::OfficeData;
use shift_strategies::{epoch_seed, Batch, EpochData, StrategyError};
use shift_tensor::tch::{Device, Tensor};

fn images(dir: &std::path::Path, n: u32) -> ImageList {
    let mut list = ImageList::default();
    for k in 0..n {
        let path = dir.join(format!("img{k}.jpg"));
        RgbImage::from_fn(64 + 4 * k, 48, |x, y| {
            image::Rgb([(x * 3) as u8, (y * 5 + k * 20) as u8, 90])
        })
        .save(&path)
        .unwrap();
        list.paths.push(path);
        list.labels.push(i64::from(k % 3));
    }
    list
}

/// The batches of `steps` from `first` on: (labelled images, labels, target images).
fn batches(data: &OfficeData, seed: i64, first: i64, steps: i64) -> Vec<(Tensor, Tensor, Tensor)> {
    let mut draws = data.epoch(seed, steps, 2, true).unwrap();
    let mut out = Vec::new();
    for step in first..steps {
        draws
            .with_batch(0, step, &mut |b| {
                let Batch::Tensors(b) = b else {
                    return Err(StrategyError::Other("Office-31 batches are tensors".into()));
                };
                let xt = b.unlabelled.expect("the target stream was asked for");
                out.push((b.labelled.0.copy(), b.labelled.1.copy(), xt.copy()));
                Ok(())
            })
            .unwrap();
    }
    out
}

#[test]
fn a_resumed_epoch_draws_the_batches_an_uninterrupted_one_drew() {
    let tmp = tempfile::tempdir().unwrap();
    let source = ImagePipeline::new(images(tmp.path(), 6), Transform::Train, 2).unwrap();
    std::fs::create_dir(tmp.path().join("t")).unwrap();
    let target = ImagePipeline::new(images(&tmp.path().join("t"), 4), Transform::Train, 2).unwrap();
    let test = ImagePipeline::new(images(&tmp.path().join("t"), 4), Transform::Eval, 2).unwrap();
    let data = OfficeData {
        labelled: &source,
        unlabelled: Some(&target),
        test: Some(&test),
        classes: 31,
        device: Device::Cpu,
    };
    assert_eq!(data.full_pass(2), 3);
    let seed = epoch_seed(7, 0);
    // Five steps: the source (3 batches a pass) and the target (2) both start a second pass.
    let whole = batches(&data, seed, 0, 5);
    let resumed = batches(&data, seed, 2, 5);
    assert_eq!(resumed.len(), 3);
    for (i, (a, b)) in whole[2..].iter().zip(&resumed).enumerate() {
        assert_eq!(a.0.size(), [2, 3, 224, 224]);
        assert!(a.0.equal(&b.0) && a.1.equal(&b.1) && a.2.equal(&b.2), "step {}", i + 2);
    }
    // Another epoch's seed draws other crops (the comparison above is not trivially true).
    let other = batches(&data, epoch_seed(7, 1), 0, 5);
    assert!(whole.iter().zip(&other).any(|(a, b)| !a.0.equal(&b.0)));
}
