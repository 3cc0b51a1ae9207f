//! `shift experiment finetune` end to end on small real data: outputs, class-balanced subsets, reproducibility.

mod common;

use common::{digits_data, office_data, run_err, run_ok, shift};
use std::path::Path;

fn finetune(data: &Path, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = shift();
    c.args([
        "experiment",
        "finetune",
        "--device",
        "cpu",
        "--seeds",
        "0",
        "--pretrain-epochs",
        "1",
    ])
    .args(["--finetune-steps", "4", "--data"])
    .arg(data)
    .arg("--out")
    .arg(out)
    .args(extra);
    c
}

fn runs(out: &Path) -> Vec<(String, Option<u64>, f64)> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["policy"].as_str().unwrap().into(),
                r["labels_per_class"].as_u64(),
                r["target_acc"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The first cell of each row of a printed table, its header left out.
fn row_names(table: &str) -> Vec<&str> {
    table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| policy"))
        .map(|l| l.split(" | ").next().unwrap().trim_start_matches("| "))
        .collect()
}

#[test]
fn policies_by_k_table_subsets_and_reproducibility() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 32);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let flags = ["--labels-per-class", "2,all", "--policies", "head,scratch,dann"];
    let out = run_ok(&mut finetune(&data, &a, &flags));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| policy | k=2 | k=all |") && table.contains("| head |") && table.contains("| dann |"),
        "{table}"
    );
    for f in ["results.md", "results.json", "accuracy_vs_k.svg", "accuracy_vs_k.png"] {
        assert!(a.join(f).is_file(), "{f}");
    }
    let subset: Vec<usize> =
        serde_json::from_str(&std::fs::read_to_string(a.join("finetune/k2/seed0/subset.json")).unwrap()).unwrap();
    assert_eq!(subset.len(), 20, "2 per class, 10 classes");
    let mut per_class = [0; 10];
    for i in &subset {
        per_class[i % 10] += 1; // the test data's label is i % 10
    }
    assert_eq!(per_class, [2; 10]);
    assert!(
        a.join("pretrain/source-only/seed0/checkpoint.pt").is_file()
            && a.join("pretrain/dann/seed0/checkpoint.pt").is_file()
    );
    let ra = runs(&a);
    assert_eq!(ra.len(), 6);
    // One run per policy and label budget, each exactly once, with an accuracy.
    let mut cells: Vec<(String, Option<u64>)> = ra.iter().map(|r| (r.0.clone(), r.1)).collect();
    cells.sort();
    let mut want: Vec<(String, Option<u64>)> = ["dann", "head", "scratch"]
        .iter()
        .flat_map(|p| [(p.to_string(), None), (p.to_string(), Some(2))])
        .collect();
    want.sort();
    assert_eq!(cells, want);
    assert!(ra.iter().all(|r| (0.0..=1.0).contains(&r.2)), "{ra:?}");
    run_ok(&mut finetune(&data, &b, &flags));
    assert_eq!(ra, runs(&b), "same seed, same numbers");
    // Reusing the pretraining checkpoints by path gives the same fine-tuning numbers without pretraining again.
    let d = tmp.path().join("d");
    let mut reuse = finetune(&data, &d, &flags);
    reuse
        .arg("--from")
        .arg(a.join("pretrain/source-only/seed0/checkpoint.pt"))
        .arg("--from-dann")
        .arg(a.join("pretrain/dann/seed0/checkpoint.pt"));
    run_ok(&mut reuse);
    assert_eq!(ra, runs(&d), "--from and --from-dann");
    assert!(!d.join("pretrain").exists(), "nothing pretrained");
    // The fast step (pretraining and fine-tuning) computes the same function: the same accuracies.
    let c = tmp.path().join("c");
    let fast = [
        "--labels-per-class",
        "2,all",
        "--policies",
        "head,scratch,dann",
        "--step",
        "fast",
    ];
    run_ok(&mut finetune(&data, &c, &fast));
    assert_eq!(ra, runs(&c), "--step fast");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.join("pretrain/dann/seed0/config.json")).unwrap()).unwrap();
    assert_eq!(cfg["experiment"]["step"], "fast");
}

