//! ADDA: adversarial discriminative domain adaptation (Tzeng, Hoffman, Saenko & Darrell, CVPR 2017). Two phases
//! in one run, the first `source_share` of the schedule's steps on the source alone:
//!
//! ```text
//! 1. min_{F,C}  CE(C(F(x_s)), y_s)                                 (F becomes the source encoder M_s)
//!    at the switch M_s is a frozen copy of F; F goes on as the target encoder M_t, C stays as it is:
//! 2a. min_D     BCE(D(M_s(x_s)), 0) + BCE(D(M_t(x_t)), 1)          (the critic, over both batches' rows)
//! 2b. min_M_t   lambda * BCE(D(M_t(x_t)), 0)                        (inverted labels: the GAN loss of Eq. 9)
//! ```
//!
//! The target test reads C(M_t(x)). The frozen source encoder is a twin of the backbone's feature extractor
//! (`AdaptNet::feature_twin`) under `discriminator.source_encoder.`, held in evaluation mode and saved with the
//! checkpoints. The critic, under `discriminator.critic.`, is the paper's: two hidden layers of 500 ReLU units
//! (Sec. 4; the authors' code erictzeng/adda: `tools/train_adda.py`'s default `--adversary [500, 500]`, and
//! `scripts/svhn-mnist.sh` passes `--adversary_relu`). Phase 1 trains with the run's optimiser and schedule.
//! Phase 2 trains the critic and the target encoder as that script does: Adam at a constant 2e-4 with beta1
//! 0.5, whatever the run's `train.optimiser`; the backbone's learning-rate multipliers still apply to the
//! encoder (a pretrained ResNet-50's layers step at 0.1 x 2e-4). With the run's SGD (momentum 0.9, lr 0.0025 at
//! the switch) the target encoder collapses to chance on MNIST-M within one epoch of the 20-epoch schedule.
//! Adam is blind to a loss's scale, so lambda acts on 2b only as zero (off) or not. The authors step
//! critic and encoder on one forward pass; here the encoder steps against the critic just updated. They train
//! both phases for 10,000 steps each, hence the default share of one half.

use super::info::pytorch_domain_adaptation;
use super::{domain_labels, domain_terms, label_terms, BuildContext, Capture, DataNeeds, EpochStart, Method};
use super::{groups_of, named_optimisers, phases::TwoPhases, MethodInfo, OptimiserSpec, Param, StepInputs};
use crate::optimiser::ADAM_BETAS;
use crate::{optimiser::GroupSpec, optimiser::Optimiser, error::StrategyError, optimiser::Update};
use shift_models::{
    AdaptNet, DiscriminatorShape, DomainDiscriminator, FeatureExtractor, Part, DISCRIMINATOR, FEATURES,
};
use shift_tensor::tch::{self, Kind, Reduction, Tensor};

/// The registry entry. pytorch-domain-adaptation's README table reads 0.76 for its ADDA on MNIST -> MNIST-M (and
/// 0.33 for its source-only), with its own network and schedule, not this protocol's: shown as not comparable.
pub static INFO: MethodInfo = MethodInfo {
    name: "adda",
    help:
        "ADDA: source training, then a target encoder against a critic with inverted labels (Tzeng et al., CVPR 2017)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Adda::new(c)?)),
    published: &[pytorch_domain_adaptation(0.76)],
    params: &[
        Param::positive(
            "source_share",
            0.5,
            "erictzeng/adda, scripts/svhn-mnist.sh: 10,000 source steps, then 10,000 adaptation steps",
        ),
        Param::positive(
            "adapt_lr",
            2e-4,
            "erictzeng/adda, scripts/svhn-mnist.sh: train_adda.py --lr 0.0002 --solver adam (constant)",
        ),
        Param::fraction(
            "adapt_beta1",
            0.5,
            "erictzeng/adda, tools/train_adda.py: tf.train.AdamOptimizer(lr, 0.5)",
        ),
        Param::count(
            "critic_width",
            500.0,
            "Tzeng et al. 2017, Sec. 4: the discriminator's two hidden layers of 500 units",
        ),
    ],
};

/// Where the frozen source encoder's variables live (below `discriminator.`).
pub const SOURCE_ENCODER: &str = "source_encoder";
/// The variable-store path of the frozen source encoder's variables: a checkpoint holds them under `model.` and
/// this prefix, beside the backbone's `features.*` they were copied from.
pub const SOURCE_ENCODER_PREFIX: &str = "discriminator.source_encoder.";
/// Where the critic's variables live (below `discriminator.`).
pub const CRITIC: &str = "critic";
const CRITIC_PREFIX: &str = "discriminator.critic.";

/// The critic's loss: domain logits of source rows `ds` (label 0) and target rows `dt` (label 1), BCE averaged
/// over all rows; with the critic's correct count and row count.
pub fn critic_loss(ds: &Tensor, dt: &Tensor) -> (Tensor, Tensor, Tensor) {
    let (ns, nt) = (ds.size()[0], dt.size()[0]);
    let labels = domain_labels(ns, nt, ds.device()).to_kind(ds.kind());
    domain_terms(&Tensor::cat(&[ds, dt], 0).squeeze_dim(-1), &labels, None)
}

/// The target encoder's loss: the target rows' domain logits `dt` against the source label 0 (inverted labels).
pub fn mapping_loss(dt: &Tensor) -> Tensor {
    let dt = dt.squeeze_dim(-1);
    dt.binary_cross_entropy_with_logits::<Tensor>(&dt.zeros_like(), None, None, Reduction::Mean)
}

