//! Gradient reversal for domain-adversarial training (Ganin & Lempitsky, ICML 2015; Ganin et al., JMLR 2016).

mod reversal;
mod schedule;
mod self_test;

pub use reversal::{reverse_reference, GradientReversal};
pub use schedule::{LambdaSchedule, ScheduleError};
pub use self_test::{backward_with, self_test, Check};
