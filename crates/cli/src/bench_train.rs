//! `shift bench train`: the digit DANN train step (paper net, batch 64 source + 64 target, SGD momentum 0.9,
//! gradient reversal), on synthetic device-resident data like `bench/reference_dann.py --mode speed`:
//! steps/s and images/s after warm-up, the median of several timed windows. Prints a table, writes JSON.

use anyhow::Result;
use clap::Args;
use shift_data::DigitBatcher;
use shift_models::{digit::DigitNet, AdaptNet};
use shift_strategies::{Adapt, Method, Sgd, StepBatch, Strategy};
use shift_tensor::tch::{Device, Kind, Tensor};
use shift_tensor::DeviceSpec;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchTrainArgs {
    #[arg(long, default_value = "auto")]
    device: String,
    /// Steps per timed window.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Timed windows (the median is reported).
    #[arg(long, default_value_t = 5)]
    windows: usize,
    #[arg(long)]
    json: Option<PathBuf>,
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        shift_tensor::tch::Cuda::synchronize(i as i64);
    }
}

pub fn run(args: BenchTrainArgs) -> Result<()> {
    anyhow::ensure!(
        args.steps > 0 && args.windows > 0,
        "`--steps` and `--windows` must be at least 1"
    );
    let device = args.device.parse::<DeviceSpec>()?.resolve()?;
    shift_tensor::seed_everything(0);
    let (n, b) = (8192i64, 64i64);
    let xs = DigitBatcher::new(
        Tensor::rand([n, 3, 32, 32], (Kind::Float, device)),
        Tensor::randint(10, [n], (Kind::Int64, device)),
    );
    let xt = DigitBatcher::new(
        Tensor::rand([n, 3, 32, 32], (Kind::Float, device)),
        Tensor::zeros([n], (Kind::Int64, device)),
    );
    let net = DigitNet::new(device);
    let (groups, _) = Adapt::<DigitNet>::groups_for(Method::Dann, 1.0);
    let sgd = Sgd::new(net.var_store(), &groups, 0.9, 0.0)?;
    let mut strategy = Adapt::new(net, Method::Dann, sgd, None);
    let order = Tensor::arange(n, (Kind::Int64, device));
    let steps_in_data = n / b;
    let mut step = 0i64;
    let mut run = |k: usize, strategy: &mut Adapt<DigitNet>| -> Result<()> {
        for _ in 0..k {
            let i = step % steps_in_data;
            let (x, y) = xs.batch(&order, i, b);
            let (t, _) = xt.batch(&order, i, b);
            strategy.train_step(
                &StepBatch {
                    labelled: (&x, &y),
                    unlabelled: Some(&t),
                },
                0.01,
                0.5,
            )?;
            step += 1;
        }
        sync(device);
        Ok(())
    };
    run(50, &mut strategy)?;
    let mut rates = Vec::new();
    for _ in 0..args.windows {
        let t = Instant::now();
        run(args.steps, &mut strategy)?;
        rates.push(args.steps as f64 / t.elapsed().as_secs_f64());
    }
    let metrics = strategy.take_metrics();
    anyhow::ensure!(metrics.class_loss.is_finite(), "the benchmark's loss diverged");
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let threads = shift_tensor::tch::get_num_threads();
    println!("\nshift bench train: digit DANN step, batch 64+64, {device:?}, {threads} threads\n");
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| steps/s (median of {} windows of {} steps) | {median:.1} |",
        args.windows, args.steps
    );
    println!("| images/s | {:.0} |", median * 128.0);
    println!(
        "| windows (steps/s) | {} |",
        rates.iter().map(|r| format!("{r:.1}")).collect::<Vec<_>>().join(", ")
    );
    if let Some(path) = &args.json {
        let doc = serde_json::json!({ "device": format!("{device:?}"), "threads": threads, "steps_per_s": median, "images_per_s": median * 128.0, "windows": rates });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}
