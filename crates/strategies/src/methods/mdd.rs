//! MDD: margin disparity discrepancy (Zhang, Liu, Long & Jordan, ICML 2019). An adversarial head `C'` on the
//! features, behind a gradient reversal layer, tries to agree with the main head `C` on the source and to
//! disagree with it on the target; the features, through the reversal, make that impossible:
//!
//! ```text
//! h_s = argmax C(f_s), h_t = argmax C(f_t)                   (no gradient)
//! p'  = softmax(C'(R(f)))                                     R: reversal at lambda * reversal_scale
//! D   = margin * CE(p'_s, h_s) - mean_i log(min(1 - p'_t,i[h_t,i] + 1e-6, 1))
//! L   = CE(C(f_s), y_s) + trade_off * D
//! ```
//!
//! `C'` is Linear(d, width)-ReLU-Dropout(0.5)-Linear(width, classes) under `discriminator.adversarial_head.`. The
//! reversal coefficient follows the experiment's lambda schedule scaled by `reversal_scale` (0.1: TLlib's warm
//! start runs from 0 to 0.1); lambda 0 leaves the features untouched by `D`.

use super::{Capture, 
    joint_optimiser, label_terms, BuildContext, DataNeeds, Forward, Lambda, Method, MethodInfo, OptimiserSpec, Param,
    StepInputs, Terms,
};
use crate::{optimiser::GroupSpec, error::StrategyError};
use shift_models::{AdaptNet, DISCRIMINATOR};
use shift_tensor::tch::{nn, nn::Module, Kind, Tensor};

/// The registry entry. No MDD number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "mdd",
    help: "MDD: margin disparity discrepancy with an adversarial head (Zhang et al., ICML 2019)",
    data: DataNeeds::SOURCE_AND_TARGET,
    build: |c| Ok(Box::new(Mdd::new(c)?)),
    published: &[],
    params: &[
        Param::positive(
            "margin",
            4.0,
            "Zhang et al., ICML 2019, Section 5 (gamma = 4); TLlib mdd.py, --margin",
        ),
        Param::non_negative("trade_off", 1.0, "Transfer-Learning-Library, mdd.py, --trade-off"),
        Param::positive(
            "reversal_scale",
            0.1,
            "Transfer-Learning-Library, mdd.py: WarmStartGradientReverseLayer(lo=0, hi=0.1)",
        ),
        Param::positive(
            "width",
            1024.0,
            "Transfer-Learning-Library, mdd.py, --bottleneck-dim (the heads' width)",
        ),
    ],
};

/// The margin disparity of the adversarial head's logits `adv_s`, `adv_t` against the main head's predictions
/// `h_s`, `h_t` (class indices).
pub fn disparity(adv_s: &Tensor, adv_t: &Tensor, (h_s, h_t): (&Tensor, &Tensor), margin: f64) -> Tensor {
    let source = adv_s.log_softmax(-1, adv_s.kind()).nll_loss(h_s);
    let p_t = adv_t.softmax(1, adv_t.kind());
    let agree_t = p_t.gather(1, &h_t.unsqueeze(1), false).squeeze_dim(1);
    let shift_log = (-agree_t + (1.0 + 1e-6)).clamp_max(1.0).log();
    source * margin - shift_log.mean(adv_t.kind())
}

#[derive(Debug)]
pub struct Mdd {
    head: [nn::Linear; 2],
    margin: f64,
    trade_off: f64,
    reversal_scale: f64,
}

impl Mdd {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let net = ctx.net;
        let width = ctx.param("width")? as i64;
        let p = net.var_store().root() / DISCRIMINATOR / "adversarial_head";
        // Named as the Sequential(Linear, ReLU, Dropout, Linear) of the reference: 0 and 3.
        let head = [
            nn::linear(&p / "0", net.feature_dim(), width, Default::default()),
            nn::linear(&p / "3", width, net.num_classes(), Default::default()),
        ];
        Ok(Self {
            head,
            margin: ctx.param("margin")?,
            trade_off: ctx.param("trade_off")?,
            reversal_scale: ctx.param("reversal_scale")?,
        })
    }
}

impl Method for Mdd {
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
        let fwd = Forward::of(net, batch, self.name())?;
        let (_, logits_s) = fwd.source();
        let (lc, correct, count) = label_terms(&logits_s, batch.labelled.1);
        let reversed = lambda.reverse_scaled(&fwd.f, self.reversal_scale)?;
        let adv = self.head[1].forward(&self.head[0].forward(&reversed).relu().dropout(0.5, true));
        let h = fwd.logits.detach().argmax(1, false);
        let (ns, n) = (fwd.ns, fwd.f.size()[0]);
        let d = disparity(
            &adv.narrow(0, 0, ns),
            &adv.narrow(0, ns, n - ns),
            (&h.narrow(0, 0, ns), &h.narrow(0, ns, n - ns)),
            self.margin,
        );
        let zero = || Tensor::zeros([], (Kind::Float, lc.device()));
        Ok(Terms {
            loss: lc.shallow_clone() + &d * self.trade_off,
            metrics: [lc.detach(), correct, count, d.detach(), zero(), zero()],
        })
    }
}
