//! DANN with alternating updates (Ganin et al., JMLR 2016, Section 3.2's GAN-style alternative to the reversal
//! layer): a discriminator step on detached features with the true domain labels, then a feature and label step
//! against flipped domain labels, weighted by lambda:
//!
//! ```text
//! 1. min_D  BCE(D(F(x).detach()), d)
//! 2. min_{F,C}  CE(C(F(x_s)), y_s) + lambda * BCE(D(F(x)), 1 - d)
//! ```
//!
//! Two optimisers and two backward passes: not capturable as one joint loss.

use super::{
    domain_terms, feature_discriminator, label_terms, named_optimisers, BuildContext, Capture, DataNeeds, Method,
    MethodInfo, OptimiserSpec, StepInputs,
};
use crate::{optimiser::GroupSpec, optimiser::Optimiser, error::StrategyError};
use shift_models::{AdaptNet, DomainDiscriminator, Part};
use shift_tensor::tch::{Reduction, Tensor};

/// The registry entry. The JMLR paper reports the reversal layer's numbers, not the alternating updates': none
/// is published for this variant.
pub static INFO: MethodInfo = MethodInfo {
    name: "dann-alt",
    help: "DANN with alternating discriminator and feature updates (no published number)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(DannAlt::new(c))),
    published: &[],
    params: &[],
};

#[derive(Debug)]
pub struct DannAlt {
    discriminator: DomainDiscriminator,
}

impl DannAlt {
    pub fn new(ctx: &BuildContext) -> Self {
        Self {
            discriminator: feature_discriminator(ctx),
        }
    }
}

impl Method for DannAlt {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    /// `main` (features and classifier) and `disc` (the discriminator), stepped in turn.
    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        vec![
            OptimiserSpec {
                name: "main",
                update: None,
                groups: base.to_vec(),
            },
            OptimiserSpec {
                name: "disc",
                update: None,
                groups: vec![GroupSpec::part(Part::Discriminator)],
            },
        ]
    }

    fn capture(&self) -> Capture {
        Capture::No("it alternates two optimisers and two backward passes")
    }

    fn step(
        &mut self,
        net: &dyn AdaptNet,
        batch: &StepInputs,
        opts: &mut [Optimiser],
        lr: f64,
        lambda: f64,
    ) -> Result<[Tensor; 6], StrategyError> {
        let [main, disc] = named_optimisers(opts, self.name(), ["main", "disc"])?;
        let (xs, ys) = batch.labelled;
        let (xt, domain) = batch.adversarial(self.name())?;
        let ns = xs.size()[0];
        // 1. Discriminator step on detached features, true domain labels.
        disc.zero_grad();
        let f = super::features_of_both(net, xs, xt);
        let (ld, dcorrect, dcount) = domain_terms(&self.discriminator.forward(&f.detach(), true), domain, None);
        ld.backward();
        disc.step(lr);
        // 2. Feature and label step against flipped domain labels, weighted by lambda.
        main.zero_grad();
        let (lc, correct, count) = label_terms(&super::labelled_logits(net, &f, ns), ys);
        let flipped = domain.g_mul_scalar(-1.0).g_add_scalar(1.0);
        let fool = self
            .discriminator
            .forward(&f, true)
            .binary_cross_entropy_with_logits::<Tensor>(&flipped, None, None, Reduction::Mean);
        (&lc + fool * lambda).backward();
        main.step(lr);
        Ok([lc.detach(), correct, count, ld.detach(), dcorrect, dcount])
    }
}
