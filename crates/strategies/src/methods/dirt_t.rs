//! DIRT-T: decision-boundary iterative refinement training with a teacher (Shu, Bui, Narui & Ermon, ICLR 2018).
//! Two phases in one run. The first `vada_share` of the steps train VADA ([`super::vada`]). Then the source is
//! dropped and the target's decision boundaries are pushed away from its data, under a trust region to the
//! previous model (the teacher, a copy of the student refreshed every `teacher_every` steps):
//!
//! ```text
//! min_theta  beta KL(h_teacher(x_t) || h_theta(x_t)) + lambda_t (L_c(x_t) + L_v(x_t))
//! ```
//!
//! The teacher predicts in evaluation mode. Both phases' terms are scaled by the run's lambda schedule (at 0 the
//! second phase changes nothing). Defaults are the paper's for MNIST -> MNIST-M (beta = 0.01) and the reference
//! code's teacher refresh (every 5,000 steps) and phase lengths (80,000 + 80,000 steps, so half each).

use super::phases::TwoPhases;
use super::teacher::Teacher;
use super::vada::{target_terms, vada_terms, VadaWeights, VADA_PARAMS};
use super::vat::kl_from_clean;
use super::{
    feature_discriminator, joint_optimiser, BuildContext, Capture, DataNeeds, EpochStart, Lambda, Method, MethodInfo,
    OptimiserSpec, Param, Protocol, Published, StepInputs, Terms,
};
use crate::{optimiser::GroupSpec, error::StrategyError};
use shift_models::{AdaptNet, DomainDiscriminator};
use shift_tensor::tch::{Kind, Tensor};

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "dirt-t",
    help: "DIRT-T: VADA, then target refinement under a trust region to a teacher (Shu et al., ICLR 2018)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(DirtT::new(c)?)),
    published: &[Published {
        task: "mnist:mnist-m",
        accuracy: 0.989,
        source: "Shu et al., ICLR 2018, Table 1",
        protocol: Protocol::Other("their small CNN, Adam, 80,000 + 80,000 steps"),
    }],
    params: &DIRT_T_PARAMS,
};

const DIRT_T_PARAMS: [Param; 8] = [
    VADA_PARAMS[0],
    VADA_PARAMS[1],
    VADA_PARAMS[2],
    VADA_PARAMS[3],
    VADA_PARAMS[4],
    Param::non_negative(
        "trust_weight",
        0.01,
        "Shu et al., ICLR 2018, Appendix (beta for MNIST -> MNIST-M); run_dirtt.py --bw",
    ),
    Param::count(
        "teacher_every",
        5000.0,
        "the reference code's README (RuiShu/dirt-t: --dirt 5000, the steps between teacher refreshes)",
    ),
    Param::fraction(
        "vada_share",
        0.5,
        "the reference code (RuiShu/dirt-t, train.py: 80,000 VADA steps, then 80,000 DIRT-T steps)",
    ),
];

#[derive(Debug)]
pub struct DirtT {
    discriminator: DomainDiscriminator,
    weights: VadaWeights,
    trust_weight: f64,
    teacher_every: i64,
    teacher: Teacher,
    /// VADA, then refinement.
    phases: TwoPhases,
}

impl DirtT {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            discriminator: feature_discriminator(ctx),
            weights: VadaWeights::from_context(ctx)?,
            trust_weight: ctx.param("trust_weight")?,
            teacher_every: ctx.param("teacher_every")? as i64,
            teacher: Teacher::new(ctx.net, INFO.name)?,
            phases: TwoPhases::new(ctx.param("vada_share")?),
        })
    }

    /// Whether the next step refines (the second phase).
    pub fn refining(&self) -> bool {
        self.phases.second()
    }
}

/// The refinement terms of target images `xt`: `beta KL(teacher || student) + lambda_t (L_c + L_v)`, weighted by
/// lambda. The metrics report the trust-region KL as the transfer loss; there is no label loss.
pub fn refinement_terms(
    net: &dyn AdaptNet,
    teacher_logits: &Tensor,
    xt: &Tensor,
    lambda: Lambda,
    w: &VadaWeights,
    trust_weight: f64,
) -> Result<Terms, StrategyError> {
    let logits = net.classify(&net.features(xt, true), true);
    let trust = kl_from_clean(teacher_logits, &logits);
    let transfer = &trust * trust_weight + target_terms(net, xt, &logits, w)?;
    let zero = || Tensor::zeros([], (Kind::Float, xt.device()));
    Ok(Terms {
        loss: lambda.weigh(&transfer),
        metrics: [zero(), zero(), zero(), trust.detach(), zero(), zero()],
    })
}

impl Method for DirtT {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    fn capture(&self) -> Capture {
        Capture::No("two phases and a teacher refreshed between steps")
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        if !self.refining() {
            return vada_terms(self.name(), net, &self.discriminator, batch, lambda, &self.weights);
        }
        let xt = batch.target(self.name())?;
        let teacher = self.teacher.logits(xt, false);
        refinement_terms(net, &teacher, xt, lambda, &self.weights, self.trust_weight)
    }

    fn on_epoch_start(&mut self, _net: &dyn AdaptNet, at: &EpochStart) -> Result<(), StrategyError> {
        self.phases.start_epoch(at);
        Ok(())
    }

    /// At the switch, and every `teacher_every` steps after it, the teacher becomes a copy of the student.
    fn after_step(&mut self, _net: &dyn AdaptNet) -> Result<(), StrategyError> {
        self.phases.advance();
        if self
            .phases
            .steps_into_second()
            .is_some_and(|k| k % self.teacher_every == 0)
        {
            self.teacher.copy_student();
        }
        Ok(())
    }
}
