//! Office-31 end to end on a small generated tree of real JPEGs in the Office-31 layout (ResNet-50, CPU).

mod common;

use common::{numbers, run_ok, shift};
use image::RgbImage;
use shift_data::office31::CLASSES;

#[test]
fn office31_dann_runs_on_a_small_generated_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data/office31");
    for domain in ["amazon", "webcam"] {
        for (c, class) in CLASSES.iter().enumerate() {
            let dir = root.join(domain).join("images").join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for k in 0..2u32 {
                let img = RgbImage::from_fn(96 + 8 * k, 80, |x, y| {
                    image::Rgb([
                        (x * 3 + c as u32 * 8) as u8,
                        (y * 3 + k * 40) as u8,
                        if domain == "amazon" { 200 } else { 60 },
                    ])
                });
                img.save(dir.join(format!("frame_{k:04}.jpg"))).unwrap();
            }
        }
    }
    let out = tmp.path().join("out");
    let output = run_ok(
        shift()
            .args([
                "experiment",
                "dann",
                "--task",
                "office31:A-W",
                "--methods",
                "dann",
                "--device",
                "cpu",
            ])
            .args([
                "--seeds",
                "0",
                "--epochs",
                "1",
                "--batch",
                "4",
                "--steps-per-epoch",
                "2",
                "--data",
            ])
            .arg(tmp.path().join("data"))
            .arg("--out")
            .arg(&out),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the ResNet-50 starts from random weights")
            && stderr.contains("cargo xtask download resnet50-imagenet"),
        "{stderr}"
    );
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("office31-A-W") && table.contains("| dann |"), "{table}");
    let runs = numbers(&out);
    assert_eq!(runs.len(), 1);
    let (method, seed, acc, per_epoch) = &runs[0];
    assert_eq!((method.as_str(), *seed, per_epoch.len()), ("dann", 0, 1));
    assert!((0.0..=1.0).contains(acc));
    assert!(out.join("office31-A-W/dann/seed0/checkpoint.pt").is_file());
}
