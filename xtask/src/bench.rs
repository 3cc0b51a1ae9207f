//! `cargo xtask bench data|train`: sets up libtorch (and the data), builds shift in release mode, runs
//! `shift bench`. `train` also runs the PyTorch peers with the `.venv`'s PyTorch on the same device
//! (`../shared/bench/reference_dann.py --mode speed`, and `xtask/python/dann_peer.py`: fused SGD eager and the
//! whole step in one CUDA graph; with `--to-accuracy`, time to that accuracy) and prints the ratios. `train
//! --backbone audio-cnn` times the spoken digits' DANN step beside its PyTorch peer (`xtask/python/audio_peer.py`);
//! `train --backbone mnist-cnn` the multi-domain step of domain generalisation (ERM, IRM, CORAL, DANN as DomainBed
//! runs them) beside its PyTorch peer (`xtask/python/domainbed_peer.py`), and `train --backbone multi-lenet` the
//! multitask weightings' step beside `xtask/python/multitask_peer.py`. `zero-shot` times the zero-shot methods'
//! fits and scoring beside the same work in PyTorch (`xtask/python/zero_shot_peer.py`).

use crate::download::{self, DataPlace};
use crate::{cmd, setup};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Which {
    /// Cold data load, MNIST-M rebuild, image pipeline throughput.
    Data,
    /// The digit DANN train step against the PyTorch reference.
    Train,
    /// The zero-shot methods' fits and scoring (DAP, ESZSL) against the same work in PyTorch.
    ZeroShot,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    which: Which,
    #[command(flatten)]
    place: DataPlace,
    /// Also write the table as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// `train`: device for both sides (auto, cpu, cuda).
    #[arg(long, default_value = "auto")]
    device: String,
    /// `train`: steps per timed window (shift) and timed steps (reference).
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// `train`: the PyTorch reference script.
    #[arg(long)]
    reference: Option<std::path::PathBuf>,
    /// `train`: also the wall time to this MNIST-M test accuracy (paper schedule), for shift and PyTorch.
    #[arg(long)]
    to_accuracy: Option<f64>,
    /// `train`: further methods whose step rate to measure beside DANN's (comma-separated registry names);
    /// cdan, mcc, dan, rotation, simclr, l2-sp, bss, lwf, delta and co-tuning are also timed in PyTorch
    /// (`dann_peer.py --method`).
    #[arg(long, value_delimiter = ',')]
    methods: Vec<String>,
    /// `train`: the backbone, the digit net (default), audio-cnn (the spoken digits' DANN step beside
    /// `xtask/python/audio_peer.py`), mnist-cnn (the multi-domain step of `--methods`, by default erm, irm,
    /// dg-coral and dg-dann, beside `xtask/python/domainbed_peer.py`) or multi-lenet (the multitask step of
    /// `--methods`, by default every weighting, beside `xtask/python/multitask_peer.py`).
    #[arg(long, default_value = "digit")]
    backbone: String,
    /// `data`: digits (MNIST, MNIST-M, the image pipeline) or fsdd (the spoken digits' decoding and log-mel
    /// front end).
    #[arg(long, default_value = "digits", value_parser = ["digits", "fsdd"])]
    task: String,
}

/// The methods `dann_peer.py --method` has a PyTorch step for.
const PEER_METHODS: [&str; 10] = [
    "cdan",
    "mcc",
    "dan",
    "rotation",
    "simclr",
    "l2-sp",
    "bss",
    "lwf",
    "delta",
    "co-tuning",
];

/// The methods over domains `domainbed_peer.py --method` has a PyTorch step for (DomainBed's ERM, IRM, CORAL and
/// DANN), and the default of `--backbone mnist-cnn`.
const DOMAINBED_PEER_METHODS: [&str; 4] = ["erm", "irm", "dg-coral", "dg-dann"];

/// The multitask weightings `multitask_peer.py --method` has a PyTorch step for, and the default of `--backbone
/// multi-lenet`.
const MULTITASK_PEER_METHODS: [&str; 5] = ["equal", "uncertainty", "mgda-ub", "pcgrad", "single-task"];

/// A backbone whose steps one PyTorch script restates: its name, the script, the methods it has, the JSON file
/// shift writes, and the first column's title.
struct PeerBench {
    backbone: &'static str,
    script: &'static str,
    methods: &'static [&'static str],
    json: &'static str,
    title: &'static str,
}

