//! DANN and CDANN across the training domains, as DomainBed runs them (`domainbed/algorithms.py`,
//! `AbstractDANN`): a discriminator MLP tells the training domains apart from the features (Ganin et al., JMLR
//! 2016), or from the features plus a learned embedding of the class (CDANN: Li et al., ECCV 2018, "Deep domain
//! generalization via conditional invariant adversarial networks"), and the two players step in turn with
//! their own Adam (betas `(beta1, 0.9)`), no reversal layer:
//!
//! ```text
//! h   = F(x)                 (DANN)     h = F(x) + E[y]         (CDANN)
//! L_d = CE(D(h), domain)     (DANN)     L_d = sum_i CE_i / (n_{y_i} K)   (CDANN: class-balanced)
//!       + grad_penalty * mean_i |d/dh_i sum CE(D(h), domain)|^2
//! discriminator step (D, E):   minimise L_d
//! generator step (F, C):       minimise CE(C(F(x)), y) - lambda * L_d
//! ```
//!
//! Step `t` (counted from 1) steps the discriminator when `t mod (1 + d_steps_per_g_step) < d_steps_per_g_step`,
//! the generator otherwise. The run's lambda is DomainBed's `lambda`. Defaults: `hparams_registry.py`
//! (d_steps_per_g_step 1, grad_penalty 0, beta1 0.5, weight_decay_d 0; the MLP 256 wide, 3 deep, no dropout; the
//! rate of both players the run's). `dg-dann` is DomainBed's DANN; `dann` is the JMLR paper's, source against
//! target through the reversal layer.

use super::{
    label_terms, named_optimisers, BuildContext, Capture, DataNeeds, EpochStart, GroupSpec, Method, MethodInfo,
    OptimiserSpec, Param, StepInputs,
};
use crate::error::StrategyError;
use crate::optimiser::{Optimiser, Update};
use shift_models::{AdaptNet, DomainDiscriminator, Part};
use shift_tensor::tch::{nn, Kind, Reduction, Tensor};

const PARAMS: &[Param] = &[
    Param::positive("d_steps_per_g_step", 1.0, "DomainBed, hparams_registry.py, d_steps_per_g_step"),
    Param::non_negative("grad_penalty", 0.0, "DomainBed, hparams_registry.py, grad_penalty"),
    Param::non_negative("beta1", 0.5, "DomainBed, hparams_registry.py, beta1"),
    Param::non_negative("weight_decay_d", 0.0, "DomainBed, hparams_registry.py, weight_decay_d"),
    Param::non_negative("weight_decay_g", 0.0, "DomainBed, hparams_registry.py, weight_decay_g"),
];

/// DomainBed's DANN.
pub static INFO_DANN: MethodInfo = MethodInfo {
    name: "dg-dann",
    help: "DANN across training domains: a multi-domain discriminator, players stepped in turn (DomainBed's DANN)",
    data: DataNeeds::DOMAINS,
    build: |c| Ok(Box::new(DomainAdversarial::new(c, false)?)),
    published: &[],
    params: PARAMS,
};

/// DomainBed's CDANN.
pub static INFO_CDANN: MethodInfo = MethodInfo {
    name: "cdann",
    help: "CDANN: the multi-domain discriminator conditioned on the class, class-balanced (Li et al., ECCV 2018)",
    data: DataNeeds::DOMAINS,
    build: |c| Ok(Box::new(DomainAdversarial::new(c, true)?)),
    published: &[],
    params: PARAMS,
};

/// The discriminator's loss of logits `out` (`[N, D]`) against domain indices `domain`: the mean cross-entropy,
/// or, class-balanced (CDANN), each row's cross-entropy weighted by `1 / (n_y K)` and summed (`n_y` the batch's
/// rows of its class `y`, `K` the classes in the batch's one-hot width).
pub fn discriminator_loss(out: &Tensor, domain: &Tensor, y: Option<&Tensor>) -> Tensor {
    match y {
        None => out.cross_entropy_for_logits(domain),
        Some(y) => {
            let counts = y.one_hot(-1).sum_dim_intlist(0, false, Kind::Float);
            let k = counts.size()[0] as f64;
            let weights = (counts.index_select(0, y) * k).reciprocal();
            let each = out.log_softmax(-1, Kind::Float).nll_loss_nd::<&Tensor>(domain, None, Reduction::None, -100);
            (weights * each).sum(Kind::Float)
        }
    }
}

/// `mean_i |d/dh_i sum_i CE(out_i, domain_i)|^2`, with the graph kept (so the discriminator's step can
/// back-propagate it).
pub fn gradient_penalty(out: &Tensor, h: &Tensor, domain: &Tensor) -> Tensor {
    let total = out.log_softmax(-1, Kind::Float).nll_loss_nd::<&Tensor>(domain, None, Reduction::Sum, -100);
    let grad = Tensor::run_backward(&[&total], &[h], true, true).remove(0);
    grad.square().sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float)
}

