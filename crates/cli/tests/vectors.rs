//! `shift experiment dann --task vectors:...` end to end on small generated CSV and svmlight files: two methods on
//! a labelled pair, an unlabelled target scored by the validators only, and every bad input refused by name.

mod common;

use common::{dann_on, numbers, results, run_err, run_ok};
use std::path::{Path, PathBuf};

/// A CSV file of `n` rows: two classes (`yes`, `no`) separated along `x1`, moved by `shift` along both features;
/// the label column `label` when `labelled`.
fn csv(dir: &Path, name: &str, n: usize, shift: f32, labelled: bool) -> PathBuf {
    let mut text = String::from(if labelled { "x1,label,x2\n" } else { "x1,x2\n" });
    for i in 0..n {
        let positive = i % 2 == 0;
        let x1 = if positive { 2.0 } else { -2.0 } + shift + (i % 5) as f32 * 0.1;
        let x2 = shift - (i % 3) as f32 * 0.2;
        let label = if positive { "yes" } else { "no" };
        text.push_str(&if labelled {
            format!("{x1},{label},{x2}\n")
        } else {
            format!("{x1},{x2}\n")
        });
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn vectors(out: &Path, files: &[&Path], extra: &[&str]) -> std::process::Command {
    let task = format!(
        "vectors:{}",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    );
    dann_on(&task, out, extra)
}

/// Every epoch line of a run's metrics.jsonl has every validator's score.
fn assert_scored(run: &Path, epochs: usize) {
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), epochs, "{}", run.display());
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let scores = v["validators"].as_object().unwrap();
        assert_eq!(scores.len(), shift_validators::names().len(), "{line}");
        assert!(scores["source_accuracy"].as_f64().unwrap() > 0.0, "{line}");
    }
}

#[test]
fn two_methods_train_on_a_labelled_csv_pair_and_an_unlabelled_target_gets_validators_only() {
    let tmp = tempfile::tempdir().unwrap();
    let source = csv(tmp.path(), "source.csv", 120, 0.0, true);
    let target = csv(tmp.path(), "target.csv", 120, 0.5, true);
    let out = tmp.path().join("labelled");
    let run = run_ok(&mut vectors(
        &out,
        &[&source, &target],
        &[
            "--methods",
            "source-only,dann",
            "--epochs",
            "4",
            "--set",
            "validation.source_split=0.1",
        ],
    ));
    let table = String::from_utf8_lossy(&run.stdout);
    for expected in [
        "vectors-source-target",
        "| source-only |",
        "| dann |",
        "tested on the target's own labels",
    ] {
        assert!(table.contains(expected), "missing {expected} in:\n{table}");
    }
    let runs = numbers(&out);
    assert_eq!(runs.len(), 2);
    for (method, _, acc, per_epoch) in &runs {
        assert_eq!(per_epoch.len(), 4, "{method}");
        // The classes sit 4 apart along x1 and the target moved 0.5: both methods classify it.
        assert!(*acc > 0.9, "{method}: {acc}");
    }
    for m in ["source-only", "dann"] {
        assert_scored(&out.join(format!("vectors-source-target/{m}/seed0")), 4);
    }
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("vectors-source-target/dann/seed0/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["experiment"]["backbone"], "mlp");

    // The same target without its label column: no accuracy, every epoch still scored.
    let unlabelled = csv(tmp.path(), "unlabelled.csv", 120, 0.5, false);
    let out = tmp.path().join("unlabelled");
    let run = run_ok(&mut vectors(
        &out,
        &[&source, &unlabelled],
        &["--methods", "dann", "--epochs", "2", "--set", "vectors.hidden=[16,8]"],
    ));
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        table.contains("is unlabelled: no test accuracy, only the validators"),
        "{table}"
    );
    assert!(results(&out)["runs"][0]["target_acc"].is_null(), "{}", results(&out));
    assert_scored(&out.join("vectors-source-unlabelled/dann/seed0"), 2);
    let e = run_err(&mut vectors(
        &tmp.path().join("t"),
        &[&source, &unlabelled],
        &["--methods", "target-only"],
    ));
    assert!(
        e.contains("`methods`: target-only trains on target labels, and the target file has none"),
        "{e}"
    );

    // svmlight files, and a test file beside the target.
    let svm = |name: &str, lines: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, lines).unwrap();
        p
    };
    let rows = |shift: f32| -> String {
        (0..120)
            .map(|i| {
                let positive = i % 2 == 0;
                let x = if positive { 2.0 } else { -2.0 } + shift;
                format!(
                    "{} 1:{x} 3:{}\n",
                    if positive { "+1" } else { "-1" },
                    0.1 * (i % 4) as f32
                )
            })
            .collect()
    };
    let (s, t, test) = (
        svm("s.svm", &rows(0.0)),
        svm("t.svm", &rows(0.3)),
        svm("t_test.svm", &rows(0.3)),
    );
    let out = tmp.path().join("svm");
    let run = run_ok(&mut vectors(
        &out,
        &[&s, &t, &test],
        &["--methods", "source-only", "--epochs", "10"],
    ));
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(table.contains(&format!("tested on {}", test.display())), "{table}");
    assert!(numbers(&out)[0].2 > 0.9, "{:?}", numbers(&out));
}

