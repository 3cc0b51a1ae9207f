//! Device choice: `auto`, `cpu`, `cuda`, `cuda:N`. Asking for CUDA where there is none is an error, never a fallback.

use crate::error::TensorError;
use std::{fmt, str::FromStr};
use tch::Device;

/// What the user asked for, before it is checked against the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// The first CUDA device when there is one, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = TensorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            _ => t
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .map(Self::Cuda)
                .ok_or_else(|| TensorError::BadDevice(s.to_string())),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => write!(f, "auto"),
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl DeviceSpec {
    /// Resolves against the CUDA devices libtorch sees on this machine.
    pub fn resolve(self) -> Result<Device, TensorError> {
        self.resolve_with(cuda_device_count())
    }

    /// Resolves given a number of CUDA devices (separate so that the rules are testable on any machine).
    pub fn resolve_with(self, cuda_devices: usize) -> Result<Device, TensorError> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Auto if cuda_devices > 0 => Ok(Device::Cuda(0)),
            Self::Auto => Ok(Device::Cpu),
            Self::Cuda(_) if cuda_devices == 0 => Err(TensorError::NoCuda {
                asked: self.to_string(),
                why: if crate::native::built_with_cuda() {
                    "no CUDA device or driver found".into()
                } else {
                    "libtorch was built without CUDA".into()
                },
            }),
            Self::Cuda(i) if i >= cuda_devices => Err(TensorError::NoSuchCuda {
                asked: self.to_string(),
                count: cuda_devices,
            }),
            Self::Cuda(i) => Ok(Device::Cuda(i)),
        }
    }
}

/// Number of CUDA devices libtorch can use (0 without a driver or a CUDA build).
pub fn cuda_device_count() -> usize {
    if tch::Cuda::is_available() {
        tch::Cuda::device_count().max(0) as usize
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("auto".parse::<DeviceSpec>().unwrap(), DeviceSpec::Auto);
        assert_eq!("CPU".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("cuda:3".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(3));
        for bad in ["", "cuda:", "cuda:x", "tpu", "cuda:-1"] {
            let err = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(matches!(err, TensorError::BadDevice(ref s) if s == bad), "{bad}: {err}");
        }
    }

    #[test]
    fn resolution_never_falls_back_silently() {
        assert_eq!(DeviceSpec::Auto.resolve_with(0).unwrap(), Device::Cpu);
        assert_eq!(DeviceSpec::Auto.resolve_with(2).unwrap(), Device::Cuda(0));
        assert_eq!(DeviceSpec::Cuda(1).resolve_with(2).unwrap(), Device::Cuda(1));
        assert!(matches!(
            DeviceSpec::Cuda(0).resolve_with(0),
            Err(TensorError::NoCuda { .. })
        ));
        let err = DeviceSpec::Cuda(2).resolve_with(2).unwrap_err();
        assert_eq!(err.to_string(), "device `cuda:2`: only 2 CUDA device(s) present");
    }
}
