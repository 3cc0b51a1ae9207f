//! `shift bench zero-shot`: the fits and scoring of the zero-shot methods at the size of the digit experiment's
//! (synthetic features: 7,000 examples of 1,200 features for DAP's classifiers, 42,000 for ESZSL's closed form, 7
//! seen classes of the seven-segment codes; 10,000 test examples scored against the ten codes), on the CPU. Each
//! row the median of `--repeats` runs; `cargo xtask bench zero-shot` sets them beside the same work in PyTorch
//! (`xtask/python/zero_shot_peer.py`). Prints a table; `--json FILE` writes the numbers.

use anyhow::{Context, Result};
use clap::Args;
use shift_tensor::tch::{Device, Kind, Tensor};
use shift_zeroshot::attributes::signatures;
use shift_zeroshot::dap::{Dap, DapFit};
use shift_zeroshot::eszsl::EszslProblem;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchZeroShotArgs {
    /// Runs of each measure (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// ESZSL's training examples (DAP's are a sixth of them, as the experiment's 1,000 per seen digit).
    #[arg(long, default_value_t = 42_000)]
    examples: i64,
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The median of `repeats` timings of `f`, in seconds.
fn median_s(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut t = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        f()?;
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

pub fn run(args: BenchZeroShotArgs) -> Result<()> {
    anyhow::ensure!(args.repeats > 0, "`--repeats` must be at least 1");
    anyhow::ensure!(
        args.examples >= 42,
        "`--examples` must be at least 42 (1 per seen class for DAP, which reads a sixth)"
    );
    shift_tensor::seed_everything(0);
    let cpu = Device::Cpu;
    let codes = signatures(cpu);
    let seen = codes.narrow(0, 0, 7);
    let (n, d) = (args.examples, 1200);
    let x = Tensor::randn([n, d], (Kind::Float, cpu));
    let y = Tensor::arange(n, (Kind::Int64, cpu)).remainder(7);
    let (xd, yd) = (x.narrow(0, 0, n / 6), y.narrow(0, 0, n / 6));
    let test = Tensor::randn([10_000, d], (Kind::Float, cpu));
    let grid = [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3];
    let eszsl = median_s(args.repeats, || {
        let p = EszslProblem::new(&x, &y, &seen)?;
        for &g in &grid {
            for &l in &grid {
                p.solve(g, l)?;
            }
        }
        Ok(())
    })?;
    let fitted = EszslProblem::new(&x, &y, &seen)?.solve(1.0, 1.0)?;
    let eszsl_score = median_s(args.repeats, || {
        let _ = fitted.scores(&test, &codes)?.argmax(-1, false);
        Ok(())
    })?;
    let dap = median_s(args.repeats, || {
        Dap::fit(&xd, &yd, &seen, DapFit::default())?;
        Ok(())
    })?;
    let fitted = Dap::fit(&xd, &yd, &seen, DapFit::default())?;
    let dap_score = median_s(args.repeats, || {
        let _ = fitted.scores(&test, &codes)?.argmax(-1, false);
        Ok(())
    })?;
    let threads = shift_tensor::tch::get_num_threads();
    println!(
        "\nshift bench zero-shot: CPU, {threads} threads, {n} x {d} features (DAP {} x {d}), median of {} runs\n",
        n / 6,
        args.repeats
    );
    println!("| measure | s |");
    println!("|---|---|");
    let rows = [
        (
            "eszsl_fit_grid",
            "ESZSL: X^T X, X^T Y S, and the 49 solves of the 7 x 7 grid",
            eszsl,
        ),
        (
            "eszsl_score",
            "ESZSL: 10,000 examples scored against 10 codes",
            eszsl_score,
        ),
        (
            "dap_fit",
            "DAP: 7 attribute classifiers, 500 full-batch Adam iterations",
            dap,
        ),
        ("dap_score", "DAP: 10,000 examples scored against 10 codes", dap_score),
    ];
    let mut doc = serde_json::json!({ "threads": threads, "examples": n, "features": d });
    for (key, what, s) in rows {
        println!("| {what} | {s:.3} |");
        doc[key] = serde_json::json!(s);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("--json {}", path.display()))?;
    }
    Ok(())
}