const DOMAINBED_BENCH: PeerBench = PeerBench {
    backbone: "mnist-cnn",
    script: "domainbed_peer.py",
    methods: &DOMAINBED_PEER_METHODS,
    json: "target/bench-train-domains.json",
    title: "mnist-cnn, 2 domains x 64, Adam",
};

const MULTITASK_BENCH: PeerBench = PeerBench {
    backbone: "multi-lenet",
    script: "multitask_peer.py",
    methods: &MULTITASK_PEER_METHODS,
    json: "target/bench-train-multitask.json",
    title: "multi-lenet, 2 tasks, batch 256, SGD",
};

pub fn run(args: BenchArgs) -> Result<()> {
    if matches!(args.which, Which::Train) && args.task != "digits" {
        anyhow::bail!(
            "--task {}: a setting of `bench data`; `bench train` takes --backbone",
            args.task
        );
    }
    match (args.which, args.backbone.as_str()) {
        (Which::ZeroShot, _) => return zero_shot(&args),
        (Which::Train, "audio-cnn") => return train_audio(&args),
        (Which::Train, "mnist-cnn") => return train_with_peer(&args, &DOMAINBED_BENCH),
        (Which::Train, "multi-lenet") => return train_with_peer(&args, &MULTITASK_BENCH),
        (Which::Train, "digit") => return train(&args),
        (Which::Train, other) => {
            anyhow::bail!(
                "--backbone {other}: `cargo xtask bench train` times digit, audio-cnn, mnist-cnn or multi-lenet"
            )
        }
        (Which::Data, "digit") => {}
        (Which::Data, other) => anyhow::bail!("--backbone {other}: a setting of `bench train`"),
    }
    let needs: &[&str] = if args.task == "fsdd" {
        &["fsdd"]
    } else {
        &download::DIGITS
    };
    download::ensure_each(needs, &args.place)?;
    let mut shift = cmd::shift_release(&setup::run()?);
    shift
        .args(["bench", "data", "--task", &args.task, "--data"])
        .arg(args.place.data_dir());
    if let Some(json) = &args.json {
        shift.arg("--json").arg(json);
    }
    cmd::run(&mut shift)
}

