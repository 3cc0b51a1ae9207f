//! The CPU heap setting, in a process of its own and on its main thread (it counts the process's page faults, and
//! the experiments allocate from the main thread's heap): a step's worth of tensors allocated and freed again
//! reuses the same memory instead of faulting it in anew. Without the setting this check fails (~63,000 faults).

use shift_tensor::cpu_heap::{cpu_heap, keep_freed_memory, CpuHeap};
use shift_tensor::tch::{Device, Kind, Tensor};

fn minor_faults() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    usage.ru_minflt
}

/// Four of the digit net's first activations (12.25 MiB each, batch 128) alive at once, then freed: the heap's
/// top then holds 49 MiB free, more than glibc's default trims once its adaptive mmap threshold has risen to one
/// activation (trimmed above twice that), so by default every other step faults all 12,544 pages in again.
fn step() {
    let live: Vec<Tensor> = (0..4)
        .map(|_| Tensor::ones([128, 32, 28, 28], (Kind::Float, Device::Cpu)))
        .collect();
    assert_eq!(live.len(), 4);
}

fn main() {
    assert_eq!(cpu_heap(), CpuHeap::Default);
    let state = keep_freed_memory().expect("mallopt");
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert_eq!(state, CpuHeap::KeepFreed);
        assert_eq!(
            keep_freed_memory().unwrap(),
            CpuHeap::KeepFreed,
            "a second call reports the first"
        );
        assert_eq!(cpu_heap(), CpuHeap::KeepFreed);
        assert!(state.to_string().contains("32 MiB"), "{state}");
    }
    for _ in 0..5 {
        step();
    }
    let before = minor_faults();
    for _ in 0..20 {
        step();
    }
    let faults = minor_faults() - before;
    let one_step_pages = 4 * 128 * 32 * 28 * 28 * 4 / 4096;
    assert!(
        faults < one_step_pages,
        "{faults} minor page faults in 20 steps (one step is {one_step_pages} pages)"
    );
    println!("cpu_heap: {faults} minor page faults in 20 steps of {one_step_pages} pages each: ok");
}
