//! `shift experiment multitask` end to end on small real-format digits: the table, the run folders and result
//! files, `--resume`, and the settings it refuses.

mod common;

use common::{dann_on, digits_data, run_err, run_ok, shift};
use std::path::Path;

fn multitask(data: &Path, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = shift();
    c.args([
        "experiment",
        "multitask",
        "--task",
        "multi-mnist",
        "--device",
        "cpu",
        "--seeds",
        "0",
        "--epochs",
        "2",
    ])
    .args(["--set", "train.steps_per_epoch=3", "--set", "train.batch=16", "--data"])
    .arg(data)
    .arg("--out")
    .arg(out)
    .args(extra);
    c
}

#[test]
fn the_table_the_run_folders_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 200, 50);
    let out = tmp.path().join("out");
    let stdout = String::from_utf8_lossy(&run_ok(&mut multitask(&data, &out, &[])).stdout).to_string();
    for row in [
        "| weighting | left | right | mean | left, test-chosen epoch | right, test-chosen epoch | published left | \
         published right |",
        "| equal | ",
        "| uncertainty | ",
        "| mgda-ub | ",
        "| pcgrad | ",
        "| single-task | ",
        "| 96.46 | 94.99 |",
        "| 97.23 | 95.90 |",
    ] {
        assert!(stdout.contains(row), "missing `{row}` in:\n{stdout}");
    }
    for run in [
        "equal",
        "uncertainty",
        "mgda-ub",
        "pcgrad",
        "single-task-left",
        "single-task-right",
    ] {
        let folder = out.join("multi-mnist").join(run).join("seed0");
        assert!(folder.join("checkpoint.pt").is_file(), "{run}");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("result.json")).unwrap()).unwrap();
        // Each task's test accuracy after each of the 2 epochs.
        for task in ["test-left", "test-right"] {
            let per_epoch = r["validators_per_epoch"][task].as_array().unwrap();
            assert_eq!(per_epoch.len(), 2, "{run} {task}");
            assert!(per_epoch.iter().all(|v| (0.0..=1.0).contains(&v.as_f64().unwrap())));
        }
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    // The test-chosen epoch (an oracle) is one of the two, and its accuracies are that epoch's.
    for r in runs {
        let e = r["oracle_epoch"].as_u64().unwrap();
        assert!(e == 1 || e == 2, "{r}");
        if e == 2 {
            assert_eq!(r["oracle"], r["accuracy"]);
        }
    }
    // The single-task runs report the one task each trained.
    let single: Vec<&serde_json::Value> = runs.iter().filter(|r| r["weighting"] == "single-task").collect();
    assert_eq!(single.len(), 2);
    assert!(single[0]["accuracy"].get("left").is_some() && single[0]["accuracy"].get("right").is_none());
    assert!(single[1]["accuracy"].get("right").is_some() && single[1]["accuracy"].get("left").is_none());
    // --resume reuses the finished runs: the same numbers to the last digit.
    run_ok(&mut multitask(&data, &out, &["--resume"]));
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for (a, b) in runs.iter().zip(again["runs"].as_array().unwrap()) {
        assert_eq!(a["accuracy"], b["accuracy"]);
    }
    // Under another configuration a finished run is refused by name.
    let e = run_err(&mut multitask(&data, &out, &["--resume", "--set", "train.batch=8"]));
    assert!(e.contains("train.batch"), "{e}");
}

#[test]
fn bad_settings_are_refused_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("no-data");
    let out = tmp.path().join("out");
    for (extra, says) in [
        (
            &["--set", "task=cityscapes"][..],
            "`task`: unknown multitask task `cityscapes` (known: multi-mnist)",
        ),
        (
            &["--set", "weightings=[\"dann\"]"][..],
            "`weightings`: dann is not a multitask weighting (known: equal, uncertainty, mgda-ub, pcgrad, single-task)",
        ),
        (&["--set", "weightings=[]"][..], "`weightings`: need at least one"),
        (
            &["--set", "params.single-task.task=1"][..],
            "`params.single-task.task`: the experiment runs the baseline once per task",
        ),
        (&["--set", "params.pcgrad.scale=1"][..], "params.pcgrad.scale"),
        (&["--set", "params.equl.x=1"][..], "`params.equl`"),
        (&["--set", "train.batch=0"][..], "train.batch"),
    ] {
        let e = run_err(&mut multitask(&data, &out, extra));
        assert!(e.contains(says), "{extra:?}: {e}");
    }
    let e = run_err(&mut multitask(&data, &out, &["--weightings", "dann"]));
    assert!(e.contains("invalid value 'dann' for '--weightings"), "{e}");
    // The adaptation experiment refuses a weighting and names the experiment that runs it.
    let e = run_err(&mut dann_on("mnist:mnist-m", &out, &["--methods", "equal"]));
    assert!(e.contains("experiment multitask --weightings equal"), "{e}");
}
