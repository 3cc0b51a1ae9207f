//! The published numbers the results table sets beside a run, as a task gives them
//! ([`crate::tasks::TaskKind::anchors`]): the method registry's on the digits, Table 1's on the Amazon reviews.
//! Office-31 runs get none: the published ResNet-50 numbers (Transfer-Learning-Library's re-runs) come from that
//! library's recipe (20 x 1000 iterations of batch 32, weight decay 1e-3, a warm-start reversal, a batch-norm
//! discriminator), which shift does not run, so setting them beside shift's numbers would be borrowing them.

use shift_strategies::methods::Published;

/// The numbers printed for one method on one task.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Anchors {
    /// Under shift's protocol (the paper's task, network and schedule): the row's published number.
    pub published: Option<&'static Published>,
    /// Under another protocol (its own network or schedule): shown beside the row as not comparable.
    pub elsewhere: Option<&'static Published>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Features;
    use crate::Task;
    use shift_strategies::MethodName;

    #[test]
    fn digits_get_the_registry_numbers_and_office31_none() {
        let digits = Task::parse("mnist:mnist-m").unwrap();
        let anchors = |m: MethodName| digits.anchors(m, Features::Raw);
        let dann = anchors(MethodName::DANN);
        let published = dann.published.unwrap();
        assert_eq!(
            (published.accuracy, published.source),
            (0.7666, "Ganin et al., JMLR 2016, Table 2")
        );
        assert!(dann.elsewhere.is_none());
        assert_eq!(anchors("dann-alt".parse().unwrap()), Anchors::default());
        assert_eq!(anchors("cdan".parse().unwrap()), Anchors::default());
        let adda = anchors("adda".parse().unwrap());
        assert!(adda.published.is_none());
        assert_eq!(adda.elsewhere.unwrap().accuracy, 0.76);
        for pair in ["A-W", "D-W", "W-D", "A-D", "D-A", "W-A"] {
            let task = Task::parse(&format!("office31:{pair}")).unwrap();
            assert!(
                MethodName::all().all(|m| task.anchors(m, Features::Raw) == Anchors::default()),
                "{pair}"
            );
        }
    }
}
