//! DAAE: the domain-adversarial autoencoder (Gao, Liu, Wang & Dang, ICASSP 2021, "Domain-Adversarial
//! Autoencoder with Attention Based Feature Level Fusion for Speech Emotion Recognition"). An encoder E maps an
//! utterance to a latent code over time, `S = E(x)` (`[B, T, D]`); a decoder G reconstructs the input from it; the
//! label classifier C reads the code through multi-head attention pooling P over time; a domain classifier D
//! reads the code behind the gradient reversal layer R_lambda:
//!
//! ```text
//! L = CE(C(P(S_s)), y_s) + BCE(D(R_lambda(mean_t S)), d) + alpha * MSE(G(S), x),   x = [x_s; x_t], d = [0; 1]
//! ```
//!
//! so the code stays a description of the whole utterance (the reconstruction of source and target), carries the
//! label (the classifier), and cannot tell the domains apart (the reversed domain loss).
//!
//! On shift's backbones E is the backbone's latent sequence (`AdaptNet::sequence`: the audio CNN's three
//! convolutions), P its attention pooling (`AdaptNet::pool`) and C its classifier, so evaluation reads the
//! network the classifier was trained through. Where the paper leaves a choice open, shift picks:
//! - **one joint update** of all three terms (the paper pretrains the autoencoder, then fine-tunes it on the
//!   target with the classifiers held);
//! - **the domain classifier on the code's mean over time** (the paper adds the DANN "directly to the latent
//!   representation"), with the backbone's discriminator recipe;
//! - **the decoder:** each latent step through Linear(D, 256), ReLU and Linear(256, bands * frames_per_step),
//!   the step's input frames. The error is the mean squared error over the first `T * frames_per_step` frames;
//! - **alpha = 0.1** (`params.daae.reconstruction`); the paper's weights are not published. At alpha = 1 the
//!   reconstruction outweighs the domain term on the rotated shift of tests/adapts.rs (DAAE stays below
//!   source-only there); at 0.1 it adapts.

use super::{Capture, 
    domain_terms, held_statistics, label_terms, BuildContext, DataNeeds, Lambda, Method, MethodInfo, OptimiserSpec,
    Param, StepInputs, Terms,
};
use crate::{optimiser::GroupSpec, error::StrategyError};
use shift_models::{AdaptNet, DomainDiscriminator, SequenceLayout, DISCRIMINATOR};
use shift_tensor::tch::{nn, nn::Module, Tensor};

/// The decoder's hidden width.
pub const DECODER_HIDDEN: i64 = 256;

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "daae",
    help: "DAAE: a domain-adversarial autoencoder, reconstruction of both domains from the latent code, attention pooling (Gao et al., ICASSP 2021)",
    data: DataNeeds {
        sequence: Some("its decoder reconstructs the input from the backbone's latent sequence over time"),
        ..DataNeeds::SOURCE_AND_TARGET
    },
    build: |c| Ok(Box::new(Daae::new(c)?)),
    published: &[],
    params: &[Param::non_negative(
        "reconstruction",
        0.1,
        "alpha, the reconstruction weight: not published by Gao et al. (ICASSP 2021); shift's choice (0.1: at 1 \
         the reconstruction outweighs the domain term on the rotated shift of tests/adapts.rs)",
    )],
};

/// The decoder: each latent step to the input frames it covers.
#[derive(Debug)]
pub struct Decoder {
    hidden: nn::Linear,
    out: nn::Linear,
    layout: SequenceLayout,
}

impl Decoder {
    /// Under `p` (`discriminator.decoder`), for sequences of `layout`.
    pub fn new(p: &nn::Path, layout: SequenceLayout) -> Self {
        let linear = |p: nn::Path, i: i64, o: i64| {
            let b = 1.0 / (i as f64).sqrt();
            let init = nn::Init::Uniform { lo: -b, up: b };
            nn::linear(
                p,
                i,
                o,
                nn::LinearConfig {
                    ws_init: init,
                    bs_init: Some(init),
                    bias: true,
                },
            )
        };
        Self {
            hidden: linear(p / "0", layout.dim, DECODER_HIDDEN),
            out: linear(p / "2", DECODER_HIDDEN, layout.bands * layout.frames_per_step),
            layout,
        }
    }

    /// The reconstruction of `[B, bands, T * frames_per_step]` from a sequence `[B, T, D]`.
    pub fn forward(&self, sequence: &Tensor) -> Tensor {
        let (b, t, _) = sequence.size3().expect("a latent sequence is [batch, steps, values]");
        let SequenceLayout {
            bands, frames_per_step, ..
        } = self.layout;
        self.out
            .forward(&self.hidden.forward(sequence).relu())
            .view([b, t, frames_per_step, bands])
            .permute([0, 3, 1, 2])
            .reshape([b, bands, t * frames_per_step])
    }