#[derive(Debug)]
pub struct Adda {
    source_encoder: Box<dyn FeatureExtractor>,
    critic: DomainDiscriminator,
    /// The source phase, then the adaptation phase.
    phases: TwoPhases,
    /// The adaptation phase's Adam: its constant step size and its rule (betas `adapt_beta1`, 0.999).
    adapt_lr: f64,
    adapt_update: Update,
}

impl Adda {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let source_share = ctx.param("source_share")?;
        if source_share >= 1.0 {
            return Err(StrategyError::Invalid {
                field: "params.adda.source_share".into(),
                msg: format!(
                    "must be below 1 (the share of the steps trained on the source alone), got {source_share}"
                ),
            });
        }
        let net = ctx.net;
        let d = net.var_store().root() / DISCRIMINATOR;
        let source_encoder = net.feature_twin(&(&d / SOURCE_ENCODER));
        for (name, var) in net.var_store().variables() {
            if name.starts_with(SOURCE_ENCODER_PREFIX) {
                let _ = var.set_requires_grad(false);
            }
        }
        let width = ctx.param("critic_width")? as i64;
        let shape = DiscriminatorShape {
            hidden: vec![width, width],
            dropout: 0.0,
        };
        Ok(Self {
            source_encoder,
            critic: DomainDiscriminator::new(&(&d / CRITIC), net.feature_dim(), &shape),
            phases: TwoPhases::new(source_share),
            adapt_lr: ctx.param("adapt_lr")?,
            adapt_update: Update::adam_with_betas((ctx.param("adapt_beta1")?, ADAM_BETAS.1), 0.0),
        })
    }

    /// Copies the backbone's feature extractor (`features.*`, batch-norm statistics included) into the frozen
    /// source encoder.
    fn freeze_source_encoder(&self, net: &dyn AdaptNet) -> Result<(), StrategyError> {
        let vars = net.var_store().variables();
        let prefix = SOURCE_ENCODER_PREFIX;
        let twins = vars.keys().filter(|k| k.starts_with(prefix)).count();
        let features = format!("{FEATURES}.");
        let mut copied = 0;
        tch::no_grad(|| -> Result<(), StrategyError> {
            for (name, var) in &vars {
                let Some(rest) = name.strip_prefix(&features) else {
                    continue;
                };
                let twin = vars.get(&format!("{prefix}{rest}")).ok_or_else(|| {
                    StrategyError::Other(format!("adda: the source encoder has no {prefix}{rest} for {name}"))
                })?;
                twin.shallow_clone().copy_(var);
                copied += 1;
            }
            Ok(())
        })?;
        if copied != twins {
            return Err(StrategyError::Other(format!(
                "adda: copied {copied} feature variables into a source encoder of {twins}"
            )));
        }
        Ok(())
    }
}

impl Method for Adda {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    /// `source` (features and classifier, the first phase, the run's rule), then the second phase's `critic`
    /// and `encoder` (the features alone), both Adam with betas (`adapt_beta1`, 0.999) and no weight decay.
    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        let adam = Some(self.adapt_update);
        vec![
            OptimiserSpec {
                name: "source",
                update: None,
                groups: base.to_vec(),
            },
            OptimiserSpec {
                name: "critic",
                update: adam,
                groups: vec![GroupSpec {
                    prefix: Some(CRITIC_PREFIX),
                    ..GroupSpec::part(Part::Discriminator)
                }],
            },
            OptimiserSpec {
                name: "encoder",
                update: adam,
                groups: groups_of(base, Part::Features),
            },
        ]
    }

    fn capture(&self) -> Capture {
        Capture::No("it trains in two phases, the second with two optimisers and two backward passes")
    }

    fn on_epoch_start(&mut self, _net: &dyn AdaptNet, at: &EpochStart) -> Result<(), StrategyError> {
        self.phases.start_epoch(at);
        Ok(())
    }

    fn after_step(&mut self, _net: &dyn AdaptNet) -> Result<(), StrategyError> {
        self.phases.advance();
        Ok(())
    }

    /// The adaptation phase steps at the constant `adapt_lr`, not at the schedule's rate.
    fn stepped_lr(&self, scheduled: f64) -> f64 {
        if self.phases.last_in_second() {
            self.adapt_lr
        } else {
            scheduled
        }
    }

    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let [source, critic, encoder] = named_optimisers(opts, self.name(), ["source", "critic", "encoder"])?;
        let (xs, ys) = batch.labelled;
        if !self.phases.second() {
            source.zero_grad();
            let (lc, correct, count) = label_terms(&net.classify(&net.features(xs, true), true), ys);
            lc.backward();
            source.step(lr);
            let zero = || Tensor::zeros([], (Kind::Float, xs.device()));
            return Ok([lc.detach(), correct, count, zero(), zero(), zero()]);
        }
        if self.phases.switching() {
            self.freeze_source_encoder(net)?;
        }
        let xt = batch.target(self.name())?;
        // 2a. The critic, on the frozen source encoder's and the target encoder's (detached) features.
        critic.zero_grad();
        let fs = tch::no_grad(|| self.source_encoder.forward(xs, false));
        let ft = net.features(xt, true);
        let (ld, dcorrect, dcount) = critic_loss(
            &self.critic.forward(&fs, true),
            &self.critic.forward(&ft.detach(), true),
        );
        ld.backward();
        critic.step(self.adapt_lr);
        // 2b. The target encoder against the source label; the critic and the classifier stay.
        encoder.zero_grad();
        (mapping_loss(&self.critic.forward(&ft, true)) * lambda).backward();
        encoder.step(self.adapt_lr);
        // The source label loss through the target encoder, for the record.
        let (lc, correct, count) = tch::no_grad(|| label_terms(&net.classify(&net.features(xs, false), false), ys));
        Ok([lc, correct, count, ld.detach(), dcorrect, dcount])
    }
}
