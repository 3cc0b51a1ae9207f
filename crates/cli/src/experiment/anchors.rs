//! Published numbers the results table sets beside a run (DESIGN.md's anchors): JMLR 2016 Table 2 for
//! MNIST -> MNIST-M, and Transfer-Learning-Library's ResNet-50 re-runs for the six Office-31 pairs.

use super::config::Task;
use shift_data::office31::Domain::{self, Amazon as A, Dslr as D, Webcam as W};
use shift_strategies::Method;

/// Transfer-Learning-Library (ResNet-50): (source, target, source only, DANN).
const OFFICE31_TLL: [(Domain, Domain, f64, f64); 6] = [
    (A, W, 0.758, 0.914),
    (D, W, 0.955, 0.979),
    (W, D, 0.990, 1.000),
    (A, D, 0.793, 0.836),
    (D, A, 0.636, 0.733),
    (W, A, 0.638, 0.704),
];

/// The column header for `task`'s published numbers.
pub fn label(task: Task) -> &'static str {
    match task {
        Task::MnistToMnistM => "paper (JMLR 2016, Table 2)",
        Task::Office31 { .. } => "Transfer-Learning-Library (ResNet-50)",
    }
}

/// The published target accuracy of `method` on `task`, where there is one.
pub fn anchor(task: Task, method: Method) -> Option<f64> {
    match task {
        Task::MnistToMnistM => method.paper_mnist_m(),
        Task::Office31 { source, target } => {
            let &(_, _, source_only, dann) = OFFICE31_TLL.iter().find(|r| (r.0, r.1) == (source, target))?;
            match method {
                Method::SourceOnly => Some(source_only),
                Method::Dann => Some(dann),
                Method::DannAlt | Method::TargetOnly => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_office31_pair_has_its_source_only_and_dann_numbers() {
        let pairs: Vec<Task> = ["A-W", "D-W", "W-D", "A-D", "D-A", "W-A"]
            .iter()
            .map(|p| Task::parse(&format!("office31:{p}")).unwrap())
            .collect();
        let dann: Vec<f64> = pairs.iter().map(|&t| anchor(t, Method::Dann).unwrap()).collect();
        assert_eq!(dann, [0.914, 0.979, 1.0, 0.836, 0.733, 0.704]);
        let mean = pairs
            .iter()
            .map(|&t| anchor(t, Method::SourceOnly).unwrap())
            .sum::<f64>()
            / 6.0;
        assert!((mean - 0.795).abs() < 1e-3, "TLL's source-only average is 79.5: {mean}");
        assert!(pairs.iter().all(|&t| anchor(t, Method::TargetOnly).is_none()));
        assert_eq!(anchor(Task::MnistToMnistM, Method::Dann), Some(0.7666));
    }
}
