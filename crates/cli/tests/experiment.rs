//! `shift experiment dann` end to end on small real data sets: outputs, reproducibility, Ctrl-C and --resume,
//! and refusal of bad settings.

mod common;

use common::{assert_scores_match, digits_data, numbers, results, run_err, run_ok, shift, validator_scores};
use std::path::Path;

/// `shift experiment dann` on CPU with small defaults; a flag in `extra` replaces the default of the same name.
fn dann_with(data: &Path, out: &Path, extra: &[&str]) -> std::process::Command {
    let defaults = [
        ("--device", "cpu"),
        ("--seeds", "0"),
        ("--batch", "32"),
        ("--epochs", "2"),
        ("--steps-per-epoch", "6"),
    ];
    let mut c = shift();
    c.args(["experiment", "dann", "--data"]).arg(data).arg("--out").arg(out);
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            c.args([flag, value]);
        }
    }
    c.args(extra);
    c
}

fn dann(data: &Path, out: &Path) -> std::process::Command {
    dann_with(data, out, &[])
}

#[test]
fn writes_table_results_run_folders_and_plot_and_the_same_seed_reproduces() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 64);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    // Started outside the checkout, the run still names the commit its binary was built from.
    let out = run_ok(dann(&data, &a).current_dir(tmp.path()));
    let table = String::from_utf8_lossy(&out.stdout);
    // A short schedule: the paper's numbers are not set beside it, and the table says what differs.
    for expected in [
        "| source-only |",
        "| dann |",
        "| target-only |",
        "| not comparable (another schedule) |",
        "differs in train.batch (paper 64, now 32), train.epochs (paper 20, now 2)",
        "results.md",
    ] {
        assert!(table.contains(expected), "missing {expected} in:\n{table}");
    }
    assert!(!table.contains("0.7666"), "{table}");
    for f in [
        "results.md",
        "results.json",
        "accuracy.svg",
        "accuracy.png",
        "tsne.png",
        "report.html",
    ] {
        assert!(a.join(f).is_file(), "{f}");
    }
    // One self-contained page: the results table, the validators' ranking, both pictures embedded.
    let page = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    // The results, the validators' ranking, and (two methods ran) the ranking within each method.
    assert_eq!(page.matches("<table>").count(), 3, "results and validators");
    assert!(page.contains("Weighted Spearman within each method"), "{page}");
    assert!(
        page.contains("<td>dann</td>") && page.contains("<td>snd</td>"),
        "{page}"
    );
    assert_eq!(page.matches("src=\"data:image/png;base64,").count(), 2);
    assert!(
        !page.contains("src=\"http") && !page.contains("href="),
        "nothing outside the file"
    );
    let tsne = image::open(a.join("tsne.png")).unwrap();
    assert_eq!(
        tsne.width(),
        1600,
        "source-only and dann panels (target-only does not adapt)"
    );
    for m in ["source-only", "dann", "target-only"] {
        let run = a.join("mnist-mnistm").join(m).join("seed0");
        for f in ["config.json", "metrics.jsonl", "checkpoint.pt", "result.json"] {
            assert!(run.join(f).is_file(), "{m}/{f}");
        }
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
        // The commit the binary was built from, which in a checkout is its HEAD (the build stamps anew when
        // HEAD moves), although the run started in a folder that is no checkout.
        let built = shift_experiments::run_folder::BUILD_COMMIT;
        assert!(cfg["git_commit"] == built && cfg["seed"] == 0, "{cfg}");
        let here = env!("CARGO_MANIFEST_DIR");
        if let Some(head) = shift_experiments::git_stamp::git_in(Path::new(here), &["rev-parse", "HEAD"]) {
            assert_eq!(head.len(), 40, "{head}");
            assert!(built.starts_with(&head), "{built} is not HEAD {head}");
        }
        let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 2);
        // Every epoch is scored by every validator, and the split that they read is recorded.
        for line in lines.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let names: Vec<&String> = v["validators"].as_object().unwrap().keys().collect();
            let mut all = shift_validators::names();
            all.sort_unstable();
            assert_eq!(names, all, "{m}: {line}");
            assert!(v["validators"]["source_accuracy"]
                .as_f64()
                .is_some_and(|a| (0.0..=1.0).contains(&a)));
        }
        assert_eq!(cfg["experiment"]["validation"]["source_split"], 0.02);
        assert_eq!(cfg["experiment"]["validation"]["seed"], 0);
    }
    let r = results(&a);
    assert_eq!(r["runs"].as_array().unwrap().len(), 3);
    assert_eq!(r["summary"].as_array().unwrap().len(), 3);
    run_ok(&mut dann(&data, &b));
    let (na, nb) = (numbers(&a), numbers(&b));
    assert_eq!(na, nb, "the same seed on CPU must give identical numbers");
    let scores = validator_scores(&a);
    assert_scores_match(&scores, &validator_scores(&b), "the same seed's validator scores");
    assert_eq!(scores[0]["snd"].as_array().unwrap().len(), 2, "{}", scores[0]);
    for (method, _, acc, per_epoch) in &na {
        assert_eq!(
            Some(acc),
            per_epoch.last(),
            "{method}: the reported accuracy is the last epoch's"
        );
    }
}

