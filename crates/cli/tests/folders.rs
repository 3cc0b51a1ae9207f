//! `--task folders:SRC:TGT` end to end on a small tree of real JPEGs (two domains, three classes, of several
//! sizes), with two methods; an unlabelled target; and the refusals (classes that differ, a file that is not an
//! image).

mod common;

use common::{numbers, run_err, run_ok, shift};
use image::RgbImage;
use std::path::{Path, PathBuf};

const CLASSES: [&str; 3] = ["bike", "cup", "mug"];

/// `n` JPEGs per class under `root/<class>/` (or straight under `root` when `labelled` is false), each class its
/// own colour, the domain its own brightness, and no two images of one size.
fn domain(root: &Path, n: u32, bright: u8, labelled: bool) {
    for (c, class) in CLASSES.iter().enumerate() {
        let dir = if labelled { root.join(class) } else { root.to_path_buf() };
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..n {
            let img = RgbImage::from_fn(60 + 12 * k + 5 * c as u32, 48 + 7 * k, |x, y| {
                let mut px = [bright / 4; 3];
                px[c] = bright.saturating_sub((x + y) as u8 / 4);
                image::Rgb(px)
            });
            img.save(dir.join(format!("{class}_{k}.jpg"))).unwrap();
        }
    }
}

fn folders(task: &str, out: &Path, methods: &str) -> std::process::Command {
    let mut c = shift();
    c.args([
        "experiment",
        "dann",
        "--task",
        task,
        "--methods",
        methods,
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
    ])
    .arg("--data")
    .arg(out.join("no-data"))
    .arg("--out")
    .arg(out);
    c
}

fn task(src: &Path, tgt: &Path) -> String {
    format!("folders:{}:{}", src.display(), tgt.display())
}

#[test]
fn two_methods_run_on_a_researchers_own_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, tgt): (PathBuf, PathBuf) = (tmp.path().join("photos"), tmp.path().join("sketches"));
    domain(&src, 3, 220, true);
    domain(&tgt, 2, 120, true);
    let out = tmp.path().join("out");
    let output = run_ok(&mut folders(&task(&src, &tgt), &out, "source-only,dann"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("3 classes, 9 source, 6 target images (labelled"),
        "{stderr}"
    );
    assert!(stderr.contains("the ResNet-50 starts from random weights"), "{stderr}");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("folders-photos-sketches"), "{table}");
    assert!(
        table.contains("labelled: its labels served only the test accuracy"),
        "{table}"
    );
    assert!(
        table.contains("RANDOM-INIT BACKBONE (source-only seed 0, dann seed 0)"),
        "{table}"
    );
    let runs = numbers(&out);
    assert_eq!(runs.len(), 2);
    for (method, seed, acc, per_epoch) in &runs {
        assert_eq!((*seed, per_epoch.len()), (0, 1), "{method}");
        // Six test images: the accuracy is a multiple of 1/6.
        assert!((acc * 6.0 - (acc * 6.0).round()).abs() < 1e-9, "{method}: {acc}");
    }
    for m in ["source-only", "dann"] {
        assert!(out
            .join(format!("folders-photos-sketches/{m}/seed0/checkpoint.pt"))
            .is_file());
    }
}

#[test]
fn an_unlabelled_target_trains_and_reports_no_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, tgt) = (tmp.path().join("a"), tmp.path().join("b"));
    domain(&src, 2, 220, true);
    domain(&tgt, 2, 120, false);
    let out = tmp.path().join("out");
    let output = run_ok(&mut folders(&task(&src, &tgt), &out, "dann"));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("| dann | none (target unlabelled) |") && table.contains("unlabelled: no test accuracy"),
        "{table}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert!(results["runs"][0]["target_acc"].is_null(), "{results}");
    // The finished run is read back (null as NaN) and not trained again.
    let again = run_ok(folders(&task(&src, &tgt), &out, "dann").arg("--resume"));
    assert!(String::from_utf8_lossy(&again.stdout).contains("none (target unlabelled)"));
    // A method that trains on target labels cannot run on it.
    let e = run_err(&mut folders(&task(&src, &tgt), &tmp.path().join("o2"), "target-only"));
    assert!(
        e.contains("target-only trains on target labels, and the target folder has none"),
        "{e}"
    );
}

#[test]
fn folders_that_do_not_match_or_hold_other_files_are_refused_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, tgt) = (tmp.path().join("a"), tmp.path().join("b"));
    domain(&src, 1, 220, true);
    domain(&tgt, 1, 120, true);
    std::fs::rename(tgt.join("mug"), tgt.join("jug")).unwrap();
    let out = tmp.path().join("out");
    let e = run_err(&mut folders(&task(&src, &tgt), &out, "dann"));
    assert!(e.contains("only in the source [mug], only in the target [jug]"), "{e}");
    std::fs::rename(tgt.join("jug"), tgt.join("mug")).unwrap();
    std::fs::write(src.join("cup/readme.jpg"), "these are cups").unwrap();
    let e = run_err(&mut folders(&task(&src, &tgt), &out, "dann"));
    assert!(e.contains("cup/readme.jpg") && e.contains("not an image"), "{e}");
    let e = run_err(&mut folders("folders:only-one", &out, "dann"));
    assert!(e.contains("write folders:SOURCE_DIR:TARGET_DIR"), "{e}");
    let e = run_err(&mut folders(&task(&tmp.path().join("missing"), &tgt), &out, "dann"));
    assert!(e.contains("missing") && e.contains("not a folder"), "{e}");
}
