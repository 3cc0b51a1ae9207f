//! `shift bench train` on the CPU: the table and JSON it writes, and the settings it refuses.

mod common;

use common::{run_err, run_ok, shift};

#[test]
fn bench_train_measures_both_steps_and_writes_json() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let out = run_ok(
        shift()
            .args([
                "bench",
                "train",
                "--device",
                "cpu",
                "--steps",
                "3",
                "--windows",
                "3",
                "--json",
            ])
            .arg(&json),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| dann eager | steps/s (median of 3 x 3 steps) |")
            && table.contains("| dann fast | images/s |"),
        "{table}"
    );
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        (doc["device"].as_str(), doc["deterministic"].as_bool()),
        (Some("Cpu"), Some(false))
    );
    assert!(doc["card"].as_str().unwrap().starts_with("CPU, "));
    for step in ["eager", "fast"] {
        let windows = doc[step]["windows"].as_array().unwrap();
        assert_eq!(windows.len(), 3, "{step}");
        let mut rates: Vec<f64> = windows.iter().map(|w| w.as_f64().unwrap()).collect();
        rates.sort_by(f64::total_cmp);
        assert_eq!(
            doc[step]["steps_per_s"].as_f64(),
            Some(rates[1]),
            "{step}: the median window"
        );
        assert!((doc[step]["images_per_s"].as_f64().unwrap() - 128.0 * rates[1]).abs() < 1e-6);
    }
}

/// Other methods' rows beside DANN's, under their own JSON keys; a method the fast step cannot capture gets a row
/// saying why instead of a number.
#[test]
fn bench_train_measures_each_method_and_says_which_cannot_be_captured() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let out = run_ok(
        shift()
            .args(["bench", "train", "--device", "cpu", "--steps", "2", "--windows", "1"])
            .args(["--methods", "source-only,cdan-e,dann-alt", "--json"])
            .arg(&json),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    for row in [
        "| source-only eager | steps/s",
        "| cdan-e eager | steps/s",
        "| cdan-e fast | steps/s",
        "| dann-alt eager | steps/s",
        "| dann-alt fast | steps/s | refused: `step`: the fast step captures one joint loss; dann-alt cannot be captured",
    ] {
        assert!(table.contains(row), "missing `{row}` in:\n{table}");
    }
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in ["source-only/eager", "cdan-e/eager", "cdan-e/fast", "dann-alt/eager"] {
        let rate = doc[key]["steps_per_s"].as_f64().unwrap();
        assert!(rate > 0.0, "{key}");
        // Source-only takes 64 labelled images a step; the others 64 more from the target.
        let per_step = if key.starts_with("source-only") { 64.0 } else { 128.0 };
        assert!(
            (doc[key]["images_per_s"].as_f64().unwrap() - per_step * rate).abs() < 1e-6,
            "{key}"
        );
    }
    assert!(
        doc["dann-alt/fast"].is_null() && doc["eager"].is_null(),
        "no DANN rows were asked for"
    );
}

/// The multi-domain step on DomainBed's ConvNet: one row pair per method, 64 images of each of two domains a step.
#[test]
fn bench_train_times_the_multi_domain_step_on_mnist_cnn() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let out = run_ok(
        shift()
            .args(["bench", "train", "--device", "cpu", "--steps", "2", "--windows", "1"])
            .args([
                "--backbone",
                "mnist-cnn",
                "--step",
                "eager",
                "--methods",
                "erm,dg-dann",
                "--json",
            ])
            .arg(&json),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("mnist-cnn train step over 2 training domains, batch 64 per domain, Adam"),
        "{table}"
    );
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in ["erm/eager", "dg-dann/eager"] {
        let rate = doc[key]["steps_per_s"].as_f64().unwrap();
        assert!(rate > 0.0, "{key}");
        assert!(
            (doc[key]["images_per_s"].as_f64().unwrap() - 128.0 * rate).abs() < 1e-6,
            "{key}"
        );
    }
}

#[test]
fn bench_train_refuses_bad_settings_naming_them() {
    for (args, says) in [
        (&["--steps", "0"][..], "`--steps` and `--windows` must be at least 1"),
        (
            &["--to-accuracy", "1.5", "--data", "/tmp"][..],
            "`--to-accuracy` must be in (0, 1), got 1.5",
        ),
        (&["--to-accuracy", "0.75"][..], "`--to-accuracy` needs `--data DIR`"),
        (&["--step", "fastest"][..], "unknown step `fastest`"),
        (&["--device", "tpu"][..], "tpu"),
        (
            &["--methods", "erm"][..],
            "`--methods erm`: a method over several training domains; time it on `--backbone mnist-cnn`",
        ),
        (
            &["--backbone", "mnist-cnn", "--step", "eager", "--methods", "dann"][..],
            "`--methods dann`: `--backbone mnist-cnn` times the methods over several training domains",
        ),
        (
            &["--backbone", "mnist-cnn", "--methods", "erm"][..],
            "`--backbone mnist-cnn`: the full epoch (`--data`) and the fast step (`--step fast`) are the digit task's",
        ),
    ] {
        let e = run_err(shift().args(["bench", "train"]).args(args));
        assert!(e.contains(says), "{args:?}: {e}");
    }
}

/// The zero-shot methods' fits and scoring: every row timed, the JSON keys `cargo xtask bench zero-shot` reads,
/// and the settings it refuses.
#[test]
fn bench_zero_shot_times_both_methods_and_refuses_bad_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("zs.json");
    let out = run_ok(
        shift()
            .args(["bench", "zero-shot", "--repeats", "1", "--examples", "420", "--json"])
            .arg(&json),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("420 x 1200 features (DAP 70 x 1200)"), "{table}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in ["eszsl_fit_grid", "eszsl_score", "dap_fit", "dap_score"] {
        assert!(doc[key].as_f64().unwrap() > 0.0, "{key}");
    }
    for (args, says) in [
        (&["--repeats", "0"][..], "`--repeats` must be at least 1"),
        (&["--examples", "41"][..], "`--examples` must be at least 42"),
    ] {
        let e = run_err(shift().args(["bench", "zero-shot"]).args(args));
        assert!(e.contains(says), "{args:?}: {e}");
    }
}
