//! `shift info`: what libtorch sees here; `--self-test` runs the gradient reversal checks on every device and,
//! on CUDA devices, captures and replays the fast train step.

use clap::Args;
use shift_tensor::{info::RuntimeInfo, tch::Device};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Run the gradient reversal checks on every available device; exit non-zero if any fails.
    #[arg(long)]
    self_test: bool,
    /// Deterministic mode's check: pin the CPU code paths, run 5 DANN steps of the digit net on synthetic data
    /// from seed 0, and print the SHA-256 of the weights (the same on any x86-64 machine).
    #[arg(long)]
    fingerprint: bool,
}

/// Steps of the fingerprint run.
const FINGERPRINT_STEPS: i64 = 5;

/// The weights' SHA-256 after [`FINGERPRINT_STEPS`] deterministic DANN steps (variables in name order, each
/// name followed by its little-endian f32 values).
fn fingerprint() -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    use shift_strategies::{synthetic::SyntheticDigits, MethodName, StepKind};
    shift_tensor::cpu_pins::restart_pinned()?;
    shift_tensor::set_deterministic(true)?;
    shift_tensor::seed_everything(0);
    let (mut s, _) = StepKind::Eager.build(
        shift_models::digit::DigitNet::new(Device::Cpu),
        MethodName::DANN,
        shift_strategies::Update::sgd(0.9, 0.0),
    )?;
    let data = SyntheticDigits::new(256, 32, Device::Cpu);
    for step in 0..FINGERPRINT_STEPS {
        s.train_step_indexed(&data.batch(step), 0.01, 0.1 * step as f64)?;
    }
    let mut named: Vec<(String, shift_tensor::tch::Tensor)> =
        s.state().into_iter().filter(|(n, _)| n.starts_with("model.")).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (name, t) in named {
        let values = Vec::<f32>::try_from(t.flatten(0, -1))?;
        h.update(name.as_bytes());
        for v in values {
            h.update(v.to_le_bytes());
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

pub fn run(args: InfoArgs) -> anyhow::Result<ExitCode> {
    if args.fingerprint {
        println!("weights sha256 {}", fingerprint()?);
        return Ok(ExitCode::SUCCESS);
    }
    let info = RuntimeInfo::collect();
    println!("{info}");
    if !args.self_test {
        return Ok(ExitCode::SUCCESS);
    }
    let mut devices = vec![Device::Cpu];
    devices.extend((0..info.cuda_devices.len()).map(Device::Cuda));
    let mut failed = 0;
    println!("\nself-test (gradient reversal)");
    for device in devices {
        let name = match device {
            Device::Cuda(i) => format!("cuda:{i}"),
            _ => "cpu".to_string(),
        };
        for check in shift_grl::self_test(device) {
            failed += usize::from(!check.passed);
            let verdict = if check.passed { "ok  " } else { "FAIL" };
            println!("  {verdict} {name:<7} {:<24} {}", check.name, check.detail);
        }
        // The fast step's CUDA graph: captured, and its replays equal to the eager step (CUDA devices only).
        if device.is_cuda() {
            let (verdict, detail) = match shift_strategies::fast::capture_self_test(device) {
                Ok(d) => ("ok  ", d),
                Err(d) => {
                    failed += 1;
                    ("FAIL", d)
                }
            };
            println!("  {verdict} {name:<7} {:<24} {detail}", "fast step (CUDA graph)");
        }
    }
    if failed == 0 {
        println!("self-test passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("self-test FAILED: {failed} check(s)");
        Ok(ExitCode::FAILURE)
    }
}
