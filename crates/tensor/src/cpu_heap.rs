//! The heap libtorch's CPU tensors live on: glibc's malloc, told to keep freed blocks for the next step.
//!
//! libtorch allocates CPU tensors with `posix_memalign`. By default glibc gives a block above its (adaptive) mmap
//! threshold a mapping of its own, unmapped on free, and hands the top of the heap back to the kernel once enough
//! lies free there. A train step frees and allocates the same megabytes every step, so depending on how the
//! first steps happened to fall the process may pay a page fault per 4 KiB for every activation, every step: the
//! digit DANN step on the 2-core CPU ran at either ~30 or ~40 steps/s from one start to the next (the slow mode
//! every time with address randomisation off), with a fifth of its time in the kernel's page-fault path.
//! [`keep_freed_memory`] fixes both thresholds, so blocks up to 32 MiB come from the heap and stay there.

use crate::error::TensorError;
use std::fmt;
use std::sync::OnceLock;

/// Blocks below this come from the heap (glibc's largest allowed mmap threshold on 64-bit).
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// The heap is trimmed only when this much lies free at its top.
pub const TRIM_THRESHOLD: usize = 1 << 30;

/// What the CPU heap is set to in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuHeap {
    /// glibc's own adaptive thresholds (nothing was set, or this is not glibc).
    Default,
    /// Freed blocks kept: [`MMAP_THRESHOLD`] and [`TRIM_THRESHOLD`] in effect.
    KeepFreed,
}

static STATE: OnceLock<CpuHeap> = OnceLock::new();

/// Sets glibc's thresholds so freed CPU tensor memory stays in the process for reuse (see the module docs). Call
/// it before the first tensor is made; later calls return the first call's result. Not glibc: nothing to set,
/// [`CpuHeap::Default`].
pub fn keep_freed_memory() -> Result<CpuHeap, TensorError> {
    if let Some(state) = STATE.get() {
        return Ok(*state);
    }
    let state = set_thresholds()?;
    Ok(*STATE.get_or_init(|| state))
}

/// The setting in effect (`Default` until [`keep_freed_memory`] succeeded).
pub fn cpu_heap() -> CpuHeap {
    STATE.get().copied().unwrap_or(CpuHeap::Default)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds() -> Result<CpuHeap, TensorError> {
    for (param, name, value) in [
        (libc::M_MMAP_THRESHOLD, "M_MMAP_THRESHOLD", MMAP_THRESHOLD),
        (libc::M_TRIM_THRESHOLD, "M_TRIM_THRESHOLD", TRIM_THRESHOLD),
    ] {
        // SAFETY: mallopt only changes malloc's parameters; it returns 0 when it refuses a value.
        if unsafe { libc::mallopt(param, value as libc::c_int) } != 1 {
            return Err(TensorError::Native(format!("glibc mallopt refused {name} = {value}")));
        }
    }
    Ok(CpuHeap::KeepFreed)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() -> Result<CpuHeap, TensorError> {
    Ok(CpuHeap::Default)
}

impl fmt::Display for CpuHeap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => write!(f, "malloc defaults"),
            Self::KeepFreed => write!(
                f,
                "glibc malloc, freed blocks kept (heap below {} MiB, trimmed above {} MiB free)",
                MMAP_THRESHOLD >> 20,
                TRIM_THRESHOLD >> 20
            ),
        }
    }
}