/// `--pretrain none,supervised,rotation,simclr`: scratch, each source-pretrained policy from each pretraining,
/// then `dann`; the self-supervised pretraining runs are checkpointed run folders like every run, and resume.
#[test]
fn self_supervised_pretraining_adds_rows_for_each_source_pretrained_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 128, 32);
    let out = tmp.path().join("a");
    let flags = [
        "--labels-per-class",
        "2",
        "--policies",
        "head,full,dann",
        "--pretrain",
        "none,supervised,rotation,simclr",
    ];
    let run = run_ok(&mut finetune(&data, &out, &flags));
    let table = String::from_utf8_lossy(&run.stdout);
    let rows = row_names(&table);
    assert_eq!(
        rows,
        [
            "scratch",
            "head",
            "full",
            "head (rotation)",
            "full (rotation)",
            "head (simclr)",
            "full (simclr)",
            "dann"
        ],
        "{table}"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("rotation seed 0 epoch   1: pretext loss"), "{stderr}");
    for m in ["source-only", "dann", "rotation", "simclr"] {
        assert!(out.join(format!("pretrain/{m}/seed0/checkpoint.pt")).is_file(), "{m}");
    }
    assert!(out.join("finetune/k2/seed0/full-simclr.json").is_file());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let ssl: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["pretraining"].as_str())
        .collect();
    assert_eq!(ssl, ["rotation", "rotation", "simclr", "simclr"]);
    assert_eq!(
        doc["config"]["pretraining"],
        serde_json::json!(["none", "supervised", "rotation", "simclr"])
    );
    // --resume reuses every finished run: the same table, no pretraining again.
    let again = run_ok(finetune(&data, &out, &flags).arg("--resume"));
    let without_time = |t: &str| t.split("; total").next().unwrap().to_string();
    assert_eq!(
        without_time(&String::from_utf8_lossy(&again.stdout)),
        without_time(&table)
    );
    assert!(!String::from_utf8_lossy(&again.stderr).contains("epoch   1: pretext loss"));
}

/// `--regulariser l2-sp,bss,lwf,delta,co-tuning`: beside every row that starts from a pretrained network, the same fine-tuning
/// with each regulariser; a row from a random start gets none.
#[test]
fn each_regulariser_adds_a_row_beside_each_pretrained_row() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 128, 32);
    let out = tmp.path().join("a");
    let flags = [
        "--labels-per-class",
        "2",
        "--policies",
        "full,scratch",
        "--regulariser",
        "l2-sp,bss,lwf,delta,co-tuning",
        "--set",
        "params.lwf.temperature=2",
    ];
    let run = run_ok(&mut finetune(&data, &out, &flags));
    let table = String::from_utf8_lossy(&run.stdout);
    let rows = row_names(&table);
    assert_eq!(
        rows,
        [
            "full",
            "scratch",
            "full + l2-sp",
            "full + bss",
            "full + lwf",
            "full + delta",
            "full + co-tuning"
        ],
        "{table}"
    );
    assert!(out.join("finetune/k2/seed0/full-l2-sp.json").is_file());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let regularised: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["regulariser"].as_str())
        .collect();
    assert_eq!(regularised, ["l2-sp", "bss", "lwf", "delta", "co-tuning"]);
    assert_eq!(doc["config"]["params"]["lwf"]["temperature"], 2.0);
    let e = run_err(&mut finetune(&data, &tmp.path().join("e"), &["--regulariser", "dann"]));
    assert!(e.contains("invalid value 'dann'") && e.contains("l2-sp"), "{e}");
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "regularisers = [\"mcc\"]\n").unwrap();
    let e = run_err(finetune(&data, &tmp.path().join("e"), &["--config"]).arg(&cfg));
    assert!(
        e.contains(
            "`regularisers`: mcc is not a fine-tuning regulariser (they are: l2-sp, bss, lwf, delta, co-tuning)"
        ),
        "{e}"
    );
}

#[test]
fn bad_finetune_settings_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 64, 16);
    let out = tmp.path().join("out");
    let e = run_err(&mut finetune(&data, &out, &["--labels-per-class", "0"]));
    assert!(e.contains("`labels_per_class`") && e.contains("`0`"), "{e}");
    let e = run_err(&mut finetune(&data, &out, &["--policies", "all-of-them"]));
    assert!(e.contains("unknown policy `all-of-them`"), "{e}");
    let e = run_err(&mut finetune(&data, &out, &["--pretrain", "jigsaw"]));
    assert!(
        e.contains("unknown pretraining `jigsaw`") && e.contains("rotation, simclr"),
        "{e}"
    );
    let e = run_err(&mut finetune(&data, &out, &["--set", "params.simclr.temperature=0"]));
    assert!(e.contains("params.simclr.temperature") && e.contains("> 0"), "{e}");
    let e = run_err(&mut finetune(&data, &out, &["--set", "params.rotation.turns=8"]));
    assert!(
        e.contains("params.rotation.turns") && e.contains("rotation has no hyper-parameters"),
        "{e}"
    );
    let e = run_err(&mut finetune(
        &data,
        &out,
        &["--from", "/no/such/checkpoint.pt", "--policies", "head"],
    ));
    assert!(e.contains("`from`: /no/such/checkpoint.pt is not a file"), "{e}");
    let e = run_err(&mut finetune(&data, &out, &["--from-dann", "/no/such/dann.pt"]));
    assert!(e.contains("`from_dann`: /no/such/dann.pt is not a file"), "{e}");
    let not_a_checkpoint = tmp.path().join("notes.txt");
    std::fs::write(&not_a_checkpoint, "not tensors").unwrap();
    let e = run_err(
        finetune(
            &data,
            &out,
            &["--policies", "dann", "--labels-per-class", "1", "--from-dann"],
        )
        .arg(&not_a_checkpoint),
    );
    assert!(e.contains("notes.txt"), "{e}");
}

