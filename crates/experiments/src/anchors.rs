//! The published numbers the results table sets beside a run: the method registry's, for the task's registry
//! key. Office-31 runs get none: the published ResNet-50 numbers (Transfer-Learning-Library's re-runs) come from
//! that library's recipe (20 x 1000 iterations of batch 32, weight decay 1e-3, a warm-start reversal, a
//! batch-norm discriminator), which shift does not run, so setting them beside shift's numbers would be
//! borrowing them.

use crate::config::{Features, Task};
use shift_data::amazon_reviews::Domain;
use shift_strategies::methods::{Protocol, Published};
use shift_strategies::MethodName;
use std::sync::OnceLock;

/// The numbers printed for one method on one task.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Anchors {
    /// Under shift's protocol (the paper's task, network and schedule): the row's published number.
    pub published: Option<&'static Published>,
    /// Under another protocol (its own network or schedule): shown beside the row as not comparable.
    pub elsewhere: Option<&'static Published>,
}

/// The numbers printed for `method` on `task`, each with its source (on the Amazon reviews, for the raw counts;
/// [`anchors_on`] takes the representation).
pub fn anchors(task: &Task, method: MethodName) -> Anchors {
    anchors_on(task, method, Features::Raw)
}

/// [`anchors`] for a run on `features`.
pub fn anchors_on(task: &Task, method: MethodName, features: Features) -> Anchors {
    match task {
        Task::MnistToMnistM => Anchors {
            published: method.published("mnist:mnist-m"),
            elsewhere: method.reported_elsewhere("mnist:mnist-m"),
        },
        Task::Amazon { source, target } => Anchors {
            published: amazon_published(method, (*source, *target), features),
            elsewhere: None,
        },
        Task::Office31 { .. } | Task::Folders { .. } | Task::AmazonAll => Anchors::default(),
    }
}

/// Table 1 of Ganin et al. (JMLR 2016) as [`Published`] numbers, for the methods it reports ([`crate::amazon::paper`]).
fn amazon_published(method: MethodName, pair: (Domain, Domain), features: Features) -> Option<&'static Published> {
    type Row = (MethodName, (Domain, Domain), Features, Published);
    static TABLE: OnceLock<Vec<Row>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut rows = Vec::new();
        for f in [Features::Raw, Features::Msda] {
            for p in Domain::pairs() {
                for m in [MethodName::DANN, MethodName::SOURCE_ONLY] {
                    if let Some(accuracy) = crate::amazon::paper(m.as_str(), p, f) {
                        let source = "Ganin et al., JMLR 2016, Table 1";
                        let protocol = Protocol::Paper;
                        rows.push((
                            m,
                            p,
                            f,
                            Published {
                                task: "amazon",
                                accuracy,
                                source,
                                protocol,
                            },
                        ));
                    }
                }
            }
        }
        rows
    });
    table
        .iter()
        .find(|(m, p, f, _)| *m == method && *p == pair && *f == features)
        .map(|(_, _, _, published)| published)
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

    #[test]
    fn an_amazon_pair_gets_table_1s_dann_and_nn_for_its_features() {
        let pair = Task::parse("amazon:books:dvd").unwrap();
        let cell = |m: MethodName, f| anchors_on(&pair, m, f).published.map(|p| p.accuracy);
        assert_eq!(cell(MethodName::DANN, Features::Raw), Some(0.784));
        assert_eq!(cell(MethodName::SOURCE_ONLY, Features::Raw), Some(0.790));
        assert_eq!(cell(MethodName::DANN, Features::Msda), Some(0.829));
        assert_eq!(cell("cdan".parse().unwrap(), Features::Raw), None);
        let all = Task::parse("amazon:all").unwrap();
        assert_eq!(anchors(&all, MethodName::DANN), Anchors::default());
        let p = anchors_on(&pair, MethodName::DANN, Features::Raw).published.unwrap();
        assert_eq!(p.source, "Ganin et al., JMLR 2016, Table 1");
    }
}
