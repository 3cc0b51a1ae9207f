//! libtorch-backed core of shift: device choice, seeding, determinism (and the CPU pins that make it hold across
//! machines), the CPU heap, checkpoint IO and the native C++ extension.

pub mod checkpoint;
pub mod cpu_heap;
pub mod cpu_pins;
pub mod cuda_graph;
pub mod determinism;
pub mod device;
mod error;
pub mod info;
pub mod native;
pub mod seed;

pub use checkpoint::{load_named, save_named};
pub use cpu_heap::{keep_freed_memory, CpuHeap};
pub use cuda_graph::{CudaGraph, SideStream};
pub use determinism::set_deterministic;
pub use device::DeviceSpec;
pub use error::TensorError;
pub use seed::{seed_everything, HostRng};
pub use tch;