/// The paper's schedule (20 epochs of one pass of 64 + 64; 4 steps an epoch on this small data) earns the
/// published numbers their place beside the runs.
#[test]
fn the_papers_schedule_is_set_beside_the_published_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 64);
    let out = tmp.path().join("out");
    let mut cmd = shift();
    cmd.args([
        "experiment",
        "dann",
        "--device",
        "cpu",
        "--seeds",
        "0",
        "--methods",
        "source-only,cdan,wdgrl",
        // Validators are not this test's subject, and scoring 40 epochs took most of its time.
        "--set",
        "validation.source_split=0",
    ])
    .arg("--data")
    .arg(&data)
    .arg("--out")
    .arg(&out);
    let table = String::from_utf8_lossy(&run_ok(&mut cmd).stdout).to_string();
    assert!(
        table.contains("| 0.5225 (Ganin et al., JMLR 2016, Table 2) |"),
        "{table}"
    );
    assert!(
        table.contains("| none published |") && !table.contains("not comparable"),
        "{table}"
    );
    // WDGRL's only printed number ran another network and schedule: shown, but never as its published number.
    assert!(
        table.contains(
            "| none under this protocol (0.78 in jvanvugt/pytorch-domain-adaptation, README: its own network and \
             schedule; its source-only reads 0.33) |"
        ),
        "{table}"
    );
    let json = results(&out);
    assert_eq!(json["summary"][0]["published"]["accuracy"], 0.5225);
    assert!(json["summary"][0].get("published_withheld").is_none());
    let wdgrl = &json["summary"][2];
    assert_eq!(wdgrl["method"], "wdgrl");
    assert!(wdgrl["published"].is_null(), "{wdgrl}");
    assert_eq!(wdgrl["reported_elsewhere"]["accuracy"], 0.78);
    assert_eq!(
        wdgrl["reported_elsewhere"]["protocol"]["other"],
        "its own network and schedule; its source-only reads 0.33"
    );
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_resume_finishes_with_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 512, 64);
    let (whole, cut) = (tmp.path().join("whole"), tmp.path().join("cut"));
    let flags = ["--methods", "dann", "--epochs", "3", "--steps-per-epoch", "12"];
    run_ok(&mut dann_with(&data, &whole, &flags));
    // Each step of the interrupted run takes at least 100 ms, so the signal sent once the first epoch's checkpoint
    // exists lands with more than two seconds of steps left: the run stops mid-way, for certain.
    let mut child = dann_with(&data, &cut, &flags)
        .env("SHIFT_TEST_STEP_DELAY_MS", "100")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = cut.join("mnist-mnistm/dann/seed0");
    let t0 = std::time::Instant::now();
    while !run.join("checkpoint.pt").exists() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        child.wait().unwrap().code(),
        Some(130),
        "interrupted runs exit with 130"
    );
    assert!(!run.join("result.json").exists() && !cut.join("results.json").exists());
    let done = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(
        done.lines().count() < 3,
        "the run stopped before its last epoch:\n{done}"
    );
    let resumed = run_ok(dann_with(&data, &cut, &flags).arg("--resume"));
    let said = String::from_utf8_lossy(&resumed.stderr);
    let at = said
        .lines()
        .find_map(|l| l.split(" step ").nth(1).filter(|_| l.contains("resuming")))
        .unwrap_or_else(|| panic!("no resume line in:\n{said}"));
    assert_ne!(
        at.trim(),
        "0",
        "the interrupt came mid-epoch, so the run resumes mid-epoch:\n{said}"
    );
    assert_eq!(numbers(&cut), numbers(&whole));
    assert_scores_match(
        &validator_scores(&cut),
        &validator_scores(&whole),
        "the scores survive the resume",
    );
    let lines = std::fs::read_to_string(cut.join("mnist-mnistm/dann/seed0/metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 3, "metrics.jsonl holds each epoch once");
}

#[test]
fn the_held_out_split_is_not_trained_on_and_validators_can_be_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 64);
    let (on, off) = (tmp.path().join("on"), tmp.path().join("off"));
    let flags = ["--methods", "source-only", "--epochs", "1"];
    let said = String::from_utf8_lossy(&run_ok(&mut dann_with(&data, &on, &flags)).stderr).into_owned();
    // 0.02 of 256 is 5 held out; the 256 MNIST-M train images and the 251 left of MNIST's are all the samples.
    assert!(said.contains("MNIST train 251 ->"), "{said}");
    assert!(
        said.contains(
            "on 5 held-out MNIST train images (seed 0, never trained on), 256 unlabelled MNIST-M train images and \
             251 MNIST train images"
        ),
        "{said}"
    );
    let mut no = flags.to_vec();
    no.extend(["--set", "validation.source_split=0"]);
    let said =
        String::from_utf8_lossy(&run_ok(dann_with(&data, &off, &no).env("SHIFT_THREADS", "1")).stderr).into_owned();
    assert!(
        said.contains("MNIST train 256 ->") && said.contains("no validators"),
        "{said}"
    );
    let metrics = std::fs::read_to_string(off.join("mnist-mnistm/source-only/seed0/metrics.jsonl")).unwrap();
    assert!(!metrics.contains("validators"), "{metrics}");
    assert_eq!(validator_scores(&off), [serde_json::Value::Null]);
    // result.json records the libtorch threads each run trained with: SHIFT_THREADS, else libtorch's default.
    let threads = |out: &Path| results(out)["runs"][0]["cpu_threads"].as_u64();
    assert_eq!(threads(&off), Some(1));
    assert!(threads(&on).is_some_and(|n| n >= 1), "{:?}", threads(&on));
}