#[derive(Debug)]
pub struct DomainAdversarial {
    conditional: bool,
    discriminator: DomainDiscriminator,
    /// CDANN's class embeddings, `[classes, feature dim]` (PyTorch's `nn.Embedding` initialisation, N(0, 1)).
    embeddings: Option<Tensor>,
    d_steps: i64,
    grad_penalty: f64,
    betas: (f64, f64),
    weight_decay_d: f64,
    weight_decay_g: f64,
    /// The step about to be taken, from the schedule's start.
    at: i64,
}

impl DomainAdversarial {
    pub fn new(ctx: &BuildContext, conditional: bool) -> Result<Self, StrategyError> {
        let net = ctx.net;
        let p = net.var_store().root() / shift_models::DISCRIMINATOR;
        let (dim, domains) = (net.feature_dim(), ctx.spec.domains());
        let discriminator = DomainDiscriminator::with_outputs(&p, dim, &net.discriminator_shape(), domains);
        let embeddings = conditional.then(|| {
            (&p / "class_embeddings").var("weight", &[net.num_classes(), dim], nn::Init::Randn { mean: 0.0, stdev: 1.0 })
        });
        let beta1 = ctx.param("beta1")?;
        if beta1 >= 1.0 {
            return Err(StrategyError::Invalid {
                field: format!("params.{}.beta1", if conditional { "cdann" } else { "dg-dann" }),
                msg: format!("must be < 1, got {beta1}"),
            });
        }
        Ok(Self {
            conditional,
            discriminator,
            embeddings,
            d_steps: ctx.param("d_steps_per_g_step")?.round().max(1.0) as i64,
            grad_penalty: ctx.param("grad_penalty")?,
            betas: (beta1, 0.9),
            weight_decay_d: ctx.param("weight_decay_d")?,
            weight_decay_g: ctx.param("weight_decay_g")?,
            at: 0,
        })
    }

    /// Whether step `t` (from 1) is the discriminator's.
    pub fn discriminator_turn(&self, t: i64) -> bool {
        t % (1 + self.d_steps) < self.d_steps
    }
}

impl Method for DomainAdversarial {
    fn info(&self) -> &'static MethodInfo {
        if self.conditional {
            &INFO_CDANN
        } else {
            &INFO_DANN
        }
    }

    /// The discriminator (with the class embeddings) and the generator (the backbone), each an Adam with
    /// betas `(beta1, 0.9)` and its own weight decay, whatever the run's `train.optimiser`.
    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        vec![
            OptimiserSpec {
                name: "discriminator",
                update: Some(Update::adam_with_betas(self.betas, self.weight_decay_d)),
                groups: vec![GroupSpec::part(Part::Discriminator)],
            },
            OptimiserSpec {
                name: "generator",
                update: Some(Update::adam_with_betas(self.betas, self.weight_decay_g)),
                groups: base.to_vec(),
            },
        ]
    }

    fn capture(&self) -> Capture {
        Capture::No("DomainBed's DANN steps two optimisers in turn")
    }

    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let blocks = batch.domain_blocks(self.name())?;
        let [disc, gen] = named_optimisers(opts, self.name(), ["discriminator", "generator"])?;
        let (x, y) = batch.labelled;
        let n = blocks[0].0.size()[0];
        let domain = Tensor::arange(blocks.len() as i64, (Kind::Int64, x.device())).repeat_interleave_self_int(n, 0, None);
        let z = net.features(x, true);
        let h = match &self.embeddings {
            Some(e) => &z + e.index_select(0, y),
            None => z.shallow_clone(),
        };
        // [N, D] (one domain's single logit comes back as [N]).
        let out = self.discriminator.forward(&h, true).view([-1, blocks.len() as i64]);
        let mut disc_loss = discriminator_loss(&out, &domain, self.conditional.then_some(y));
        if self.grad_penalty > 0.0 {
            disc_loss += gradient_penalty(&out, &h, &domain) * self.grad_penalty;
        }
        let d_correct = out.argmax(-1, false).eq_tensor(&domain).sum(Kind::Float);
        let d_count = Tensor::full([], domain.size()[0] as f64, (Kind::Float, x.device()));
        let logits = net.classify(&z, true);
        let (class_loss, correct, count) = label_terms(&logits, y);
        self.at += 1;
        if self.discriminator_turn(self.at) {
            disc.zero_grad();
            disc_loss.backward();
            disc.step(lr);
        } else {
            let gen_loss = &class_loss - &disc_loss * lambda;
            disc.zero_grad();
            gen.zero_grad();
            gen_loss.backward();
            gen.step(lr);
        }
        Ok([class_loss.detach(), correct, count, disc_loss.detach(), d_correct, d_count])
    }

    /// Places the turn counter: `at` steps were taken before this epoch's first.
    fn on_epoch_start(&mut self, _net: &dyn AdaptNet, at: &EpochStart) -> Result<(), StrategyError> {
        self.at = at.global_step();
        Ok(())
    }
}
