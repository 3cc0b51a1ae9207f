//! `shift report validators` and `shift analyse tsne|a-distance` end to end on finished runs of small real data
//! sets, and their refusals of bad input.

mod common;

use common::{digits_data, results, run_err, run_ok, shift};
use std::path::{Path, PathBuf};

/// Finished source-only and DANN runs (2 epochs of 6 steps) in `out`; their run folders.
fn finished_runs(data: &Path, out: &Path, extra: &[&str]) -> Vec<PathBuf> {
    run_ok(&mut experiment(data, out, extra));
    ["source-only", "dann"]
        .iter()
        .map(|m| out.join("mnist-mnistm").join(m).join("seed0"))
        .collect()
}

/// The experiment of [`finished_runs`].
fn experiment(data: &Path, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = shift();
    c.args(["experiment", "dann", "--device", "cpu", "--seeds", "0", "--batch", "32"])
        .args([
            "--epochs",
            "2",
            "--steps-per-epoch",
            "6",
            "--methods",
            "source-only,dann",
            "--data",
        ])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra);
    c
}

#[test]
fn the_validator_report_ranks_every_validator_over_every_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 64);
    let out = tmp.path().join("out");
    finished_runs(&data, &out, &[]);
    let report = tmp.path().join("report");
    let said = run_ok(
        shift()
            .args(["report", "validators"])
            .arg(&out)
            .arg("--out")
            .arg(&report),
    );
    let table = String::from_utf8_lossy(&said.stdout);
    assert!(table.contains("Validators on mnist-mnistm (2 runs"), "{table}");
    for v in shift_validators::names() {
        assert!(table.contains(&format!("| {v} | ")), "{v} missing:\n{table}");
    }
    assert!(table.contains("| oracle (target labels) | - | - | - | 4 |"), "{table}");
    // Two methods: the second table has a column for each.
    assert!(
        table.contains("Weighted Spearman within each method, mnist-mnistm")
            && table.contains("| validator | dann | source-only |"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("validators.json")).unwrap()).unwrap();
    let ranking = &json[0];
    assert_eq!(ranking["runs"], 2);
    let validators = ranking["validators"].as_array().unwrap();
    assert_eq!(validators.len(), shift_validators::names().len());
    // Every validator scored both epochs of both runs; its picks are checkpoints that exist.
    let accs: Vec<f64> = results(&out)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["accuracy_per_epoch"].as_array().unwrap().clone())
        .map(|a| a.as_f64().unwrap())
        .collect();
    let oracle = accs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(ranking["oracle"]["overall_pick"].as_f64().unwrap(), oracle);
    for v in validators {
        assert_eq!(v["checkpoints"], 4, "{v}");
        let pick = v["overall_pick"].as_f64().unwrap();
        assert!(accs.contains(&pick) && pick <= oracle, "{v}");
        // Two epochs a method: each correlation is -1, 1 or undefined (null in JSON), never out of range.
        for rho in [
            &v["spearman"],
            &v["weighted_spearman"],
            &v["per_method"]["dann"],
            &v["per_method"]["source-only"],
        ] {
            assert!(
                rho.as_f64().is_none_or(|r| (-1.0 - 1e-12..=1.0 + 1e-12).contains(&r)),
                "{v}"
            );
        }
        assert_eq!(v["per_method"].as_object().unwrap().len(), 2, "{v}");
    }
    assert!(std::fs::read_to_string(report.join("validators.md")).unwrap() == table);
    // The results table of the same runs, as the experiment printed it (results.md).
    let said = run_ok(shift().args(["report", "results"]).arg(&out));
    let again = String::from_utf8_lossy(&said.stdout);
    let printed = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert_eq!(again.trim_end(), printed.trim_end());
    assert!(
        again.contains("| per seed |") && again.contains("epoch picked by im (label-free) |"),
        "the default validator: {again}"
    );
    // A run configured with another validator (`validation.select` chooses nothing in training) still joins the
    // table, and `--select` shows any validator's pick.
    let cfg_path = out.join("mnist-mnistm/dann/seed0/config.json");
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    assert_eq!(cfg["experiment"]["validation"]["select"], "im");
    cfg["experiment"]["validation"]["select"] = "snd".into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let said = run_ok(shift().args(["report", "results", "--select", "entropy"]).arg(&out));
    let picked = String::from_utf8_lossy(&said.stdout);
    assert!(picked.contains("epoch picked by entropy (label-free) |"), "{picked}");
    assert_eq!(
        picked.matches("\n| ").count(),
        again.matches("\n| ").count(),
        "{picked}"
    );
}

