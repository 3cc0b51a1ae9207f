//! What every experiment does first: resolve the device (an error where it is absent), set determinism (with
//! the CPU pins), and turn Ctrl-C into a stop flag that the training loops check after each step.

use anyhow::Result;
use shift_tensor::tch::Device;
use shift_tensor::DeviceSpec;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What every experiment does first: resolve the device (an error where it is absent), set determinism, and
/// turn Ctrl-C into a stop flag that the training loops check after each step.
pub fn prepare(device: &str, deterministic: bool) -> Result<(Device, Arc<AtomicBool>)> {
    if deterministic {
        // Before libtorch starts: the CPU code paths pinned (the process restarts itself once to get them).
        shift_tensor::cpu_pins::restart_pinned()?;
    }
    if let Some(n) = threads_from_env()? {
        if deterministic && n != shift_tensor::cpu_pins::THREADS as usize {
            eprintln!(
                "shift: SHIFT_THREADS={n} left aside: deterministic mode trains with {} threads",
                shift_tensor::cpu_pins::THREADS
            );
        } else {
            shift_tensor::tch::set_num_threads(n as i32);
        }
    }
    let device = device.parse::<DeviceSpec>()?.resolve()?;
    shift_tensor::set_deterministic(deterministic)?;
    if deterministic {
        eprintln!("shift: deterministic mode: {}", shift_tensor::determinism::WARN_ONLY);
    }
    let stop = stop_on_ctrl_c().unwrap_or_else(|why| {
        eprintln!("shift: {why}");
        Arc::new(AtomicBool::new(false))
    });
    Ok((device, stop))
}

/// The intra-op threads `SHIFT_THREADS` asks for (a sweep's processes share the cores out with it), or None
/// where it is not set.
pub fn threads_from_env() -> Result<Option<usize>> {
    parse_threads(std::env::var("SHIFT_THREADS").ok().as_deref())
}

fn parse_threads(value: Option<&str>) -> Result<Option<usize>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => anyhow::bail!("SHIFT_THREADS={v}: give a whole number of threads, at least 1"),
        },
    }
}

/// The process's stop flag, which Ctrl-C (SIGINT) or SIGTERM sets: the training loops check it after each step
/// and save a checkpoint, and a sweep passes it on to its jobs. The handler is installed once, on the first call;
/// every later call (the next run or job of the same process) gets the same flag. An error says why there is
/// none (another handler holds the signals): then Ctrl-C ends the run without a checkpoint, and the caller says
/// so.
pub fn stop_on_ctrl_c() -> Result<Arc<AtomicBool>, String> {
    static FLAG: std::sync::OnceLock<Result<Arc<AtomicBool>, String>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        // A second Ctrl-C while the checkpoint is written is ignored; the run stops at the next step.
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .map(|()| stop)
            .map_err(|e| format!("cannot handle Ctrl-C ({e}): an interrupt ends the run without saving a checkpoint"))
    })
    .clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shift_threads_is_read_or_refused_naming_the_variable() {
        assert_eq!(super::parse_threads(None).unwrap(), None);
        assert_eq!(super::parse_threads(Some(" 3 ")).unwrap(), Some(3));
        for bad in ["0", "two", "-1"] {
            let err = super::parse_threads(Some(bad)).unwrap_err().to_string();
            assert!(err.contains(&format!("SHIFT_THREADS={bad}")), "{err}");
        }
    }

    #[test]
    fn a_failed_ctrl_c_handler_is_reported_every_time_it_is_asked_for() {
        // Another handler holds the signals (the first of the process wins): ours cannot install, and each call
        // says what that means. (tests/stop_flag.rs checks the installed flag in a process of its own.)
        ctrlc::set_handler(|| {}).unwrap();
        for _ in 0..2 {
            let why = super::stop_on_ctrl_c().unwrap_err();
            assert!(
                why.contains("cannot handle Ctrl-C") && why.contains("without saving a checkpoint"),
                "{why}"
            );
        }
    }
}