#[test]
fn every_bad_input_is_refused_naming_the_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let source = csv(tmp.path(), "source.csv", 20, 0.0, true);
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases = [
        (
            write("ragged.csv", "x1,label,x2\n1,yes,2\n3,no\n"),
            "ragged.csv: line 3: 2 cells, the header has 3 (a ragged row)",
        ),
        (
            write("word.csv", "x1,label,x2\n1,yes,2\n1,no,high\n"),
            "word.csv: line 3, column `x2`: `high` is not a number",
        ),
        (
            write("nan.csv", "x1,label,x2\nnan,yes,2\n"),
            "nan.csv: line 2, column `x1`: `nan` is not a finite number",
        ),
        (
            write("columns.csv", "x1,label,x3\n1,yes,2\n"),
            "columns.csv: the column `x3` stands where the source",
        ),
        (
            write("count.csv", "x1,label\n1,yes\n"),
            "count.csv: 1 feature columns; the source",
        ),
        (
            write("classes.csv", "x1,label,x2\n1,maybe,2\n1,yes,2\n"),
            "classes.csv: line 2, column `label`: `maybe` is not a class of the source",
        ),
        (write("image.png", "x"), "image.png: not a vector file"),
        (
            write("bad.svm", "1 1:2 0:3\n"),
            "bad.svm: line 1: `0:3`: index 0 is outside",
        ),
    ];
    for (i, (target, says)) in cases.iter().enumerate() {
        let e = run_err(&mut vectors(
            &tmp.path().join(format!("o{i}")),
            &[&source, target],
            &["--epochs", "1"],
        ));
        assert!(e.contains(says), "{}: {e}", target.display());
    }
    let missing = tmp.path().join("missing.csv");
    let e = run_err(&mut vectors(&tmp.path().join("m"), &[&source, &missing], &[]));
    assert!(e.contains("missing.csv") && e.contains("No such file"), "{e}");
    let unlabelled_source = csv(tmp.path(), "nolabels.csv", 20, 0.0, false);
    let e = run_err(&mut vectors(&tmp.path().join("u"), &[&unlabelled_source, &source], &[]));
    assert!(
        e.contains("nolabels.csv: the source has no label column `label`"),
        "{e}"
    );
    let e = run_err(&mut vectors(
        &tmp.path().join("l"),
        &[&source, &source.with_file_name("word.csv")],
        &["--set", "vectors.label_column=\"kind\""],
    ));
    assert!(
        e.contains(
            "source.csv: line 2, column `label`: `yes` is not a number (no column is named `kind`, the label column)"
        ),
        "{e}"
    );
    let unlabelled_test = csv(tmp.path(), "test_nolabels.csv", 20, 0.0, false);
    let target = csv(tmp.path(), "target.csv", 20, 0.0, true);
    let e = run_err(&mut vectors(
        &tmp.path().join("t"),
        &[&source, &target, &unlabelled_test],
        &[],
    ));
    assert!(
        e.contains("test_nolabels.csv: the test file has no label column `label`"),
        "{e}"
    );
}
