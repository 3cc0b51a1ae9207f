//! `cargo xtask bench data|train`: sets up libtorch (and the data), builds shift in release mode, runs
//! `shift bench`. `train` also runs the PyTorch peer (`../shared/bench/reference_dann.py --mode speed`) with the
//! `.venv`'s PyTorch on the same device and prints the ratio.

use crate::download::{self, DataPlace};
use crate::{cmd, setup};
use anyhow::Result;
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Which {
    /// Cold data load, MNIST-M rebuild, image pipeline throughput.
    Data,
    /// The digit DANN train step against the PyTorch reference.
    Train,
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
}

pub fn run(args: BenchArgs) -> Result<()> {
    if let Which::Train = args.which {
        return train(&args);
    }
    let manifest = download::manifest()?;
    for name in ["mnist", "bsds500", "mnist-m"] {
        download::ensure(&manifest, name, &args.place, false)?;
    }
    let mut shift = cmd::shift_release(&setup::run()?);
    match args.which {
        Which::Data => shift.args(["bench", "data", "--data"]).arg(args.place.data_dir()),
        Which::Train => unreachable!("handled above"),
    };
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
    cmd::run(
        cmd::shift_release(&libtorch)
            .args(["bench", "train", "--device", &args.device, "--steps", &steps, "--json"])
            .arg(&json),
    )?;
    let shift: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let ours = shift["steps_per_s"].as_f64().unwrap_or(f64::NAN);
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
    let device = match shift["device"].as_str().unwrap_or("Cpu") {
        "Cpu" => "cpu".to_string(),
        d => d
            .trim_start_matches("Cuda(")
            .trim_end_matches(')')
            .parse::<usize>()
            .map(|i| format!("cuda:{i}"))
            .unwrap_or("cuda".into()),
    };
    let mut rates = Vec::new();
    for _ in 0..3 {
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
        let rate = text
            .split(" = ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|r| r.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("cannot read the reference's output: {text}"))?;
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let theirs = rates[1];
    println!("\n| side ({device}) | steps/s | ratio |");
    println!("|---|---|---|");
    println!("| PyTorch eager reference (median of 3 runs) | {theirs:.1} | 1.00 |");
    println!("| shift | {ours:.1} | {:.2} |", ours / theirs);
    Ok(())
}
