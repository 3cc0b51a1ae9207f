//! SimCLR (Chen, Kornblith, Norouzi & Hinton, ICML 2020): self-supervised pretraining on unlabelled images by
//! contrasting two random views of each image ([`crate::views`]) against the other images' views, through a
//! projection head `g` that is dropped after pretraining. The NT-Xent loss (Section 2.1, Algorithm 1):
//!
//! ```text
//! z_k    = g(F(view_k)) / |g(F(view_k))|,   k = 1 .. 2N   (row i and row i + N: the two views of image i)
//! s_kl   = z_k . z_l / tau
//! l(k)   = -log( exp(s_k,p(k)) / sum_{l != k} exp(s_kl) ),   p(k) = the other view of k's image
//! L      = 1/(2N) sum_k l(k)
//! ```
//!
//! `g` is Linear-ReLU-Linear to 128 values with a hidden layer as wide as the features (the paper's head,
//! Section 4.2). Defaults: the paper's CIFAR-10 setting (Appendix B.9: temperature 0.5, colour distortion
//! strength 0.5), except the crops (see `crop_min`). The labels of the batch are never read, and the label
//! predictor does not train.

use super::{
    classification_terms, joint_optimiser, pretext_terms, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo,
    OptimiserSpec, Param, StepInputs, Terms,
};
use crate::views::Views;
use crate::{error::StrategyError, optimiser::GroupSpec};
use shift_models::{head::ClassifierHead, AdaptNet};
use shift_tensor::tch::{Kind, Tensor};

const PAPER: &str = "Chen et al., ICML 2020, Appendix B.9 (CIFAR-10)";

/// The registry entry. SimCLR pretrains; it has no adaptation number of its own.
pub static INFO: MethodInfo = MethodInfo {
    name: "simclr",
    help: "SimCLR: contrastive self-supervised pretraining on the source images, no labels (Chen et al., ICML 2020)",
    data: DataNeeds::source_images("its loss contrasts two random crops and colour distortions of each image"),
    build: |c| Ok(Box::new(Simclr::new(c)?)),
    published: &[],
    params: &[
        Param::positive("temperature", 0.5, PAPER),
        Param::count("projection_dim", 128.0, "Chen et al., ICML 2020, Section 4.2"),
        Param::non_negative("strength", 0.5, PAPER),
        Param::fraction(
            "crop_min",
            0.2,
            "shift's choice for 32 x 32 digits, made before any run: the paper's 0.08 (random resized crop, Appendix \
             A) leaves a fragment of a stroke",
        ),
    ],
};

/// The NT-Xent loss of the projections `z` (2N x d; rows i and i + N are the two views of one image) at
/// temperature `tau`, the rows whose nearest other row is their positive, and the 2N rows (0-dim each).
pub fn nt_xent(z: &Tensor, tau: f64) -> Result<(Tensor, Tensor, Tensor), StrategyError> {
    let rows = z.size()[0];
    if z.dim() != 2 || rows < 2 || rows % 2 != 0 {
        return Err(StrategyError::Other(format!(
            "simclr's NT-Xent takes 2N x d projections, two views of N >= 1 images; got shape {:?}",
            z.size()
        )));
    }
    let n = rows / 2;
    let z = z / z.norm_scalaropt_dim(2.0, [1i64].as_slice(), true).clamp_min(1e-12);
    let self_mask = Tensor::eye(rows, (Kind::Bool, z.device()));
    let sim = (z.matmul(&z.tr()) / tau).masked_fill(&self_mask, f64::NEG_INFINITY);
    let positive = (Tensor::arange(rows, (Kind::Int64, z.device())) + n).remainder(rows);
    Ok(classification_terms(&sim, &positive))
}

#[derive(Debug)]
pub struct Simclr {
    projection: ClassifierHead,
    views: Views,
    temperature: f64,
}

impl Simclr {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let net = ctx.net;
        let p = net.var_store().root() / shift_models::DISCRIMINATOR;
        let width = net.feature_dim();
        let out = ctx.param("projection_dim")? as i64;
        Ok(Self {
            projection: ClassifierHead::new(&p, width, &[width], out),
            views: Views {
                crop_scale: (ctx.param("crop_min")?, 1.0),
                strength: ctx.param("strength")?,
                ..Views::SIMCLR_CIFAR
            },
            temperature: ctx.param("temperature")?,
        })
    }
}

impl Method for Simclr {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("its views draw crops and colours on the device every step; not yet checked under CUDA-graph capture")
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (x, _labels_never_read) = batch.labelled;
        if x.dim() != 4 {
            return Err(StrategyError::Other(format!(
                "{} takes views of images (N x C x H x W); got a batch of shape {:?}",
                self.name(),
                x.size()
            )));
        }
        let both = Tensor::cat(&[self.views.apply(x), self.views.apply(x)], 0);
        let z = self.projection.forward(&net.features(&both, true));
        let (loss, correct, count) = nt_xent(&z, self.temperature)?;
        Ok(pretext_terms(loss, (correct, count), x.size()[0], x.device()))
    }
}
