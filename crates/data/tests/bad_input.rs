//! Every kind of bad input gives an error that names the file and what is wrong.

use flate2::{write::GzEncoder, Compression};
use image::RgbImage;
use shift_data::office31::{list_domain, Domain, CLASSES};
use shift_data::{idx, DataError, Mnist, MnistM};
use std::io::Write;
use std::path::Path;

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A tiny MNIST folder (raw IDX files) with `n` images of 28 x 28.
fn mnist_folder(dir: &Path, n: u32, labels: &[u8]) {
    let images = idx_bytes(&[n, 28, 28], &vec![7u8; (n * 784) as usize]);
    for (name, bytes) in [
        ("train-images-idx3-ubyte", images.clone()),
        ("t10k-images-idx3-ubyte", images),
        ("train-labels-idx1-ubyte", idx_bytes(&[labels.len() as u32], labels)),
        ("t10k-labels-idx1-ubyte", idx_bytes(&[labels.len() as u32], labels)),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn expect_format(err: DataError, file: &str, what: &str) {
    let msg = err.to_string();
    assert!(
        msg.contains(file) && msg.contains(what),
        "expected `{file}` and `{what}` in: {msg}"
    );
}

#[test]
fn idx_good_raw_and_gz() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
    std::fs::write(dir.path().join("a"), &bytes).unwrap();
    std::fs::write(dir.path().join("a.gz"), gz(&bytes)).unwrap();
    for name in ["a", "a.gz"] {
        let arr = idx::read(&dir.path().join(name)).unwrap();
        assert_eq!(arr.dims, vec![2, 3]);
        assert_eq!(arr.data, vec![1, 2, 3, 4, 5, 6]);
    }
}

#[test]
fn bad_idx_magic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("magic.idx");
    std::fs::write(&p, [1, 2, 8, 1, 0, 0, 0, 0]).unwrap();
    expect_format(idx::read(&p).unwrap_err(), "magic.idx", "bad IDX magic");
}

#[test]
fn idx_dims_disagree_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("short.idx");
    std::fs::write(&p, idx_bytes(&[2, 3], &[1, 2, 3])).unwrap();
    expect_format(
        idx::read(&p).unwrap_err(),
        "short.idx",
        "need 6 bytes of data, file has 3",
    );
}

#[test]
fn truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.gz");
    let full = gz(&idx_bytes(&[1000], &vec![3u8; 1000]));
    std::fs::write(&p, &full[..full.len() / 2]).unwrap();
    expect_format(idx::read(&p).unwrap_err(), "cut.gz", "cannot read gzip");
}

#[test]
fn mnist_label_count_mismatch_and_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    mnist_folder(dir.path(), 3, &[1, 2]);
    expect_format(
        Mnist::from_files(dir.path()).unwrap_err(),
        "train-labels-idx1-ubyte",
        "2 labels for 3 images",
    );
    mnist_folder(dir.path(), 2, &[1, 12]);
    expect_format(
        Mnist::from_files(dir.path()).unwrap_err(),
        "train-labels-idx1-ubyte",
        "label 12 at index 1",
    );
    mnist_folder(dir.path(), 2, &[1, 2]);
    let m = Mnist::from_files(dir.path()).unwrap();
    assert_eq!(
        (m.train.len(), m.train.height, m.train.width, m.train.channels),
        (2, 28, 28, 1)
    );
}

#[test]
fn loaders_refuse_folders_without_the_completion_marker() {
    let dir = tempfile::tempdir().unwrap();
    mnist_folder(dir.path(), 2, &[1, 2]);
    let e = Mnist::load(dir.path()).unwrap_err();
    assert!(matches!(e, DataError::NotDownloaded { .. }));
    assert!(e.to_string().contains("cargo xtask download mnist"), "{e}");
    let e = MnistM::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("cargo xtask download mnist-m"), "{e}");
}

/// A tiny MNIST-M folder in the released layout.
fn mnist_m_folder(dir: &Path, labels: &str, size: u32) {
    for split in ["train", "test"] {
        let sub = dir.join(format!("mnist_m_{split}"));
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..2 {
            RgbImage::from_pixel(size, size, image::Rgb([i * 50, 10, 20]))
                .save(sub.join(format!("{i:08}.png")))
                .unwrap();
        }
        std::fs::write(dir.join(format!("mnist_m_{split}_labels.txt")), labels).unwrap();
    }
}

