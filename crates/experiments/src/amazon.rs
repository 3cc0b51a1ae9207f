//! The Amazon reviews runs of `shift experiment dann` (Ganin et al., JMLR 2016, Section 5.1, Table 1): each pair's
//! count vectors on the device, the held-out source split the validators score, the paper's shallow network,
//! one run per method and seed through the one run driver; and Table 1's layout over the twelve pairs.

use crate::config::{ExperimentConfig, Features};
use crate::report::{mean_std, mean_std_cell};
use crate::run_folder::RunResult;
use crate::selection;
use crate::table::Table;
use crate::tensor_runs::{self, TensorData};
use anyhow::Result;
use shift_data::amazon_reviews::{self, Domain};
use shift_data::msda::{self, Msda};
use shift_models::mlp::MlpNet;
use shift_strategies::MethodName;
use shift_tensor::tch::{Device, Tensor};
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The hidden units of the shallow network (the authors' `experiments_amazon.py`).
pub const HIDDEN: i64 = 50;

/// Every method and seed of `cfg` on `source -> target`, in `out/amazon-<source>-<target>/`; None when
/// interrupted.
#[allow(clippy::too_many_arguments)]
pub fn run_pair(
    data: &Path,
    out: &Path,
    cfg: &ExperimentConfig,
    (source, target): (Domain, Domain),
    device: Device,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<Vec<RunResult>>> {
    let pair = amazon_reviews::load(&data.join("amazon_reviews"), source, target)?;
    let (mut s, mut t, mut test) = (
        pair.source.to_tensors(device),
        pair.target.to_tensors(device),
        pair.test.to_tensors(device),
    );
    if cfg.features == Features::Msda {
        // Fitted on every training review of both domains, as the authors do; the test reviews only pass through.
        let started = std::time::Instant::now();
        let (m, both) = Msda::fit_transform(&Tensor::cat(&[&s.0, &t.0], 0), msda::NOISE, msda::LAYERS, msda::ETA);
        let ns = s.0.size()[0];
        (s.0, t.0) = (both.narrow(0, 0, ns), both.narrow(0, ns, both.size()[0] - ns));
        test.0 = m.forward(&test.0);
        eprintln!(
            "shift: amazon {source} -> {target}: mSDA ({} layers, noise {}) to {} values in {:.1}s",
            msda::LAYERS,
            msda::NOISE,
            s.0.size()[1],
            started.elapsed().as_secs_f64()
        );
    }
    let inputs = s.0.size()[1];
    let data = TensorData::new(&s, t, test, &cfg.validation, device)?;
    eprintln!(
        "shift: amazon {source} -> {target}: {} labelled {source} reviews ({} held out for the validators), {} \
         unlabelled {target} reviews, {} {target} test reviews",
        data.train.0.size()[0],
        data.validation.as_ref().map_or(0, |v| v.source_split.0.size()[0]),
        data.target.0.size()[0],
        data.test.0.size()[0]
    );
    let slug = crate::tasks::amazon_slug(source, target);
    tensor_runs::run_all(out, &slug, cfg, &data, device, stop, resume, || {
        Ok(MlpNet::shallow(device, inputs, HIDDEN, 2))
    })
}

/// Table 1's layout over the pairs that ran: a row per pair, for each method its last epoch and the epoch its
/// `select` validator picks (for `source_accuracy`, the authors' early stopping on the held-out source reviews),
/// the paper's number beside the methods it reports, and the average over the pairs.
pub fn table_1(
    methods: &[MethodName],
    pairs: &[((Domain, Domain), Vec<RunResult>)],
    select: &str,
    comparable: bool,
    features: Features,
) -> Table {
    let mut headers = vec!["pair".to_string()];
    for m in methods {
        headers.push(format!("{m} (last epoch)"));
        headers.push(format!("{m} ({select} pick)"));
        if paper(m.as_str(), (Domain::Books, Domain::Dvd), features).is_some() {
            headers.push(format!("{m}: paper"));
        }
    }
    let pick = |r: &RunResult| -> f64 {
        let Some(scores) = r.validators_per_epoch.get(select) else {
            return f64::NAN;
        };
        selection::pick(&scores[..scores.len().min(r.accuracy_per_epoch.len())])
            .map_or(f64::NAN, |e| r.accuracy_per_epoch[e])
    };
    let mut sums: Vec<Vec<f64>> = vec![Vec::new(); headers.len() - 1];
    let mut rows = Vec::new();
    for ((s, t), runs) in pairs {
        let mut row = vec![format!("{s} -> {t}")];
        let mut col = 0;
        for m in methods {
            let rs: Vec<&RunResult> = runs.iter().filter(|r| r.method == m.as_str()).collect();
            let last = |r: &RunResult| r.target_acc;
            for value in [&last as &dyn Fn(&RunResult) -> f64, &pick] {
                let v: Vec<f64> = rs.iter().map(|r| value(r)).collect();
                let (mean, std) = mean_std(&v);
                row.push(if v.is_empty() {
                    "-".into()
                } else {
                    mean_std_cell(mean, std, v.len())
                });
                sums[col].push(mean);
                col += 1;
            }
            if let Some(p) = paper(m.as_str(), (*s, *t), features) {
                row.push(if comparable {
                    format!("{p:.3}")
                } else {
                    "not comparable".into()
                });
                sums[col].push(p);
                col += 1;
            }
        }
        rows.push(row);
    }
    let mut average = vec!["average".to_string()];
    average.extend(sums.iter().map(|v| {
        if v.is_empty() || v.iter().any(|x| x.is_nan()) {
            "-".to_string()
        } else {
            format!("{:.4}", v.iter().sum::<f64>() / v.len() as f64)
        }
    }));
    rows.push(average);
    let mut table = Table {
        title: "Target test accuracy, Amazon reviews (mean +- std over seeds; Ganin et al., JMLR 2016, Table 1 beside)"
            .into(),
        headers,
        rows,
        notes: Vec::new(),
    };
    table.notes.push(format!(
        "{select} pick: each run's epoch with the highest {select} score on the held-out source reviews, no target \
         label read (for source_accuracy, the authors' early stopping)"
    ));
    table.notes.push(format!(
        "paper: Ganin et al., JMLR 2016, Table 1 ({}; DANN, and NN: the shallow network without the domain \
         regressor, which is shift's source-only)",
        match features {
            Features::Raw => "the raw 5,000 counts",
            Features::Msda => "mSDA's 30,000-value representation",
        }
    ));
    table
}

/// Table 1's number for `method` on a pair, on `features`: DANN, and NN for `source-only`.
pub fn paper(method: &str, (s, t): (Domain, Domain), features: Features) -> Option<f64> {
    use Domain::*;
    // (DANN, NN) on the raw counts, then (DANN, NN) on mSDA's representation.
    let (raw, msda) = match (s, t) {
        (Books, Dvd) => ((0.784, 0.790), (0.829, 0.824)),
        (Books, Electronics) => ((0.733, 0.747), (0.804, 0.770)),
        (Books, Kitchen) => ((0.779, 0.778), (0.843, 0.842)),
        (Dvd, Books) => ((0.723, 0.720), (0.825, 0.823)),
        (Dvd, Electronics) => ((0.754, 0.732), (0.809, 0.768)),
        (Dvd, Kitchen) => ((0.783, 0.778), (0.849, 0.853)),
        (Electronics, Books) => ((0.713, 0.709), (0.774, 0.770)),
        (Electronics, Dvd) => ((0.738, 0.733), (0.781, 0.759)),
        (Electronics, Kitchen) => ((0.854, 0.854), (0.881, 0.863)),
        (Kitchen, Books) => ((0.709, 0.708), (0.718, 0.721)),
        (Kitchen, Dvd) => ((0.740, 0.739), (0.789, 0.789)),
        (Kitchen, Electronics) => ((0.843, 0.841), (0.856, 0.850)),
        _ => return None,
    };
    let (dann, nn) = match features {
        Features::Raw => raw,
        Features::Msda => msda,
    };
    match method {
        "dann" => Some(dann),
        "source-only" => Some(nn),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_1s_numbers_average_as_published() {
        let pairs = Domain::pairs();
        let avg = |m: &str, f| pairs.iter().map(|&p| paper(m, p, f).unwrap()).sum::<f64>() / 12.0;
        // The averages the issue quotes from the paper: DANN 0.763 and NN 0.761 on the raw counts, 0.813 and
        // 0.803 on mSDA.
        for (m, f, want) in [
            ("dann", Features::Raw, 0.763),
            ("source-only", Features::Raw, 0.761),
            ("dann", Features::Msda, 0.813),
            ("source-only", Features::Msda, 0.803),
        ] {
            assert!((avg(m, f) - want).abs() < 1e-3, "{m} {f:?}: {}", avg(m, f));
        }
        assert_eq!(paper("cdan", (Domain::Books, Domain::Dvd), Features::Raw), None);
    }
}