    /// The mean squared error of the reconstruction of `x` (`[B, bands, frames]`) from `sequence`, over the
    /// first `T * frames_per_step` frames.
    pub fn error(&self, sequence: &Tensor, x: &Tensor) -> Tensor {
        let r = self.forward(sequence);
        let frames = r.size()[2];
        r.mse_loss(&x.narrow(2, 0, frames), shift_tensor::tch::Reduction::Mean)
    }
}

#[derive(Debug)]
pub struct Daae {
    decoder: Decoder,
    discriminator: DomainDiscriminator,
    alpha: f64,
}

impl Daae {
    /// The decoder (`discriminator.decoder.*`) and the domain classifier (`discriminator.domain.*`) for the
    /// backbone's latent sequence; a backbone without one is refused.
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let Some(layout) = ctx.net.sequence_layout() else {
            return Err(StrategyError::Invalid {
                field: "methods".into(),
                msg: "daae reconstructs the input from a latent sequence over time; this backbone has none \
                      (audio-cnn has one)"
                    .into(),
            });
        };
        let p = ctx.net.var_store().root() / DISCRIMINATOR;
        Ok(Self {
            decoder: Decoder::new(&(&p / "decoder"), layout),
            discriminator: DomainDiscriminator::new(&(&p / "domain"), layout.dim, &ctx.net.discriminator_shape()),
            alpha: ctx.param("reconstruction")?,
        })
    }

    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }
}

/// The latent sequences of `[x_s; x_t]` in train mode: one pass, or, on a backbone with batch norm, one per
/// domain (the labelled pass holding the running statistics), as `features_of_both` passes them.
fn sequences_of_both(net: &dyn AdaptNet, xs: &Tensor, xt: &Tensor) -> Result<Tensor, StrategyError> {
    let none = || StrategyError::Other("daae: the backbone has no latent sequence".into());
    if net.statistics().is_some() {
        let ss = held_statistics(net, || net.sequence(xs, true)).ok_or_else(none)?;
        Ok(Tensor::cat(&[ss, net.sequence(xt, true).ok_or_else(none)?], 0))
    } else {
        net.sequence(&Tensor::cat(&[xs, xt], 0), true).ok_or_else(none)
    }
}

/// The three terms of one batch from its latent sequences `sequence` (`[x_s; x_t]`, the first `ns` rows
/// labelled), the labelled rows' logits, and the inputs `x` they encode: the label loss, the domain loss of the
/// code's mean over time behind `reverse`, and `alpha` times the reconstruction error. The transfer metrics are
/// the domain classifier's.
#[allow(clippy::too_many_arguments)]
pub fn daae_terms(
    decoder: &Decoder,
    discriminator: &DomainDiscriminator,
    sequence: &Tensor,
    logits: &Tensor,
    (x, ys, domain): (&Tensor, &Tensor, &Tensor),
    reverse: impl FnOnce(&Tensor) -> Result<Tensor, StrategyError>,
    alpha: f64,
) -> Result<Terms, StrategyError> {
    let (lc, correct, count) = label_terms(logits, ys);
    let code = sequence.mean_dim(1, false, sequence.kind());
    let (ld, dcorrect, dcount) = domain_terms(&discriminator.forward(&reverse(&code)?, true), domain, None);
    let reconstruction = decoder.error(sequence, x);
    Ok(Terms {
        metrics: [lc.detach(), correct, count, ld.detach(), dcorrect, dcount],
        loss: lc + ld + reconstruction * alpha,
    })
}

impl Method for Daae {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        super::joint_optimiser(base, true)
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let (xs, ys) = batch.labelled;
        let (xt, domain) = batch.adversarial(self.name())?;
        let ns = xs.size()[0];
        let sequence = sequences_of_both(net, xs, xt)?;
        let pooled = net
            .pool(&sequence.narrow(0, 0, ns))
            .ok_or_else(|| StrategyError::Other("daae: the backbone does not pool its sequence".into()))?;
        let logits = net.classify(&pooled, true);
        let x = Tensor::cat(&[xs, xt], 0);
        daae_terms(
            &self.decoder,
            &self.discriminator,
            &sequence,
            &logits,
            (&x, ys, domain),
            |c| lambda.reverse(c),
            self.alpha,
        )
    }
}
