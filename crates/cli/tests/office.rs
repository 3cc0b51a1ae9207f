//! Office-31 end to end on a small generated tree of real JPEGs in the Office-31 layout (ResNet-50, CPU).

mod common;

use common::{numbers, office_data, run_ok, shift};

#[test]
fn office31_dann_runs_on_a_small_generated_tree() {
    let tmp = tempfile::tempdir().unwrap();
    office_data(&tmp.path().join("data"), &[("amazon", 2), ("webcam", 2)]);
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
    // No borrowed number (Transfer-Learning-Library's 0.914 comes from another recipe), and the random start is
    // marked in the table and in results.json.
    assert!(
        table.contains("office31-A-W") && table.contains("| none published |") && !table.contains("0.914"),
        "{table}"
    );
    assert!(table.contains("RANDOM-INIT BACKBONE (dann seed 0)"), "{table}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["runs"][0]["random_init_backbone"], true);
    let runs = numbers(&out);
    assert_eq!(runs.len(), 1);
    let (method, seed, acc, per_epoch) = &runs[0];
    assert_eq!((method.as_str(), *seed, per_epoch.len()), ("dann", 0, 1));
    assert!((0.0..=1.0).contains(acc));
    assert!(out.join("office31-A-W/dann/seed0/checkpoint.pt").is_file());
}
