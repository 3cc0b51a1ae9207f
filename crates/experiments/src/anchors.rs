//! The published numbers the results table sets beside a run: the method registry's, for the task's registry
//! key. Office-31 runs get none: the published ResNet-50 numbers (Transfer-Learning-Library's re-runs) come from
//! that library's recipe (20 x 1000 iterations of batch 32, weight decay 1e-3, a warm-start reversal, a
//! batch-norm discriminator), which shift does not run, so setting them beside shift's numbers would be
//! borrowing them.

use crate::config::Task;
use shift_strategies::methods::Published;
use shift_strategies::MethodName;

/// The published target accuracy of `method` on `task`, with its source, where there is one under shift's
/// protocol.
pub fn anchor(task: &Task, method: MethodName) -> Option<&'static Published> {
    match task {
        Task::MnistToMnistM => method.published("mnist:mnist-m"),
        Task::Office31 { .. } | Task::Folders { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_get_the_registry_numbers_and_office31_none() {
        let dann = anchor(&Task::MnistToMnistM, MethodName::DANN).unwrap();
        assert_eq!(
            (dann.accuracy, dann.source),
            (0.7666, "Ganin et al., JMLR 2016, Table 2")
        );
        assert!(anchor(&Task::MnistToMnistM, "dann-alt".parse().unwrap()).is_none());
        assert!(anchor(&Task::MnistToMnistM, "cdan".parse().unwrap()).is_none());
        for pair in ["A-W", "D-W", "W-D", "A-D", "D-A", "W-A"] {
            let task = Task::parse(&format!("office31:{pair}")).unwrap();
            assert!(MethodName::all().all(|m| anchor(&task, m).is_none()), "{pair}");
        }
    }
}