fn train(args: &BenchArgs) -> Result<()> {
    let libtorch = setup::run()?;
    let root = cmd::root();
    let json = args
        .json
        .clone()
        .unwrap_or_else(|| root.join("target/bench-train.json"));
    let steps = args.steps.to_string();
    let mut shift_cmd = cmd::shift_release(&libtorch);
    shift_cmd
        .args(["bench", "train", "--device", &args.device, "--steps", &steps, "--json"])
        .arg(&json);
    let others: Vec<&str> = args
        .methods
        .iter()
        .map(String::as_str)
        .filter(|m| *m != "dann")
        .collect();
    if !others.is_empty() {
        shift_cmd.arg("--methods").arg(format!("dann,{}", others.join(",")));
    }
    if let Some(target) = args.to_accuracy {
        download::ensure_each(&download::DIGITS, &args.place)?;
        shift_cmd
            .arg("--data")
            .arg(args.place.data_dir())
            .args(["--to-accuracy", &target.to_string()]);
    }
    cmd::run(&mut shift_cmd)?;
    let shift: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let script = args
        .reference
        .clone()
        .unwrap_or_else(|| root.join("../shared/bench/reference_dann.py"));
    if !script.is_file() {
        eprintln!("xtask: bench: {} not found; no PyTorch comparison", script.display());
        return Ok(());
    }
    // The reference imports numpy, which torch does not pull in.
    let python = crate::python::ensure()?;
    let device = peer_device(&shift)?;
    let reference = median_of_3(|| {
        let out = std::process::Command::new(&python)
            .arg(&script)
            .args(["--mode", "speed", "--device", &device, "--steps", &steps])
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(
            out.status.success(),
            "reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.split(" = ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|r| r.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("cannot read the reference's output: {text}"))
    })?;
    // The peers beside the reference: the same step with a fused (foreach) SGD, eager and (CUDA) captured in one
    // CUDA graph.
    let peer = |mode: &str, extra: &[String]| -> Result<Vec<serde_json::Value>> {
        let out = crate::python::script(&python, "dann_peer.py")
            .args(["--mode", mode, "--device", &device, "--reference"])
            .arg(&script)
            .args(extra)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "dann_peer.py --mode {mode} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| Ok(serde_json::from_str(l)?))
            .collect()
    };
    let speed = peer("speed", &["--steps".into(), steps.clone()])?;
    let speed = speed.first().cloned().unwrap_or_default();
    let rate = |v: &serde_json::Value, k: &str| v[k]["steps_per_s"].as_f64();
    let mut rows: Vec<(String, f64)> = vec![(
        "PyTorch eager, bench/reference_dann.py (median of 3 runs)".into(),
        reference,
    )];
    if let Some(r) = rate(&speed, "eager") {
        rows.push(("PyTorch eager, fused SGD (dann_peer.py)".into(), r));
    }
    if let Some(r) = rate(&speed, "graph") {
        rows.push(("PyTorch, whole step in one CUDA graph (dann_peer.py)".into(), r));
        // On CUDA also with cuDNN benchmarking, which shift's runs use unless --deterministic.
        let tuned = peer("speed", &["--steps".into(), steps.clone(), "--cudnn-benchmark".into()])?;
        if let Some(t) = tuned.first().and_then(|v| rate(v, "graph")) {
            rows.push(("PyTorch, CUDA graph, cuDNN benchmark (dann_peer.py)".into(), t));
        }
    }
    for k in ["eager", "fast"] {
        if let Some(r) = rate(&shift, k) {
            rows.push((format!("shift {k}"), r));
        }
    }
    let card = shift["card"].as_str().unwrap_or("?");
    let best_peer = fastest_pytorch(&rows);
    println!("\n| side ({device}, {card}) | steps/s | vs reference | vs best PyTorch |");
    println!("|---|---|---|---|");
    for (name, r) in &rows {
        println!("| {name} | {r:.1} | {:.2}x | {:.2}x |", r / reference, r / best_peer);
    }
    // Each further method beside its PyTorch step, where dann_peer.py has one.
    if !others.is_empty() {
        println!("\n| method ({device}) | shift eager steps/s | PyTorch eager steps/s (dann_peer.py --method) | shift / PyTorch |");
        println!("|---|---|---|---|");
        for m in &others {
            let Some(ours) = shift[format!("{m}/eager")]["steps_per_s"].as_f64() else {
                continue;
            };
            let theirs = if PEER_METHODS.contains(m) {
                let v = peer(
                    "speed",
                    &["--steps".into(), steps.clone(), "--method".into(), m.to_string()],
                )?;
                v.first().and_then(|v| rate(v, "eager"))
            } else {
                None
            };
            match theirs {
                Some(t) => println!("| {m} | {ours:.1} | {t:.1} | {:.2}x |", ours / t),
                None => println!("| {m} | {ours:.1} | no PyTorch peer | - |"),
            }
        }
    }
    if let Some(target) = args.to_accuracy {
        let data = args.place.data_dir();
        let extra = [
            "--target".to_string(),
            target.to_string(),
            "--mnist".into(),
            data.join("mnist").display().to_string(),
            "--mnistm".into(),
            data.join("mnist_m").display().to_string(),
        ];
        println!("\n| side | time to {target} MNIST-M test accuracy, s | at epoch |");
        println!("|---|---|---|");
        for r in peer("time-to", &extra)? {
            let kind = r["step"].as_str().unwrap_or("?");
            match r["seconds"].as_f64() {
                Some(s) => println!("| PyTorch {kind} | {s:.1} | {} |", r["epochs"]),
                None => println!("| PyTorch {kind} | not reached (last {}) | - |", r["last_acc"]),
            }
        }
        for k in ["eager", "fast"] {
            match shift[k]["time_to_accuracy_s"].as_f64() {
                Some(s) => println!("| shift {k} | {s:.1} | {} |", shift[k]["time_to_accuracy_epochs"]),
                None if shift.get(k).is_some() => println!("| shift {k} | not reached | - |"),
                None => {}
            }
        }
    }
    Ok(())
}

