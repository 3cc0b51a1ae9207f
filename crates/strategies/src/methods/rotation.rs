//! Rotation prediction (Gidaris, Singh & Komodakis, ICLR 2018): self-supervised pretraining on unlabelled
//! images. Every image of the batch is shown at the four quarter turns, and a head on the features predicts which:
//!
//! ```text
//! x_r = rot90(x, r),  r in {0, 1, 2, 3}   (r quarter turns, from the height axis towards the width axis)
//! L   = mean over the 4N rows of CE(h(F(x_r)), r)
//! ```
//!
//! All four rotations of each image sit in the same batch, as the paper found best (Section 3.1). The head `h`
//! (`discriminator.*`) has the backbone's classifier layout with four outputs and is dropped after pretraining;
//! the labels of the batch are never read, and the label predictor does not train.

use super::{
    joint_optimiser, pretext_terms, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, OptimiserSpec,
    StepInputs, Terms,
};
use crate::{error::StrategyError, optimiser::GroupSpec};
use shift_models::{head::ClassifierHead, AdaptNet};
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry. Rotation prediction pretrains; it has no adaptation number of its own.
pub static INFO: MethodInfo = MethodInfo {
    name: "rotation",
    help: "rotation prediction: self-supervised pretraining on the source images, no labels (Gidaris et al., ICLR 2018)",
    data: DataNeeds::source_images("it predicts which of four quarter turns an image was shown at"),
    build: |c| Ok(Box::new(Rotation::new(c))),
    published: &[],
    params: &[],
};

/// The batch at its four quarter turns, `(4N x C x H x W images, 4N rotation labels)`: every image turned by 0
/// first, then by 1, 2 and 3 quarter turns (`torch.rot90(x, r, dims=(2, 3))`).
pub fn rotations(x: &Tensor) -> (Tensor, Tensor) {
    let n = x.size()[0];
    let turned: Vec<Tensor> = (0..4).map(|r| x.rot90(r, [2, 3])).collect();
    let labels = Tensor::arange(4, (Kind::Int64, x.device())).repeat_interleave_self_int(n, 0, None);
    (Tensor::cat(&turned, 0), labels)
}

/// The rotation loss of head logits against the rotation labels, its correct count and the rows (0-dim each).
pub fn rotation_terms(logits: &Tensor, r: &Tensor) -> (Tensor, Tensor, Tensor) {
    super::classification_terms(logits, r)
}

#[derive(Debug)]
pub struct Rotation {
    head: ClassifierHead,
}

impl Rotation {
    pub fn new(ctx: &BuildContext) -> Self {
        let net = ctx.net;
        let p = net.var_store().root() / shift_models::DISCRIMINATOR;
        Self {
            head: ClassifierHead::new(&p, net.feature_dim(), &net.classifier_hidden(), 4),
        }
    }
}

impl Method for Rotation {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (x, _labels_never_read) = batch.labelled;
        if x.dim() != 4 || x.size()[2] != x.size()[3] {
            return Err(StrategyError::Other(format!(
                "{} turns square images (N x C x H x W, H = W); got a batch of shape {:?}",
                self.name(),
                x.size()
            )));
        }
        let (turned, r) = rotations(x);
        let logits = self.head.forward(&net.features(&turned, true));
        let (loss, correct, count) = rotation_terms(&logits, &r);
        Ok(pretext_terms(loss, (correct, count), x.size()[0], x.device()))
    }
}
