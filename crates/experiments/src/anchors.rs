//! The published numbers the results table sets beside a run: the method registry's, for the task's registry
//! key. Office-31 runs get none: the published ResNet-50 numbers (Transfer-Learning-Library's re-runs) come from
//! that library's recipe (20 x 1000 iterations of batch 32, weight decay 1e-3, a warm-start reversal, a
//! batch-norm discriminator), which shift does not run, so setting them beside shift's numbers would be
//! borrowing them.

use crate::config::Task;
use shift_strategies::methods::Published;
use shift_strategies::MethodName;

/// The numbers printed for one method on one task.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Anchors {
    /// Under shift's protocol (the paper's task, network and schedule): the row's published number.
    pub published: Option<&'static Published>,
    /// Under another protocol (its own network or schedule): shown beside the row as not comparable.
    pub elsewhere: Option<&'static Published>,
}

/// The numbers printed for `method` on `task`, each with its source.
pub fn anchors(task: &Task, method: MethodName) -> Anchors {
    match task {
        Task::MnistToMnistM => Anchors {
            published: method.published("mnist:mnist-m"),
            elsewhere: method.reported_elsewhere("mnist:mnist-m"),
        },
        Task::Office31 { .. } | Task::Folders { .. } => Anchors::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_get_the_registry_numbers_and_office31_none() {
        let dann = anchors(&Task::MnistToMnistM, MethodName::DANN);
        let published = dann.published.unwrap();
        assert_eq!(
            (published.accuracy, published.source),
            (0.7666, "Ganin et al., JMLR 2016, Table 2")
        );
        assert!(dann.elsewhere.is_none());
        assert_eq!(
            anchors(&Task::MnistToMnistM, "dann-alt".parse().unwrap()),
            Anchors::default()
        );
        assert_eq!(
            anchors(&Task::MnistToMnistM, "cdan".parse().unwrap()),
            Anchors::default()
        );
        let adda = anchors(&Task::MnistToMnistM, "adda".parse().unwrap());
        assert!(adda.published.is_none());
        assert_eq!(adda.elsewhere.unwrap().accuracy, 0.76);
        for pair in ["A-W", "D-W", "W-D", "A-D", "D-A", "W-A"] {
            let task = Task::parse(&format!("office31:{pair}")).unwrap();
            assert!(
                MethodName::all().all(|m| anchors(&task, m) == Anchors::default()),
                "{pair}"
            );
        }
    }
}