#[test]
fn bad_settings_are_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 64, 16);
    let out = tmp.path().join("out");
    let e = run_err(&mut dann_with(&data, &out, &["--batch", "0"]));
    assert!(e.contains("`train.batch`"), "{e}");
    let e = run_err(dann(&data, &out).args(["--methods", "dann,magic"]));
    assert!(
        e.contains("'magic'") && e.contains("possible values") && e.contains("cdan-e"),
        "{e}"
    );
    let e = run_err(dann(&data, &out).args(["--task", "svhn:mnist"]));
    assert!(e.contains("`task`") && e.contains("svhn:mnist"), "{e}");
    let e = run_err(dann(&data, &out).args(["--task", "office31:A-A"]));
    assert!(e.contains("adapts a domain to itself"), "{e}");
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[train]\nlr = { kind = \"paper\", lr0 = -0.01, alpha = 10.0, beta = 0.75 }\n",
    )
    .unwrap();
    let e = run_err(dann(&data, &out).arg("--config").arg(&cfg));
    assert!(e.contains("`train.lr.lr0`"), "{e}");
    std::fs::write(&cfg, "[train]\nbatchsize = 3\n").unwrap();
    let e = run_err(dann(&data, &out).arg("--config").arg(&cfg));
    assert!(e.contains("bad.toml") && e.contains("batchsize"), "{e}");
    let e = run_err(&mut dann_with(&data, &out, &["--device", "cuda:7"]));
    assert!(e.contains("cuda:7"), "{e}");
    let e = run_err(&mut dann(&tmp.path().join("nothing"), &out));
    assert!(e.contains("cargo xtask download mnist"), "{e}");
    let e = run_err(&mut dann_with(&data, &out, &["--step", "graph"]));
    assert!(e.contains("`step`") && e.contains("unknown step `graph`"), "{e}");
    let e = run_err(&mut dann_with(
        &data,
        &out,
        &["--step", "fast", "--methods", "dann-alt"],
    ));
    assert!(e.contains("`step`") && e.contains("dann-alt cannot be captured"), "{e}");
    let e = run_err(&mut dann_with(&data, &out, &["--set", "validation.select=oracle"]));
    assert!(e.contains("`validation.select`: unknown validator `oracle`"), "{e}");
    let e = run_err(&mut dann_with(&data, &out, &["--set", "validation.source_split=1.5"]));
    assert!(e.contains("`validation.source_split`"), "{e}");
    // `--set` reaches the configuration: a bad key path, and a method's key it does not have, are named.
    let e = run_err(&mut dann_with(&data, &out, &["--set", "train.batch=0"]));
    assert!(e.contains("train.batch"), "{e}");
    let e = run_err(&mut dann_with(&data, &out, &["--set", "train.epoch=2"]));
    assert!(
        e.contains("--set train.epoch=2") && e.contains("unknown field `epoch`"),
        "{e}"
    );
    let e = run_err(&mut dann_with(&data, &out, &["--set", "params.dann.gamma=2"]));
    assert!(
        e.contains("params.dann.gamma") && e.contains("dann has no `gamma` (its keys: lambda_on_discriminator)"),
        "{e}"
    );
    let e = run_err(&mut dann_with(&data, &out, &["--set", "params.source-only.gamma=2"]));
    assert!(e.contains("source-only has no hyper-parameters"), "{e}");
    let e = run_err(&mut dann_with(
        &data,
        &out,
        &["--set", "params.dann.lambda_on_discriminator=0.5"],
    ));
    assert!(e.contains("lambda_on_discriminator") && e.contains("0 or 1"), "{e}");
}

