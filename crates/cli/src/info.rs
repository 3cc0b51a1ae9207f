//! `shift info`: what libtorch sees here; `--self-test` runs the gradient reversal checks on every device.

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
    }
    if failed == 0 {
        println!("self-test passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("self-test FAILED: {failed} check(s)");
        Ok(ExitCode::FAILURE)
    }
}