/// The audio CNN's DANN step (batch 32 + 32, eager) in shift and in PyTorch (`audio_peer.py`, median of 3 runs),
/// side by side on the CPU or the device given.
fn train_audio(args: &BenchArgs) -> Result<()> {
    let libtorch = setup::run()?;
    let json = args
        .json
        .clone()
        .unwrap_or_else(|| cmd::root().join("target/bench-train-audio.json"));
    let steps = args.steps.to_string();
    cmd::run(
        cmd::shift_release(&libtorch)
            .args([
                "bench",
                "train",
                "--backbone",
                "audio-cnn",
                "--step",
                "eager",
                "--device",
                &args.device,
            ])
            .args(["--steps", &steps, "--json"])
            .arg(&json),
    )?;
    let shift: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let ours = shift["eager"]["steps_per_s"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("{}: no eager step rate", json.display()))?;
    let device = peer_device(&shift).with_context(|| json.display().to_string())?;
    let python = crate::python::ensure()?;
    // The median of 3 runs of the peer, with glibc's default heap and with shift's heap setting as environment
    // (shift_tensor::cpu_heap: freed blocks stay in the heap), which the peer gains from as much as shift.
    let peer_rate = |heap: bool| -> Result<f64> {
        median_of_3(|| {
            let mut peer = crate::python::script(&python, "audio_peer.py");
            peer.args(["--device", &device, "--steps", &steps]);
            if heap {
                peer.env("MALLOC_TRIM_THRESHOLD_", "1073741824")
                    .env("MALLOC_MMAP_THRESHOLD_", "33554432");
            }
            // shift lets cuDNN time its algorithms unless --deterministic; the peer does the same.
            if device.starts_with("cuda") {
                peer.arg("--cudnn-benchmark");
            }
            let out = peer.output()?;
            anyhow::ensure!(
                out.status.success(),
                "audio_peer.py failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim())?;
            line["eager"]["steps_per_s"]
                .as_f64()
                .ok_or_else(|| anyhow::anyhow!("cannot read audio_peer.py's output: {line}"))
        })
    };
    let rows = [
        (
            "PyTorch eager, foreach SGD (audio_peer.py, median of 3 runs)".to_string(),
            peer_rate(false)?,
        ),
        (
            "PyTorch eager, foreach SGD, shift's heap setting as environment (median of 3 runs)".to_string(),
            peer_rate(true)?,
        ),
    ];
    let best = fastest_pytorch(&rows);
    let card = shift["card"].as_str().unwrap_or("?");
    println!("\n| side (audio-cnn DANN step, batch 32+32, {device}, {card}) | steps/s | shift / this side |");
    println!("|---|---|---|");
    for (name, rate) in &rows {
        println!("| {name} | {rate:.1} | {:.2}x |", ours / rate);
    }
    println!(
        "| shift eager | {ours:.1} | {:.2}x of the fastest PyTorch side |",
        ours / best
    );
    Ok(())
}

/// The eager step of each of `--methods` on `bench`'s backbone (the multi-domain step on DomainBed's MNIST ConvNet,
/// or the multitask step on MultiLeNet) in shift and in PyTorch (`bench.script`, median of 3 runs), side by side.
fn train_with_peer(args: &BenchArgs, bench: &PeerBench) -> Result<()> {
    let methods: Vec<String> = if args.methods.is_empty() {
        bench.methods.iter().map(|m| m.to_string()).collect()
    } else {
        args.methods.clone()
    };
    let libtorch = setup::run()?;
    let json = args.json.clone().unwrap_or_else(|| cmd::root().join(bench.json));
    let steps = args.steps.to_string();
    cmd::run(
        cmd::shift_release(&libtorch)
            .args(["bench", "train", "--backbone", bench.backbone, "--step", "eager"])
            .args(["--device", &args.device, "--steps", &steps])
            .arg("--methods")
            .arg(methods.join(","))
            .arg("--json")
            .arg(&json),
    )?;
    let shift: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let device = peer_device(&shift).with_context(|| json.display().to_string())?;
    let python = crate::python::ensure()?;
    let card = shift["card"].as_str().unwrap_or("?");
    println!(
        "\n| method ({}, {device}, {card}) | shift eager steps/s | PyTorch eager steps/s ({}, median of 3 runs) | \
         shift / PyTorch |",
        bench.title, bench.script
    );
    println!("|---|---|---|---|");
    for m in &methods {
        let ours = shift[format!("{m}/eager")]["steps_per_s"]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("{}: no eager step rate of {m}", json.display()))?;
        if !bench.methods.contains(&m.as_str()) {
            println!("| {m} | {ours:.1} | no PyTorch peer | - |");
            continue;
        }
        let theirs = median_of_3(|| {
            let out = crate::python::script(&python, bench.script)
                .args(["--device", &device, "--steps", &steps, "--method", m])
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "{} --method {m} failed: {}",
                bench.script,
                String::from_utf8_lossy(&out.stderr)
            );
            let line: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim())?;
            line["eager"]["steps_per_s"]
                .as_f64()
                .ok_or_else(|| anyhow::anyhow!("cannot read {}'s output: {line}", bench.script))
        })?;
        println!("| {m} | {ours:.1} | {theirs:.1} | {:.2}x |", ours / theirs);
    }
    Ok(())
}

