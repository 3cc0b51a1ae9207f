//! The step clock of a method that trains in two phases within one run (ADDA, DIRT-T, SHOT): the run's next
//! step, and the step its second phase starts at, a share of the schedule's steps.

use super::EpochStart;

/// Where a two-phase method is in its run. The method sets it at every epoch's start ([`TwoPhases::start_epoch`],
/// which also places a resumed run) and advances it once per step taken ([`TwoPhases::advance`]).
///
/// ```
/// use shift_strategies::methods::{phases::TwoPhases, EpochStart};
///
/// // 2 epochs of 5 steps, the first 0.3 of them (3 steps) in the first phase.
/// let mut clock = TwoPhases::new(0.3);
/// let at = EpochStart { epoch: 0, step: 0, epochs: 2, steps_per_epoch: 5, target: None, labelled: None };
/// clock.start_epoch(&at);
/// let mut second = Vec::new();
/// for _ in 0..5 {
///     second.push(clock.second());
///     clock.advance();
/// }
/// assert_eq!(second, [false, false, false, true, true]);
/// assert_eq!(clock.steps_into_second(), Some(2));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TwoPhases {
    share: f64,
    at: i64,
    switch: i64,
}

impl TwoPhases {
    /// A clock whose first phase takes `share` of the schedule's steps (rounded to a step).
    pub fn new(share: f64) -> Self {
        Self {
            share,
            at: 0,
            switch: 0,
        }
    }

    /// Places the clock at an epoch's start: the step about to be taken and the second phase's first step.
    pub fn start_epoch(&mut self, at: &EpochStart) {
        self.at = at.global_step();
        self.switch = (self.share * at.total_steps() as f64).round() as i64;
    }

    /// One step taken.
    pub fn advance(&mut self) {
        self.at += 1;
    }

    /// Whether the next step belongs to the second phase.
    pub fn second(&self) -> bool {
        self.at >= self.switch
    }

    /// Whether the step last taken belonged to the second phase (false before any step).
    pub fn last_in_second(&self) -> bool {
        self.at > self.switch
    }

    /// Whether the next step is the second phase's first.
    pub fn switching(&self) -> bool {
        self.at == self.switch
    }

    /// The steps taken in the second phase so far, None while in the first.
    pub fn steps_into_second(&self) -> Option<i64> {
        self.second().then_some(self.at - self.switch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: usize, step: i64) -> EpochStart<'static> {
        EpochStart {
            epoch,
            step,
            epochs: 4,
            steps_per_epoch: 10,
            target: None,
            labelled: None,
        }
    }

    #[test]
    fn the_switch_is_the_shares_step_and_a_resumed_run_is_placed_where_it_stopped() {
        let mut clock = TwoPhases::new(0.5);
        clock.start_epoch(&at(1, 9));
        assert!(!clock.second() && !clock.switching());
        clock.advance();
        // Step 20 of 40: the second phase's first step; the step last taken (19) was the first phase's.
        assert!(clock.second() && clock.switching() && !clock.last_in_second());
        assert_eq!(clock.steps_into_second(), Some(0));
        clock.advance();
        assert!(clock.last_in_second());
        // A run resumed at the switch (an epoch's start, or an epoch's end with no step left in it) last took
        // step 19, the first phase's; one resumed a step later took step 20.
        for (epoch, step, second) in [(2, 0, false), (1, 10, false), (2, 1, true)] {
            clock.start_epoch(&at(epoch, step));
            assert_eq!(clock.last_in_second(), second, "resumed at epoch {epoch} step {step}");
        }
        clock.start_epoch(&at(3, 4));
        assert!(clock.second() && !clock.switching());
        assert_eq!(clock.steps_into_second(), Some(14));
    }

    #[test]
    fn shares_of_zero_and_one_give_one_phase() {
        let mut all_second = TwoPhases::new(0.0);
        all_second.start_epoch(&at(0, 0));
        assert!(all_second.second() && all_second.switching());
        let mut all_first = TwoPhases::new(1.0);
        all_first.start_epoch(&at(3, 9));
        assert!(!all_first.second());
        assert_eq!(all_first.steps_into_second(), None);
    }
}
