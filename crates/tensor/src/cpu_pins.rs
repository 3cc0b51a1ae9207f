//! Deterministic CPU mode: the same seed gives the same numbers on any x86-64 machine. libtorch's kernels (ATen's
//! dispatch), MKL and oneDNN each pick a code path by instruction set, and each path sums in another order; here
//! each is pinned to one path every x86-64 CPU runs, and the thread count is fixed, before libtorch starts. The
//! pins are environment variables the libraries read once, at their start, so a process that lacks them
//! starts itself again with them ([`restart_pinned`]).

use crate::error::TensorError;

/// The environment each library reads, and the value that pins it: ATen's baseline kernels (no AVX2/AVX-512
/// dispatch), MKL's conditional numerical reproducibility in its strictest mode, oneDNN's ISA capped at SSE4.1,
/// and the OpenMP team size.
pub const PINS: [(&str, &str); 4] = [
    ("ATEN_CPU_CAPABILITY", "default"),
    ("MKL_CBWR", "COMPATIBLE"),
    ("ONEDNN_MAX_CPU_ISA", "SSE41"),
    ("OMP_NUM_THREADS", "2"),
];

/// Intra-op threads in deterministic mode (parallel reductions split their work by thread count).
pub const THREADS: i32 = 2;

/// Whether this process started with every pin in its environment.
pub fn pinned() -> bool {
    PINS.iter().all(|(k, v)| std::env::var(k).is_ok_and(|have| have == *v))
}

/// The pins as (variable, value) pairs, for a run's config.json.
pub fn recorded() -> Vec<(String, String)> {
    let mut pins: Vec<(String, String)> = PINS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    pins.push(("intra_op_threads".into(), THREADS.to_string()));
    pins
}

/// In a pinned process: fixes the thread count. Otherwise starts this program again with the same arguments and
/// the pins added to its environment (it does not return then), since the libraries have read theirs already.
pub fn restart_pinned() -> Result<(), TensorError> {
    if pinned() {
        crate::tch::set_num_threads(THREADS);
        return Ok(());
    }
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| TensorError::Pins(format!("cannot find this program: {e}")))?;
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(std::env::args_os().skip(1));
    for (k, v) in PINS {
        cmd.env(k, v);
    }
    let e = cmd.exec();
    Err(TensorError::Pins(format!(
        "cannot restart {} with the CPU pins: {e}",
        exe.display()
    )))
}
