//! Target only: the label predictor trained on the labelled target, the upper bound (Ganin et al., JMLR 2016,
//! Table 2, "train on target"). It uses target labels by design, and is the only method here that does.

use super::{Capture, supervised_terms, DataNeeds, Lambda, Method, MethodInfo, Protocol, Published, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "target-only",
    help: "labelled target (the upper bound; uses target labels by design)",
    data: DataNeeds::LABELLED_TARGET,
    build: |_| Ok(Box::new(TargetOnly)),
    published: &[Published {
        task: "mnist:mnist-m",
        accuracy: 0.9596,
        source: "Ganin et al., JMLR 2016, Table 2",
        protocol: Protocol::Paper,
    }],
    params: &[],
};

#[derive(Debug, Default)]
pub struct TargetOnly;

impl Method for TargetOnly {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (xt, yt) = batch.labelled;
        Ok(supervised_terms(net, xt, yt))
    }
}