#[test]
fn office31_finetune_tests_on_the_unlabelled_rest_of_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    office_data(&data, &[("amazon", 2), ("webcam", 3)]);
    let cfg = tmp.path().join("short.toml");
    std::fs::write(&cfg, "finetune_epochs = 1\n[pretrain]\nsteps_per_epoch = 2\n").unwrap();
    let out = tmp.path().join("out");
    let office = |out: &Path, extra: &[&str]| {
        let mut c = finetune(&data, out, &["--task", "office31:A-W", "--batch", "4", "--config"]);
        c.arg(&cfg).args(extra);
        c
    };
    let run = run_ok(&mut office(
        &out,
        &["--labels-per-class", "1", "--policies", "head,scratch"],
    ));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("the ResNet-50 starts from random weights"), "{stderr}");
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        table.contains("Office-31 A->W") && table.contains("| policy | k=1 |") && table.contains("| scratch |"),
        "{table}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r["labelled_images"], 31, "one per class");
        assert_eq!(r["accuracy_per_epoch"].as_array().unwrap().len(), 1);
        let acc = r["target_acc"].as_f64().unwrap();
        // Tested on the 62 webcam images left unlabelled: accuracy is a multiple of 1/62.
        assert!((acc * 62.0 - (acc * 62.0).round()).abs() < 1e-6, "{acc}");
    }
    assert_eq!(doc["config"]["labels_per_class"], serde_json::json!(["1"]));
    let subset: Vec<usize> =
        serde_json::from_str(&std::fs::read_to_string(out.join("finetune/k1/seed0/subset.json")).unwrap()).unwrap();
    let classes: std::collections::BTreeSet<usize> = subset.iter().map(|i| i / 3).collect();
    assert_eq!(
        (subset.len(), classes.len()),
        (31, 31),
        "the listing is sorted by class, 3 per class"
    );
    assert!(out.join("pretrain/source-only/seed0/checkpoint.pt").is_file());

    let e = run_err(&mut office(
        &tmp.path().join("e1"),
        &["--labels-per-class", "3", "--policies", "scratch"],
    ));
    assert!(
        e.contains("`labels_per_class`") && e.contains("all 3 `back_pack` images") && e.contains("k=3"),
        "{e}"
    );
    let e = run_err(&mut office(
        &tmp.path().join("e5"),
        &["--labels-per-class", "1", "--regulariser", "bss,lwf"],
    ));
    assert!(
        e.contains("`regularisers`: lwf cannot fine-tune the Office-31 ResNet-50") && e.contains("teacher copy"),
        "{e}"
    );
    assert!(
        !tmp.path().join("e5/pretrain").exists(),
        "refused before any pretraining"
    );
    let e = run_err(&mut office(
        &tmp.path().join("e6"),
        &["--labels-per-class", "1", "--regulariser", "bss,co-tuning"],
    ));
    assert!(
        e.contains("`regularisers`: co-tuning reads the labelled examples whole")
            && e.contains("Office-31 streams its images from the host"),
        "{e}"
    );
    assert!(
        !tmp.path().join("e6/pretrain").exists(),
        "refused before any pretraining"
    );
    let e = run_err(&mut office(
        &tmp.path().join("e4"),
        &["--labels-per-class", "1", "--pretrain", "simclr"],
    ));
    assert!(
        e.contains("`pretraining`: simclr would start from the ImageNet ResNet-50") && e.contains("labels"),
        "{e}"
    );
    let e = run_err(&mut office(&tmp.path().join("e3"), &["--step", "fast"]));
    assert!(
        e.contains("`step`: the fast step covers the digit task") && e.contains("office31-A-W runs the eager step"),
        "{e}"
    );
    let e = run_err(&mut office(&tmp.path().join("e2"), &["--labels-per-class", "all"]));
    assert!(
        e.contains("`labels_per_class`: `all`") && e.contains("none to test on"),
        "{e}"
    );
}
