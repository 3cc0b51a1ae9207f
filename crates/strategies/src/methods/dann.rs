//! DANN with the gradient reversal layer (Ganin & Lempitsky, ICML 2015; Ganin et al., JMLR 2016): a domain
//! discriminator D on the features behind a gradient reversal layer R_lambda, trained in one joint update,
//!
//! ```text
//! L = CE(C(F(x_s)), y_s) + BCE(D(R_lambda(F(x))), d),   x = [x_s; x_t], d = [0; 1],
//! ```
//!
//! so that D descends the domain loss while the feature extractor F receives `-lambda` times its gradient and
//! ascends it. lambda follows the paper's schedule `2 / (1 + exp(-10 p)) - 1`.
//!
//! With `params.dann.lambda_on_discriminator = 1` the step is the shallow DANN's (JMLR 2016, Algorithm 1; the
//! authors' DANN.py), where lambda scales the domain regressor's update as well:
//! `L = CE(C(F(x_s)), y_s) + lambda BCE(D(R_1(F(x))), d)`.

use super::{Capture, 
    domain_terms, feature_discriminator, joint_optimiser, label_terms, BuildContext, DataNeeds, Lambda, Method,
    MethodInfo, OptimiserSpec, Param, Protocol, Published, StepInputs, Terms,
};
use crate::{optimiser::GroupSpec, error::StrategyError};
use shift_models::{AdaptNet, DomainDiscriminator};
use shift_tensor::tch::Tensor;

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "dann",
    help: "DANN: gradient reversal layer, one joint update (Ganin & Lempitsky, ICML 2015)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Dann::new(c)?)),
    published: &[Published {
        task: "mnist:mnist-m",
        accuracy: 0.7666,
        source: "Ganin et al., JMLR 2016, Table 2",
        protocol: Protocol::Paper,
    }],
    params: &[Param::flag(
        "lambda_on_discriminator",
        0.0,
        "0: the gradient reversal layer of JMLR 2016, Section 4 (the discriminator at full rate); 1: Algorithm 1 of \
         the same paper, the shallow DANN (lambda scales the domain regressor's update too)",
    )],
};

#[derive(Debug)]
pub struct Dann {
    discriminator: DomainDiscriminator,
    lambda_on_discriminator: bool,
}

impl Dann {
    /// The discriminator on the backbone's features, with the backbone's recipe (`discriminator.*`).
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        Ok(Self {
            discriminator: feature_discriminator(ctx),
            lambda_on_discriminator: ctx.param("lambda_on_discriminator")? != 0.0,
        })
    }

    pub fn discriminator(&self) -> &DomainDiscriminator {
        &self.discriminator
    }
}

/// The DANN terms of one batch: features of the labelled and target rows in one pass, the label loss on the
/// labelled rows, the domain loss on all rows behind `reverse`, weighed by `weigh` where given (Algorithm 1's
/// lambda on the domain regressor). The eager and the fast step share it.
pub fn dann_terms(
    net: &dyn AdaptNet,
    discriminator: &DomainDiscriminator,
    (xs, ys, xt): (&Tensor, &Tensor, &Tensor),
    domain: &Tensor,
    reverse: impl FnOnce(&Tensor) -> Result<Tensor, StrategyError>,
    weigh: Option<&Lambda>,
) -> Result<Terms, StrategyError> {
    let ns = xs.size()[0];
    let f = super::features_of_both(net, xs, xt);
    let (lc, correct, count) = label_terms(&super::labelled_logits(net, &f, ns), ys);
    let (ld, dcorrect, dcount) = domain_terms(&discriminator.forward(&reverse(&f)?, true), domain, None);
    let transfer = match weigh {
        Some(lambda) => lambda.weigh(&ld),
        None => ld.shallow_clone(),
    };
    Ok(Terms {
        metrics: [lc.detach(), correct, count, ld.detach(), dcorrect, dcount],
        loss: lc + transfer,
    })
}

impl Method for Dann {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn optimisers(&self, base: &[GroupSpec]) -> Vec<OptimiserSpec> {
        joint_optimiser(base, true)
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let (xs, ys) = batch.labelled;
        let (xt, domain) = batch.adversarial(self.name())?;
        if self.lambda_on_discriminator {
            dann_terms(
                net,
                &self.discriminator,
                (xs, ys, xt),
                domain,
                |f| Lambda::Host(1.0).reverse(f),
                Some(&lambda),
            )
        } else {
            dann_terms(
                net,
                &self.discriminator,
                (xs, ys, xt),
                domain,
                |f| lambda.reverse(f),
                None,
            )
        }
    }
}