#[test]
fn the_fast_step_gives_the_eager_numbers_on_cpu_and_says_it_runs_eagerly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 64);
    let (eager, fast) = (tmp.path().join("eager"), tmp.path().join("fast"));
    let flags = ["--methods", "source-only,dann"];
    run_ok(&mut dann_with(&data, &eager, &flags));
    let out = run_ok(dann_with(&data, &fast, &flags).args(["--step", "fast"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CUDA graphs need a CUDA device; the fast step runs eagerly on Cpu"),
        "{stderr}"
    );
    let run = fast.join("mnist-mnistm/dann/seed0");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["experiment"]["step"], "fast");
    let why = "CUDA graphs need a CUDA device; the fast step runs eagerly on Cpu";
    assert_eq!(cfg["step_fallback"], why, "{cfg}");
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["step_fallback"], why);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!(
            "fast step ran eagerly (source-only seed 0, dann seed 0): {why}"
        )),
        "{table}"
    );
    // The same function with the same arithmetic: the same accuracies, epoch for epoch.
    assert_eq!(numbers(&eager), numbers(&fast));
}

/// A run's saved config.json is a configuration: given back with `--config`, it runs the same experiment with the
/// same numbers. `--resume` with other settings is refused, naming the key paths; an unreadable result is
/// reported, not taken for a run not done.
#[test]
fn a_saved_config_runs_again_and_resume_refuses_other_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 64);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let flags = ["--methods", "dann,mcc"];
    run_ok(&mut dann_with(&data, &a, &flags));
    let saved = a.join("mnist-mnistm/dann/seed0/config.json");
    let mut again = shift();
    again
        .args(["experiment", "dann", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&b)
        .arg("--config")
        .arg(&saved);
    run_ok(&mut again);
    let (na, nb) = (numbers(&a), numbers(&b));
    assert_eq!(nb.len(), 2, "the saved config lists both methods");
    assert_eq!(na, nb);
    let e = run_err(&mut dann_with(
        &data,
        &a,
        &["--methods", "dann", "--epochs", "3", "--resume"],
    ));
    assert!(
        e.contains("`--resume`") && e.contains("train.epochs (saved 2, now 3)") && e.contains("seed0"),
        "{e}"
    );
    // A run is compared on its own method's resolved hyper-parameters: another method's do not matter, its own
    // (recorded in config.json) do.
    let saved_cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("mnist-mnistm/mcc/seed0/config.json")).unwrap()).unwrap();
    assert_eq!(saved_cfg["hyper_parameters"]["temperature"], 2.5);
    let other = ["--methods", "dann", "--resume", "--set", "params.mcc.temperature=3"];
    let out = run_ok(&mut dann_with(&data, &a, &other));
    assert!(String::from_utf8_lossy(&out.stderr).contains("finished earlier"));
    let own = ["--methods", "mcc", "--resume", "--set", "params.mcc.temperature=3"];
    let e = run_err(&mut dann_with(&data, &a, &own));
    assert!(e.contains("hyper_parameters.temperature (saved 2.5, now 3.0)"), "{e}");
    // A folder saved before a key existed (train.optimiser) reads as its default, SGD: reused, not refused;
    // asked for Adam, it is refused naming the key.
    let dann_cfg = a.join("mnist-mnistm/dann/seed0/config.json");
    let mut older: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dann_cfg).unwrap()).unwrap();
    older["experiment"]["train"]
        .as_object_mut()
        .unwrap()
        .remove("optimiser")
        .unwrap();
    std::fs::write(&dann_cfg, serde_json::to_string_pretty(&older).unwrap()).unwrap();
    let out = run_ok(&mut dann_with(&data, &a, &["--methods", "dann", "--resume"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("finished earlier"));
    let adam = ["--methods", "dann", "--resume", "--set", "train.optimiser=adam"];
    let e = run_err(&mut dann_with(&data, &a, &adam));
    assert!(e.contains("train.optimiser (saved \"sgd\", now \"adam\")"), "{e}");
    std::fs::write(a.join("mnist-mnistm/dann/seed0/result.json"), "{ not json").unwrap();
    let e = run_err(&mut dann_with(&data, &a, &["--methods", "dann", "--resume"]));
    assert!(e.contains("result.json") && e.contains("is not a run result"), "{e}");
}

#[test]
fn flags_of_the_other_task_are_refused_not_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 64, 16);
    let out = tmp.path().join("out");
    let e = run_err(&mut dann_with(&data, &out, &["--backbone", "resnet50"]));
    assert!(e.contains("`backbone`") && e.contains("digit"), "{e}");
    let e = run_err(&mut dann_with(&data, &out, &["--pretrained", "w.safetensors"]));
    assert!(e.contains("`pretrained`") && e.contains("w.safetensors"), "{e}");
    let e = run_err(&mut dann_with(
        &data,
        &out,
        &["--task", "office31:A-W", "--source-limit", "10"],
    ));
    assert!(e.contains("`source_limit`") && e.contains("Office-31"), "{e}");
}

