//! The penalty schedule of IRM and VREx as DomainBed runs them (`domainbed/algorithms.py`): weight 1 for the
//! first `anneal_iters` steps, then the method's weight; at the switch Adam restarts, "because it doesn't like the
//! sharp jump in gradient magnitudes". Placed at every epoch's start, so a resumed run switches at the same step.

use super::{joint_update, EpochStart, Terms};
use crate::error::StrategyError;
use crate::optimiser::Optimiser;
use shift_tensor::tch::Tensor;

/// Where a run is on its penalty schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PenaltyAnneal {
    /// The step about to be taken, from the schedule's start.
    at: i64,
    iters: i64,
    weight: f64,
}

impl PenaltyAnneal {
    /// Weight 1 for `iters` steps, `weight` after.
    pub fn new(iters: f64, weight: f64) -> Self {
        Self {
            at: 0,
            iters: iters.round() as i64,
            weight,
        }
    }

    /// Placed at an epoch's start (or where a resumed run continues).
    pub fn start_epoch(&mut self, at: &EpochStart) {
        self.at = at.global_step();
    }

    /// One step taken.
    pub fn advance(&mut self) {
        self.at += 1;
    }

    /// The penalty's weight at the step about to be taken.
    pub fn weight(&self) -> f64 {
        if self.at >= self.iters {
            self.weight
        } else {
            1.0
        }
    }

    /// Whether the optimiser restarts before the step about to be taken (DomainBed's `update_count ==
    /// anneal_iters`; never when `iters` is 0, where the weight holds from the first step).
    pub fn restarts(&self) -> bool {
        self.iters > 0 && self.at == self.iters
    }

    /// The joint step of `method` on this schedule: its optimisers restarted where the weight switches, then
    /// the `terms` (computed after the restart) back-propagated and stepped at `lr`.
    pub fn joint_step(
        &self,
        opts: &mut [Optimiser],
        method: &str,
        lr: f64,
        terms: impl FnOnce() -> Result<Terms, StrategyError>,
    ) -> Result<[Tensor; 6], StrategyError> {
        if self.restarts() {
            opts.iter_mut().for_each(Optimiser::reset);
        }
        joint_update(opts, method, terms()?, lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weight_is_one_until_the_anneal_step_and_the_optimiser_restarts_there_once() {
        let mut a = PenaltyAnneal::new(3.0, 100.0);
        a.start_epoch(&EpochStart {
            epoch: 0,
            step: 0,
            epochs: 2,
            steps_per_epoch: 4,
            target: None,
            labelled: None,
        });
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push((a.weight(), a.restarts()));
            a.advance();
        }
        assert_eq!(
            seen,
            [(1.0, false), (1.0, false), (1.0, false), (100.0, true), (100.0, false)]
        );
        // A run resumed in its second epoch is placed past the switch.
        a.start_epoch(&EpochStart {
            epoch: 1,
            step: 1,
            epochs: 2,
            steps_per_epoch: 4,
            target: None,
            labelled: None,
        });
        assert_eq!((a.weight(), a.restarts()), (100.0, false));
        let never = PenaltyAnneal::new(0.0, 5.0);
        assert_eq!((never.weight(), never.restarts()), (5.0, false));
    }
}
