//! CORAL and MMD across the training domains, as DomainBed applies them (`domainbed/algorithms.py`,
//! `AbstractMMD`, `CORAL`, `MMD`): the label loss of every block plus a feature-distribution distance averaged
//! over every pair of training domains,
//!
//! ```text
//! L = mean_e CE(C(f_e), y_e) + lambda * mmd_gamma * mean_{i<j} D(f_i, f_j)
//! CORAL (Sun & Saenko, ECCV-W 2016):   D = mean((mu_i - mu_j)^2) + mean((C_i - C_j)^2)   (C unbiased covariance)
//! MMD (Li et al., CVPR 2018, MMD-AAE): D = mean K(f_i, f_i) + mean K(f_j, f_j) - 2 mean K(f_i, f_j),
//!                                      K(a, b) = sum_g exp(-g |a - b|^2), g in 1e-3, 1e-2, ..., 1e3
//! ```
//!
//! (the squared distances clamped below at 1e-30, as DomainBed's `my_cdist`). Default: `hparams_registry.py`
//! (mmd_gamma 1). `dg-coral` is DomainBed's CORAL; `coral` is Deep CORAL between a source and a target.

use super::multi_domain::DomainForward;
use super::{BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, Param, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

/// DomainBed's CORAL.
pub static INFO_CORAL: MethodInfo = MethodInfo {
    name: "dg-coral",
    help: "CORAL across training domains: their feature means and covariances matched pairwise (DomainBed's CORAL)",
    data: DataNeeds::DOMAINS,
    build: |c| Ok(Box::new(DomainAlignment::new(c, Distance::Coral)?)),
    published: &[],
    params: &[Param::non_negative("mmd_gamma", 1.0, "DomainBed, hparams_registry.py, mmd_gamma")],
};

/// DomainBed's MMD.
pub static INFO_MMD: MethodInfo = MethodInfo {
    name: "mmd",
    help: "MMD across training domains: a multi-bandwidth Gaussian MMD between every pair (DomainBed's MMD)",
    data: DataNeeds::DOMAINS,
    build: |c| Ok(Box::new(DomainAlignment::new(c, Distance::Mmd)?)),
    published: &[],
    params: &[Param::non_negative("mmd_gamma", 1.0, "DomainBed, hparams_registry.py, mmd_gamma")],
};

/// The bandwidths of DomainBed's Gaussian kernel.
pub const GAMMAS: [f64; 7] = [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3];

/// Which distance between two domains' features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    Coral,
    Mmd,
}

/// Squared Euclidean distances between the rows of `a` and of `b`, clamped below at 1e-30.
pub fn squared_distances(a: &Tensor, b: &Tensor) -> Tensor {
    let an = a.square().sum_dim_intlist(-1, true, Kind::Float);
    let bn = b.square().sum_dim_intlist(-1, true, Kind::Float);
    (bn.transpose(0, 1) - a.mm(&b.transpose(0, 1)) * 2.0 + an).clamp_min(1e-30)
}

/// The sum over [`GAMMAS`] of `exp(-g |a - b|^2)`.
pub fn gaussian_kernel(a: &Tensor, b: &Tensor) -> Tensor {
    let d = squared_distances(a, b);
    GAMMAS
        .iter()
        .map(|&g| (&d * -g).exp())
        .reduce(|x, y| x + y)
        .expect("the bandwidths are not empty")
}

impl Distance {
    /// The distance between the features `a` and `b` of two domains.
    pub fn between(self, a: &Tensor, b: &Tensor) -> Tensor {
        match self {
            Self::Mmd => {
                gaussian_kernel(a, a).mean(Kind::Float) + gaussian_kernel(b, b).mean(Kind::Float)
                    - gaussian_kernel(a, b).mean(Kind::Float) * 2.0
            }
            Self::Coral => {
                let (ma, mb) = (a.mean_dim(0, true, Kind::Float), b.mean_dim(0, true, Kind::Float));
                let cov = |x: &Tensor, m: &Tensor| {
                    let c = x - m;
                    c.transpose(0, 1).mm(&c) / (x.size()[0] - 1) as f64
                };
                (&ma - &mb).square().mean(Kind::Float) + (cov(a, &ma) - cov(b, &mb)).square().mean(Kind::Float)
            }
        }
    }

    /// The mean of the distance over every pair of `features` (one tensor per domain); 0 for one domain, as
    /// DomainBed's penalty is.
    pub fn pairwise(self, features: &[Tensor]) -> Tensor {
        if features.len() < 2 {
            return Tensor::zeros([], (Kind::Float, features.first().map_or(shift_tensor::tch::Device::Cpu, Tensor::device)));
        }
        let mut pairs = Vec::new();
        for i in 0..features.len() {
            for j in i + 1..features.len() {
                pairs.push(self.between(&features[i], &features[j]));
            }
        }
        Tensor::stack(&pairs, 0).mean(Kind::Float)
    }
}

#[derive(Debug)]
pub struct DomainAlignment {
    distance: Distance,
    gamma: f64,
}

impl DomainAlignment {
    pub fn new(ctx: &BuildContext, distance: Distance) -> Result<Self, StrategyError> {
        Ok(Self {
            distance,
            gamma: ctx.param("mmd_gamma")?,
        })
    }
}

impl Method for DomainAlignment {
    fn info(&self) -> &'static MethodInfo {
        match self.distance {
            Distance::Coral => &INFO_CORAL,
            Distance::Mmd => &INFO_MMD,
        }
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let fwd = DomainForward::of(net, batch, self.name())?;
        if fwd.features[0].size()[0] < 2 {
            return Err(StrategyError::Other(format!("{} needs at least 2 rows per domain", self.name())));
        }
        let nll = fwd.losses().mean(Kind::Float);
        let penalty = self.distance.pairwise(&fwd.features);
        let loss = &nll + lambda.weigh(&(&penalty * self.gamma));
        Ok(fwd.terms(loss, &nll, &penalty))
    }
}
