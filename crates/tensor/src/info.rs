//! Facts about the runtime: versions, CUDA and cuDNN, devices, threads, the CPU heap (what `shift info` prints).

use crate::{device::cuda_device_count, native};
use std::fmt;

/// A snapshot of what libtorch sees on this machine.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    pub shift_version: &'static str,
    pub tch_version: &'static str,
    pub libtorch_version: String,
    /// libtorch_cuda is loaded (a CUDA build of libtorch, GPU or not).
    pub libtorch_cuda: bool,
    pub built_with_cuda: bool,
    pub cuda_available: bool,
    pub cudnn_available: bool,
    pub cudnn_version: Option<i64>,
    pub cuda_devices: Vec<String>,
    pub threads: i32,
    pub cpu_heap: crate::cpu_heap::CpuHeap,
}

/// tch's version, as pinned in the workspace.
pub const TCH_VERSION: &str = "0.24.0";

impl RuntimeInfo {
    pub fn collect() -> Self {
        let count = cuda_device_count();
        let cuda_devices = (0..count)
            .map(|i| native::cuda_device_name(i).unwrap_or_else(|e| format!("(name unavailable: {e})")))
            .collect();
        Self {
            shift_version: env!("CARGO_PKG_VERSION"),
            tch_version: TCH_VERSION,
            libtorch_version: native::torch_version(),
            libtorch_cuda: native::libtorch_cuda_loaded(),
            built_with_cuda: native::built_with_cuda(),
            cuda_available: tch::Cuda::is_available(),
            cudnn_available: tch::Cuda::cudnn_is_available(),
            cudnn_version: native::cudnn_version(),
            cuda_devices,
            threads: tch::get_num_threads(),
            cpu_heap: crate::cpu_heap::cpu_heap(),
        }
    }
}

impl fmt::Display for RuntimeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        writeln!(f, "shift      {}", self.shift_version)?;
        writeln!(f, "tch        {}", self.tch_version)?;
        writeln!(
            f,
            "libtorch   {} ({} build)",
            self.libtorch_version,
            if self.libtorch_cuda { "CUDA" } else { "CPU-only" }
        )?;
        writeln!(f, "CUDA       {}", yes(self.cuda_available))?;
        match self.cudnn_version {
            Some(v) => writeln!(f, "cuDNN      {} (version {v})", yes(self.cudnn_available))?,
            None => writeln!(f, "cuDNN      {}", yes(self.cudnn_available))?,
        }
        writeln!(
            f,
            "devices    cpu{}",
            if self.cuda_devices.is_empty() { "" } else { "," }
        )?;
        for (i, name) in self.cuda_devices.iter().enumerate() {
            writeln!(f, "           cuda:{i} {name}")?;
        }
        writeln!(f, "threads    {}", self.threads)?;
        write!(f, "CPU heap   {}", self.cpu_heap)
    }
}
