//! One call that seeds libtorch's generators and returns the project's own host RNG from the same seed.

use rand::SeedableRng;

/// The host-side random generator (data order on the host, crops, subsets): ChaCha8, portable and stable.
pub type HostRng = rand_chacha::ChaCha8Rng;

/// Seeds libtorch (CPU and every CUDA device) and returns a host RNG derived from the same seed.
pub fn seed_everything(seed: u64) -> HostRng {
    tch::manual_seed(seed as i64);
    if tch::Cuda::is_available() {
        tch::Cuda::manual_seed_all(seed);
    }
    HostRng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use tch::{Kind, Tensor};

    #[test]
    fn same_seed_same_draws_on_both_sides() {
        let mut a = seed_everything(7);
        let ta = Tensor::rand([16], (Kind::Float, tch::Device::Cpu));
        let mut b = seed_everything(7);
        let tb = Tensor::rand([16], (Kind::Float, tch::Device::Cpu));
        assert!(ta.equal(&tb));
        assert_eq!(a.gen::<u64>(), b.gen::<u64>());
        seed_everything(8);
        let tc = Tensor::rand([16], (Kind::Float, tch::Device::Cpu));
        assert!(!ta.equal(&tc));
    }
}
