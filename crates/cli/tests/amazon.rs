//! `shift experiment dann --task amazon:...` end to end on a small generated folder of the Amazon reviews' layout
//! (svmlight files of 5,000 count features): one pair, all twelve in Table 1's layout, and the refusals.

mod common;

use common::{dann_on, results, run_err, run_ok};
use std::path::{Path, PathBuf};

/// `amazon_reviews/` with `train` reviews per domain (half positive) and `test` test reviews. Each domain's
/// sentiment words sit at its own offset, so a model learnt on one domain transfers partly to another.
fn amazon_data(root: &Path, train: usize, test: usize) -> PathBuf {
    let dir = root.join("amazon_reviews");
    std::fs::create_dir_all(&dir).unwrap();
    for (d, domain) in ["books", "dvd", "electronics", "kitchen"].iter().enumerate() {
        for (split, n) in [("train", train), ("test", test)] {
            let mut text = String::new();
            for i in 0..n {
                let positive = i % 2 == 0;
                let word = if positive { 10 } else { 20 } + d + i % 3;
                let shared = if positive { 1 } else { 2 };
                text.push_str(&format!(
                    "{} {shared}:1 {word}:{} {}:1\n",
                    if positive { "1" } else { "-1" },
                    1 + i % 2,
                    100 + (i * 7 + d) % 50
                ));
            }
            std::fs::write(dir.join(format!("{domain}_{split}.svmlight")), text).unwrap();
        }
    }
    std::fs::write(dir.join(".complete"), "{}").unwrap();
    root.to_path_buf()
}

fn json_of(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn amazon(data: &Path, out: &Path, task: &str, extra: &[&str]) -> std::process::Command {
    let mut c = dann_on(task, out, extra);
    c.arg("--data").arg(data);
    c
}

#[test]
fn a_pair_trains_the_shallow_network_and_all_twelve_print_table_1s_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let data = amazon_data(tmp.path(), 40, 20);
    let out = tmp.path().join("pair");
    let run = run_ok(&mut amazon(
        &data,
        &out,
        "amazon:books:dvd",
        &["--methods", "source-only,dann", "--epochs", "3"],
    ));
    let table = String::from_utf8_lossy(&run.stdout);
    for expected in [
        "amazon-books-dvd",
        "| source-only |",
        "| dann |",
        "not comparable (another schedule)",
        "differs in train.epochs (paper 200, now 3)",
        "epoch picked by source_accuracy",
    ] {
        assert!(table.contains(expected), "missing {expected} in:\n{table}");
    }
    let config = json_of(&out.join("amazon-books-dvd/dann/seed0/config.json"));
    // The authors' schedule: the shallow net, lambda 0.1, plain SGD at a constant rate, 10% held out.
    assert_eq!(config["experiment"]["backbone"], "shallow");
    assert_eq!(config["experiment"]["train"]["lambda"]["value"], 0.1);
    assert_eq!(config["experiment"]["train"]["momentum"], 0.0);
    assert_eq!(config["experiment"]["validation"]["source_split"], 0.1);
    assert_eq!(config["hyper_parameters"]["lambda_on_discriminator"], 1.0);
    let json = results(&out);
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r["accuracy_per_epoch"].as_array().unwrap().len(), 3);
        // Every epoch is scored by the validators, source_accuracy among them.
        assert_eq!(
            r["validators_per_epoch"]["source_accuracy"].as_array().unwrap().len(),
            3
        );
    }

    let all = tmp.path().join("all");
    let run = run_ok(&mut amazon(
        &data,
        &all,
        "amazon:all",
        &["--methods", "source-only,dann", "--epochs", "1"],
    ));
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        table.contains("| books -> dvd |") && table.contains("| kitchen -> electronics |"),
        "{table}"
    );
    assert!(
        table.contains("| average |") && table.contains("dann: paper"),
        "{table}"
    );
    assert_eq!(table.matches("not comparable").count(), 24, "{table}");
    let json = results(&all);
    assert_eq!(json["pairs"].as_array().unwrap().len(), 12);
    assert!(all.join("amazon-kitchen-electronics/dann/seed0/result.json").is_file());
}

#[test]
fn msda_features_feed_the_shallow_network_thirty_thousand_values() {
    let tmp = tempfile::tempdir().unwrap();
    let data = amazon_data(tmp.path(), 40, 10);
    let out = tmp.path().join("msda");
    let run = run_ok(&mut amazon(
        &data,
        &out,
        "amazon:dvd:kitchen",
        &["--features", "msda", "--methods", "dann", "--epochs", "1"],
    ));
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(log.contains("mSDA (5 layers, noise 0.5) to 30000 values"), "{log}");
    let config = json_of(&out.join("amazon-dvd-kitchen/dann/seed0/config.json"));
    assert_eq!(config["experiment"]["features"], "msda");
    // The authors' rate on mSDA features, 0.0001 a review, times the batch of 32.
    assert!((config["experiment"]["train"]["lr"]["lr"].as_f64().unwrap() - 0.0032).abs() < 1e-12);
}

#[test]
fn bad_amazon_tasks_settings_and_files_are_refused_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = amazon_data(tmp.path(), 20, 10);
    let out = tmp.path().join("out");
    for (task, extra, says) in [
        ("amazon:books", &[][..], "names no two domains"),
        ("amazon:books:books", &[][..], "adapts a domain to itself"),
        ("amazon:toys:dvd", &[][..], "unknown domain `toys`"),
        (
            "amazon:books:dvd",
            &["--backbone", "digit"][..],
            "`backbone`: `digit` is not a backbone of the Amazon",
        ),
        (
            "amazon:books:dvd",
            &["--step", "fast"][..],
            "the fast step covers the digit task",
        ),
        ("amazon:books:dvd", &["--mnist-m", "rebuilt"][..], "has no MNIST-M"),
        (
            "amazon:books:dvd",
            &["--methods", "dann,self-ensembling"][..],
            "self-ensembling needs images",
        ),
        (
            "mnist:mnist-m",
            &["--features", "msda"][..],
            "`features`: msda is a representation of the Amazon",
        ),
    ] {
        let e = run_err(&mut amazon(&data, &out, task, extra));
        assert!(e.contains(says), "{task} {extra:?}: {e}");
    }
    std::fs::write(data.join("amazon_reviews/dvd_test.svmlight"), "1 0:1\n1 5000:2\n").unwrap();
    let e = run_err(&mut amazon(&data, &out, "amazon:books:dvd", &["--epochs", "1"]));
    assert!(
        e.contains("dvd_test.svmlight: line 2: `5000:2`: index 5000 is outside 0..=4999"),
        "{e}"
    );
    let e = run_err(&mut amazon(&tmp.path().join("none"), &out, "amazon:books:dvd", &[]));
    assert!(e.contains("cargo xtask download amazon-reviews"), "{e}");
}
