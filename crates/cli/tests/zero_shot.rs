//! `shift experiment zero-shot` end to end on small real-format digits: the table, the result files, `--resume`
//! under the same and another configuration, and the settings it refuses.

mod common;

use common::{digits_data, run_err, run_ok, shift};
use std::path::Path;

fn zero_shot(data: &Path, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = shift();
    c.args([
        "experiment",
        "zero-shot",
        "--task",
        "digit-segments",
        "--device",
        "cpu",
        "--seeds",
        "0",
    ])
    .args(["--splits", "1", "--epochs", "1", "--set", "train.steps_per_epoch=5"])
    .args(["--set", "dap.iterations=20", "--data"])
    .arg(data)
    .arg("--out")
    .arg(out)
    .args(extra);
    c
}

#[test]
fn the_table_the_result_files_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 300, 60);
    let out = tmp.path().join("out");
    let stdout = String::from_utf8_lossy(&run_ok(&mut zero_shot(&data, &out, &[])).stdout).to_string();
    for row in [
        "| method | MNIST ZSL |",
        "| DAP | ",
        "| ESZSL | ",
        "| chance (uniform guess) | 33.3 | 10.0 |",
    ] {
        assert!(stdout.contains(row), "missing `{row}` in:\n{stdout}");
    }
    // The first split of three unseen digits, its backbone's run folder and its result.
    let file = out.join("unseen-0-1-3").join("zero-shot-seed0.json");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(r["split"]["unseen"], serde_json::json!([0, 1, 3]));
    assert!(out.join("unseen-0-1-3/source-only/seed0/checkpoint.pt").is_file());
    let methods: Vec<&str> = r["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["dap", "eszsl"]);
    for m in r["methods"].as_array().unwrap() {
        for set in ["mnist", "mnist_m"] {
            for k in ["zsl", "gzsl_seen", "gzsl_unseen", "gzsl_h"] {
                let v = m[set][k].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&v), "{set}.{k} = {v}");
            }
        }
    }
    assert_eq!(r["methods"][1]["chosen"][0][0], "gamma");
    for f in ["results.md", "results.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // --resume reuses the result as it is; under another configuration it is refused by name.
    let mut marked = r.clone();
    marked["wall_s"] = serde_json::json!(12345.0);
    std::fs::write(&file, serde_json::to_string(&marked).unwrap()).unwrap();
    run_ok(&mut zero_shot(&data, &out, &["--resume"]));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(
        doc["runs"][0]["wall_s"], 12345.0,
        "the finished split is reused, not run again"
    );
    let e = run_err(&mut zero_shot(&data, &out, &["--resume", "--set", "dap.lr=0.1"]));
    assert!(e.contains("was run with another configuration: dap.lr"), "{e}");
}

#[test]
fn bad_settings_are_refused_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("no-data");
    let out = tmp.path().join("out");
    for (extra, says) in [
        (
            &["--set", "task=cub"][..],
            "`task`: unknown zero-shot task `cub` (known: digit-segments)",
        ),
        (
            &["--unseen", "0"][..],
            "`unseen`/`splits`: unseen: want 1 to 6 unseen digits, got 0",
        ),
        (
            &["--set", "splits=100"][..],
            "want 1 to 69 splits of 3 unseen digits, got 100",
        ),
        (
            &["--set", "dap_l2=[]"][..],
            "`dap_l2`: want at least one finite value >= 0",
        ),
        (
            &["--set", "eszsl_grid=[0.0]"][..],
            "`eszsl_grid`: gamma and lambda must be > 0",
        ),
        (
            &["--set", "dap_per_class=0"][..],
            "`dap_per_class`: want at least 1 image",
        ),
        (&["--set", "dap.lr=0"][..], "`dap`: want lr > 0 and iterations >= 1"),
    ] {
        let e = run_err(&mut zero_shot(&data, &out, extra));
        assert!(e.contains(says), "{extra:?}: {e}");
    }
}
