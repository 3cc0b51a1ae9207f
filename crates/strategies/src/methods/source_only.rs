//! Source only: the label predictor trained on the labelled source alone, the lower bound every method is set
//! beside (Ganin et al., JMLR 2016, Table 2, "source only").

use super::{Capture, supervised_terms, DataNeeds, Lambda, Method, MethodInfo, Protocol, Published, StepInputs, Terms};
use crate::error::StrategyError;
use shift_models::AdaptNet;

/// The registry entry.
pub static INFO: MethodInfo = MethodInfo {
    name: "source-only",
    help: "labelled source only (the lower bound)",
    data: DataNeeds::SOURCE,
    build: |_| Ok(Box::new(SourceOnly)),
    published: &[Published {
        task: "mnist:mnist-m",
        accuracy: 0.5225,
        source: "Ganin et al., JMLR 2016, Table 2",
        protocol: Protocol::Paper,
    }],
    params: &[],
};

#[derive(Debug, Default)]
pub struct SourceOnly;

impl Method for SourceOnly {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (xs, ys) = batch.labelled;
        Ok(supervised_terms(net, xs, ys))
    }
}