#[test]
fn the_whole_experiment_is_estimated_once_its_first_steps_are_timed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 128, 16);
    let flags = [
        "--methods",
        "source-only",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "60",
        "--batch",
        "8",
        "--set",
        "validation.source_split=0",
    ];
    let out = run_ok(&mut dann_with(&data, &tmp.path().join("out"), &flags));
    let said = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("this experiment takes about"))
        .collect();
    assert_eq!(lines.len(), 1, "said once:\n{said}");
    assert!(
        lines[0].contains("on this machine") && lines[0].contains("--quick takes about"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_diverging_run_stops_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 128, 16);
    let cfg = tmp.path().join("nan.json");
    std::fs::write(
        &cfg,
        r#"{"methods": ["source-only"], "train": {"lr": {"kind": "constant", "lr": 1e30}}}"#,
    )
    .unwrap();
    let e = run_err(dann(&data, &tmp.path().join("out")).arg("--config").arg(&cfg));
    assert!(e.contains("not finite") && e.contains("last good checkpoint"), "{e}");
}

/// `cargo xtask experiment dann --help` prints a copy kept in xtask (so that it needs no libtorch and no build):
/// the copy must be the binary's help, word for word.
#[test]
fn the_help_xtask_prints_is_the_binarys() {
    for which in ["dann", "finetune", "zero-shot", "multitask"] {
        let out = run_ok(shift().args(["experiment", which, "--help"]));
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../xtask/help/experiment-{which}.txt"));
        let kept = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            kept,
            "{} is stale: regenerate it with `target/release/shift experiment {which} --help > {}`",
            file.display(),
            file.display()
        );
    }
}

#[test]
fn the_rebuilt_mnist_m_train_split_is_chosen_by_flag_and_tested_on_the_released_test_set() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 128, 32);
    let out = tmp.path().join("out");
    let e = run_err(&mut dann_with(
        &data,
        &out,
        &["--mnist-m", "rebuilt", "--methods", "source-only"],
    ));
    assert!(e.contains("mnist_m_rebuilt"), "{e}");
    // A rebuilt split of another size, so the log shows which one trained.
    let other = digits_data(&tmp.path().join("other"), 96, 16);
    std::fs::rename(other.join("mnist_m"), data.join("mnist_m_rebuilt")).unwrap();
    let run = run_ok(&mut dann_with(
        &data,
        &out,
        &["--mnist-m", "rebuilt", "--methods", "source-only"],
    ));
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(
        log.contains("MNIST-M train 96 (rebuilt;") && log.contains("test 32 (released)"),
        "{log}"
    );
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        table.contains("MNIST-M: the train split rebuilt from MNIST + BSDS500"),
        "{table}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("mnist-mnistm/source-only/seed0/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["experiment"]["mnist_m"], "rebuilt");
    let e = run_err(&mut dann_with(&data, &out, &["--mnist-m", "fresh"]));
    assert!(
        e.contains("--mnist-m") && e.contains("fresh") && e.contains("rebuilt"),
        "{e}"
    );
}