#[test]
fn mnist_m_good_and_bad_label_files() {
    let dir = tempfile::tempdir().unwrap();
    mnist_m_folder(dir.path(), "00000000.png 5\n00000001.png 0\n", 32);
    let m = MnistM::from_files(dir.path()).unwrap();
    assert_eq!(m.train.labels, vec![5, 0]);
    assert_eq!(&m.train.image(1)[..3], &[50, 10, 20]);

    mnist_m_folder(dir.path(), "00000000.png 5\n00000001.png\n", 32);
    expect_format(
        MnistM::from_files(dir.path()).unwrap_err(),
        "mnist_m_train_labels.txt",
        "line 2: expected `<file> <digit>`",
    );
    mnist_m_folder(dir.path(), "00000000.png 5\n00000001.png 10\n", 32);
    expect_format(
        MnistM::from_files(dir.path()).unwrap_err(),
        "mnist_m_train_labels.txt",
        "label `10` is not a digit",
    );
    mnist_m_folder(dir.path(), "00000000.png x\n", 32);
    expect_format(
        MnistM::from_files(dir.path()).unwrap_err(),
        "mnist_m_train_labels.txt",
        "label `x`",
    );
}

#[test]
fn mnist_m_missing_labels_file_and_wrong_png_size() {
    let dir = tempfile::tempdir().unwrap();
    mnist_m_folder(dir.path(), "00000000.png 5\n00000001.png 0\n", 28);
    expect_format(
        MnistM::from_files(dir.path()).unwrap_err(),
        "00000000.png",
        "image is 28x28, expected 32x32",
    );
    std::fs::remove_file(dir.path().join("mnist_m_train_labels.txt")).unwrap();
    expect_format(
        MnistM::from_files(dir.path()).unwrap_err(),
        "mnist_m_train_labels.txt",
        "No such file",
    );
}

#[test]
fn unreadable_image_is_named() {
    let dir = tempfile::tempdir().unwrap();
    mnist_m_folder(dir.path(), "00000000.png 5\n00000001.png 0\n", 32);
    std::fs::write(dir.path().join("mnist_m_test/00000001.png"), b"\x89PNG garbage").unwrap();
    expect_format(
        MnistM::from_files(dir.path()).unwrap_err(),
        "00000001.png",
        "cannot decode image",
    );
}

/// An Office-31-shaped tree with `per_class` real JPEGs per class.
pub fn office_tree(root: &Path, domain: &str, per_class: usize) {
    for (c, class) in CLASSES.iter().enumerate() {
        let dir = root.join(domain).join("images").join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..per_class {
            let img = RgbImage::from_fn(40 + k as u32, 30, |x, y| {
                image::Rgb([(x * 5) as u8, (y * 7) as u8, c as u8 * 8])
            });
            img.save(dir.join(format!("frame_{k:04}.jpg"))).unwrap();
        }
    }
}

#[test]
fn office31_listing_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    office_tree(dir.path(), "webcam", 2);
    let list = list_domain(dir.path(), Domain::Webcam).unwrap();
    assert_eq!(list.len(), 62);
    assert_eq!(list.labels[0], 0);
    assert_eq!(list.labels[61], 30);
    assert!(list.paths[61].ends_with("webcam/images/trash_can/frame_0001.jpg"));

    let e = list_domain(dir.path(), Domain::Amazon).unwrap_err().to_string();
    assert!(
        e.contains("amazon/images") && e.contains("cargo xtask download office31"),
        "{e}"
    );
    std::fs::remove_dir_all(dir.path().join("webcam/images/mug")).unwrap();
    expect_format(
        list_domain(dir.path(), Domain::Webcam).unwrap_err(),
        "mug",
        "class folder `mug` is missing",
    );
    assert!("q"
        .parse::<Domain>()
        .unwrap_err()
        .to_string()
        .contains("expected A (amazon)"));
    assert_eq!("W".parse::<Domain>().unwrap(), Domain::Webcam);
}

#[test]
fn unreadable_jpeg_in_the_pipeline_is_named() {
    use shift_data::pipeline::ImagePipeline;
    use shift_data::transforms::Transform;
    let dir = tempfile::tempdir().unwrap();
    office_tree(dir.path(), "dslr", 1);
    std::fs::write(
        dir.path().join("dslr/images/pen/frame_0000.jpg"),
        b"\xff\xd8\xff not really",
    )
    .unwrap();
    let list = list_domain(dir.path(), Domain::Dslr).unwrap();
    let pipe = ImagePipeline::new(list, Transform::Eval, 8).unwrap();
    let err = pipe
        .epoch(0)
        .find_map(|b| b.err())
        .expect("the broken JPEG must fail its batch");
    expect_format(err, "pen/frame_0000.jpg", "cannot decode image");
    let e = ImagePipeline::new(Default::default(), Transform::Eval, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch size"), "{e}");
}