/// `shift bench zero-shot` and `zero_shot_peer.py` (the CPU), side by side.
fn zero_shot(args: &BenchArgs) -> Result<()> {
    let libtorch = setup::run()?;
    let json = args
        .json
        .clone()
        .unwrap_or_else(|| cmd::root().join("target/bench-zero-shot.json"));
    cmd::run(
        cmd::shift_release(&libtorch)
            .args(["bench", "zero-shot", "--json"])
            .arg(&json),
    )?;
    let shift: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let python = crate::python::ensure()?;
    let out = crate::python::script(&python, "zero_shot_peer.py").output()?;
    anyhow::ensure!(
        out.status.success(),
        "zero_shot_peer.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim())?;
    println!(
        "\n| measure (CPU; shift {} threads, PyTorch {}) | shift, s | PyTorch (zero_shot_peer.py), s | PyTorch / shift |",
        shift["threads"], peer["threads"]
    );
    println!("|---|---|---|---|");
    for (key, what) in [
        ("eszsl_fit_grid", "ESZSL fit, the 7 x 7 grid"),
        ("eszsl_score", "ESZSL scoring"),
        ("dap_fit", "DAP fit"),
        ("dap_score", "DAP scoring"),
    ] {
        let (ours, theirs) = (shift[key].as_f64(), peer[key].as_f64());
        let (Some(ours), Some(theirs)) = (ours, theirs) else {
            anyhow::bail!("no `{key}` in shift's or the peer's output");
        };
        println!("| {what} | {ours:.3} | {theirs:.3} | {:.2}x |", theirs / ours);
    }
    Ok(())
}

/// The device string a Python peer takes (`cpu`, `cuda:N`) for the device shift's bench JSON says it ran on.
fn peer_device(shift: &serde_json::Value) -> Result<String> {
    match shift["device"].as_str() {
        Some("Cpu") => Ok("cpu".into()),
        Some(d) if d.starts_with("Cuda(") => {
            Ok(format!("cuda:{}", d.trim_start_matches("Cuda(").trim_end_matches(')')))
        }
        other => anyhow::bail!("no device shift ran on in its bench output ({other:?})"),
    }
}

/// The median of three runs of `run` (a peer's steps/s; each run a fresh process, so one slow start does not
/// decide).
fn median_of_3(mut run: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut rates = [run()?, run()?, run()?];
    rates.sort_by(f64::total_cmp);
    Ok(rates[1])
}

/// The fastest PyTorch side that ran (the rows named `PyTorch ...`): what "vs best PyTorch" divides by.
fn fastest_pytorch(rows: &[(String, f64)]) -> f64 {
    rows.iter()
        .filter(|(name, _)| name.starts_with("PyTorch"))
        .map(|&(_, r)| r)
        .fold(f64::NAN, f64::max)
}

#[cfg(test)]
mod tests {
    use super::{median_of_3, peer_device};

    #[test]
    fn the_peers_device_and_the_median_of_three_runs() {
        let dev = |d: serde_json::Value| peer_device(&serde_json::json!({ "device": d }));
        assert_eq!(dev("Cpu".into()).unwrap(), "cpu");
        assert_eq!(dev("Cuda(1)".into()).unwrap(), "cuda:1");
        let e = dev(serde_json::Value::Null).unwrap_err().to_string();
        assert!(e.contains("no device shift ran on"), "{e}");
        let mut runs = [30.0, 10.0, 20.0].into_iter();
        assert_eq!(median_of_3(|| Ok(runs.next().unwrap())).unwrap(), 20.0);
        assert!(median_of_3(|| anyhow::bail!("peer failed")).is_err());
    }

    #[test]
    fn vs_best_pytorch_divides_by_the_fastest_pytorch_side_that_ran() {
        let row = |n: &str, r: f64| (n.to_string(), r);
        // On the CPU: no graph rows, and the fused-SGD peer faster than the reference.
        let cpu = [
            row("PyTorch eager, bench/reference_dann.py (median of 3 runs)", 30.0),
            row("PyTorch eager, fused SGD (dann_peer.py)", 31.0),
            row("shift eager", 62.0),
        ];
        assert_eq!(super::fastest_pytorch(&cpu), 31.0);
        let cuda = [
            row("PyTorch eager, bench/reference_dann.py (median of 3 runs)", 300.0),
            row("PyTorch, whole step in one CUDA graph (dann_peer.py)", 900.0),
            row("PyTorch, CUDA graph, cuDNN benchmark (dann_peer.py)", 950.0),
            row("shift fast", 1000.0),
        ];
        assert_eq!(super::fastest_pytorch(&cuda), 950.0);
    }
}