#[test]
fn a_distance_and_tsne_read_finished_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 64);
    let runs = finished_runs(&data, &tmp.path().join("out"), &[]);
    let json = tmp.path().join("pad.json");
    let said = run_ok(
        shift()
            .args(["analyse", "a-distance"])
            .args(&runs)
            .arg("--data")
            .arg(&data)
            .arg("--json")
            .arg(&json),
    );
    let table = String::from_utf8_lossy(&said.stdout);
    assert!(
        table.contains("| source-only seed 0 |") && table.contains("| dann seed 0 |"),
        "{table}"
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows.len(), 2);
    for (row, run) in rows.iter().zip(&runs) {
        // The same samples and classifier as the experiment's own number in result.json.
        let result: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("result.json")).unwrap()).unwrap();
        assert_eq!(row["proxy_a_distance"], result["proxy_a_distance"], "{row}");
        let (pad, err) = (
            row["proxy_a_distance"].as_f64().unwrap(),
            row["error"].as_f64().unwrap(),
        );
        assert!((pad - 2.0 * (1.0 - 2.0 * err)).abs() < 1e-12, "{row}");
    }
    let png = tmp.path().join("tsne.png");
    run_ok(
        shift()
            .args(["analyse", "tsne"])
            .args(&runs)
            .arg("--data")
            .arg(&data)
            .args(["--points", "40", "--perplexity", "5", "--epochs", "100", "--out"])
            .arg(&png),
    );
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (1600, 860), "two panels");
    // A finished run copied out without its checkpoint (as under docs/runs) is reused by --resume; the
    // experiment's figure leaves it out, saying so, and the rest of the report is written.
    let out = tmp.path().join("out");
    std::fs::remove_file(runs[1].join("checkpoint.pt")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    let said = run_ok(&mut experiment(&data, &out, &["--resume"]));
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(
        err.contains("the t-SNE figure leaves out dann: none of its run folders holds a checkpoint.pt"),
        "{err}"
    );
    assert_eq!(image::open(out.join("tsne.png")).unwrap().width(), 800, "one panel");
    assert!(out.join("report.html").is_file());
}

#[test]
fn bad_runs_and_settings_are_refused_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 64);
    let unscored = tmp.path().join("unscored");
    let runs = finished_runs(&data, &unscored, &["--set", "validation.source_split=0"]);
    let e = run_err(shift().args(["report", "validators"]).arg(&unscored));
    assert!(e.contains("none of the 2 runs found has validator scores"), "{e}");
    // Runs of two configurations do not make one table.
    let scored = tmp.path().join("scored");
    finished_runs(&data, &scored, &[]);
    let e = run_err(shift().args(["report", "results"]).arg(&scored).arg(&unscored));
    assert!(e.contains("ran under different configurations"), "{e}");
    let e = run_err(shift().args(["report", "results", "--select", "accuracy"]).arg(&scored));
    assert!(e.contains("--select: unknown validator `accuracy` (known: "), "{e}");
    let e = run_err(shift().args(["report", "results"]).arg(&data));
    assert!(e.contains("no result.json under"), "{e}");
    let missing = tmp.path().join("nowhere");
    let e = run_err(shift().args(["report", "validators"]).arg(&missing));
    assert!(e.contains("nowhere: no such file or folder"), "{e}");
    let analyse = |what: &str, dir: &Path, extra: &[&str]| {
        run_err(
            shift()
                .args(["analyse", what])
                .arg(dir)
                .arg("--data")
                .arg(&data)
                .args(extra),
        )
    };
    let e = analyse("tsne", &data, &[]);
    assert!(e.contains("not a run folder (no config.json)"), "{e}");
    let unfinished = tmp.path().join("unfinished");
    std::fs::create_dir_all(&unfinished).unwrap();
    for f in ["config.json", "checkpoint.pt"] {
        std::fs::copy(runs[1].join(f), unfinished.join(f)).unwrap();
    }
    let e = analyse("a-distance", &unfinished, &[]);
    assert!(e.contains("the run has not finished (no result.json)"), "{e}");
    let e = analyse("a-distance", &runs[0], &["--points", "1"]);
    assert!(e.contains("--points 1"), "{e}");
    let e = analyse("tsne", &runs[0], &["--points", "20"]);
    assert!(e.contains("40 points are too few for perplexity 30"), "{e}");
}
