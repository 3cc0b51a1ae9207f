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
}

pub fn run(args: InfoArgs) -> anyhow::Result<ExitCode> {
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
