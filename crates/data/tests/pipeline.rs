//! Transforms, the image pipeline (shapes, determinism, cache) and the digits batcher.

use image::RgbImage;
use shift_data::office31::{list_domain, Domain, CLASSES};
use shift_data::pipeline::ImagePipeline;
use shift_data::transforms::{crop_normalise, resize_shorter, Transform, IMAGENET_MEAN, IMAGENET_STD};
use shift_data::{DigitBatcher, Digits};
use shift_tensor::tch::{Device, Kind, Tensor};

#[test]
fn resize_keeps_aspect_and_eval_crop_is_centred() {
    let img = RgbImage::from_fn(300, 400, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 0]));
    let r = resize_shorter(&img, 256);
    assert_eq!(r.dimensions(), (256, 341));
    let flat = RgbImage::from_pixel(256, 256, image::Rgb([255, 0, 128]));
    let out = crop_normalise(&flat, Transform::Eval, &mut rand::thread_rng());
    assert_eq!(out.len(), 3 * 224 * 224);
    let expect = |c: usize, v: f32| (v / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
    assert!((out[0] - expect(0, 255.0)).abs() < 1e-6);
    assert!((out[224 * 224] - expect(1, 0.0)).abs() < 1e-6);
    assert!((out[2 * 224 * 224 + 500] - expect(2, 128.0)).abs() < 1e-6);
}

#[test]
fn pipeline_batches_are_shaped_labelled_deterministic_and_cached_alike() {
    let dir = tempfile::tempdir().unwrap();
    for (c, class) in CLASSES.iter().enumerate() {
        let d = dir.path().join("webcam/images").join(class);
        std::fs::create_dir_all(&d).unwrap();
        RgbImage::from_fn(300, 260, |x, y| image::Rgb([(x + c as u32) as u8, y as u8, 9]))
            .save(d.join("a.jpg"))
            .unwrap();
    }
    let list = list_domain(dir.path(), Domain::Webcam).unwrap();
    let pipe = ImagePipeline::new(list.clone(), Transform::Train, 8).unwrap();
    assert_eq!(pipe.batches_per_epoch(), 3);
    let a: Vec<_> = pipe.epoch(5).map(|b| b.unwrap()).collect();
    let b: Vec<_> = pipe.epoch(5).map(|b| b.unwrap()).collect();
    let cached = pipe.clone().with_cache();
    let c: Vec<_> = cached.epoch(5).map(|b| b.unwrap()).collect();
    let c2: Vec<_> = cached.epoch(5).map(|b| b.unwrap()).collect();
    assert_eq!(a.len(), 3);
    assert_eq!(a[0].0.size(), vec![8, 3, 224, 224]);
    assert_eq!(a[0].1.kind(), Kind::Int64);
    for i in 0..3 {
        assert!(a[i].0.equal(&b[i].0) && a[i].1.equal(&b[i].1), "same seed, same batch");
        assert!(
            a[i].0.equal(&c[i].0) && a[i].0.equal(&c2[i].0),
            "the cache must not change results"
        );
    }
    let other: Vec<_> = pipe.epoch(6).map(|b| b.unwrap()).collect();
    assert!(!a[0].1.equal(&other[0].1) || !a[0].0.equal(&other[0].0));
    let eval = ImagePipeline::new(list, Transform::Eval, 8).unwrap();
    let labels: Vec<i64> = eval
        .epoch(0)
        .flat_map(|b| Vec::<i64>::try_from(b.unwrap().1).unwrap())
        .collect();
    assert_eq!(
        labels,
        (0..31).collect::<Vec<i64>>(),
        "evaluation keeps every image, in order"
    );
}

#[test]
fn digits_to_tensors_pads_mnist_and_normalises() {
    let mut images = vec![0u8; 2 * 28 * 28];
    images[0] = 255; // first pixel of the first digit
    let d = Digits {
        images,
        labels: vec![3, 4],
        height: 28,
        width: 28,
        channels: 1,
    };
    let (x, y) = d.to_tensors(Device::Cpu).unwrap();
    assert_eq!(x.size(), vec![2, 3, 32, 32]);
    assert_eq!(Vec::<i64>::try_from(&y).unwrap(), vec![3, 4]);
    assert_eq!(x.double_value(&[0, 0, 0, 0]), -1.0, "padding is black");
    for c in 0..3 {
        assert_eq!(
            x.double_value(&[0, c, 2, 2]),
            1.0,
            "the digit's first pixel, on every channel"
        );
    }
    let bad = Digits {
        images: vec![0; 10],
        labels: vec![1],
        height: 10,
        width: 1,
        channels: 1,
    };
    assert!(bad
        .to_tensors(Device::Cpu)
        .unwrap_err()
        .to_string()
        .contains("cannot become 3x32x32"));
}

#[test]
fn batcher_permutations_and_draws_are_seeded() {
    let x = Tensor::arange(10, (Kind::Float, Device::Cpu)).view([10, 1]);
    let y = Tensor::arange(10, (Kind::Int64, Device::Cpu));
    let b = DigitBatcher::new(x, y);
    assert_eq!(b.steps_per_epoch(3), 3);
    shift_tensor::seed_everything(11);
    let p1 = b.shuffled();
    let d1 = b.draws(7);
    shift_tensor::seed_everything(11);
    assert!(p1.equal(&b.shuffled()) && d1.equal(&b.draws(7)));
    let mut sorted = Vec::<i64>::try_from(&p1).unwrap();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    let (bx, by) = b.batch(&p1, 1, 3);
    assert_eq!(bx.size(), vec![3, 1]);
    assert!(by.equal(&p1.narrow(0, 3, 3)));
}
