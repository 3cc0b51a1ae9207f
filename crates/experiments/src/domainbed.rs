//! DomainBed's protocol (Gulrajani & Lopez-Paz, ICLR 2021) on shift's run driver: the domains of ColoredMNIST or
//! RotatedMNIST ([`shift_data::domainbed`]), each split into an `in` part (trained on) and an `out` part (held
//! out, `validation.source_split` of it, DomainBed's `holdout_fraction` 0.2); one run per method and seed with
//! one test domain held out (trained on the others' `in` parts, one block of `train.batch` per domain per step,
//! drawn with replacement as DomainBed's `InfiniteDataLoader`), and, for leave-one-domain-out selection, one run
//! per further held-out training domain. After every epoch (DomainBed's checkpoint) each run records the
//! accuracies its model selection reads (`selection_scores`), and the test domain's `in` accuracy as its target
//! accuracy. The three selection methods and DomainBed's table layout are in [`select`] and [`table`].

use crate::config::ExperimentConfig;
use crate::report::{mean_std, mean_std_cell, per_seed_mean};
use crate::run::{run_one, Run};
use crate::run_folder::{RunFolder, RunResult};
use crate::selection;
use crate::table::Table;
use anyhow::{bail, Context, Result};
use shift_data::domainbed::Domain;
use shift_models::mnist_cnn::MnistCnn;
use shift_strategies::{Batch, EpochData, EpochDraws, StepBatch, Strategy, StrategyError, ValidationSet};
use shift_tensor::tch::{Device, Kind, Tensor};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The selection score of DomainBed's training-domain validation: the mean of the training domains' `out`
/// accuracies.
pub const TRAIN_DOMAIN: &str = "train-domain-validation";
/// The test-domain oracle's score: the test domain's `out` accuracy.
pub const ORACLE: &str = "test-domain-oracle";
/// A leave-one-domain-out run's score: the `in` accuracy of the training domain it held out.
pub const LEFT_OUT: &str = "left-out-domain";

/// Examples and classes.
pub type Pair = (Tensor, Tensor);

/// One of DomainBed's two MNIST data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSet {
    ColoredMnist,
    RotatedMnist,
}

impl DataSet {
    /// The task's name (`colored-mnist`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ColoredMnist => "colored-mnist",
            Self::RotatedMnist => "rotated-mnist",
        }
    }

    /// The domains' names, in DomainBed's order.
    pub fn domains(self) -> Vec<String> {
        match self {
            Self::ColoredMnist => shift_data::domainbed::COLORED_FLIPS
                .iter()
                .map(|(_, n)| n.to_string())
                .collect(),
            Self::RotatedMnist => shift_data::domainbed::ROTATIONS.iter().map(u32::to_string).collect(),
        }
    }

    /// Image channels and classes.
    pub fn shape(self) -> (i64, i64) {
        match self {
            Self::ColoredMnist => (2, 2),
            Self::RotatedMnist => (1, 10),
        }
    }

    /// The domains, built from `<data>/mnist` under construction seed 0 (DomainBed's `train.py` default).
    pub fn load(self, data: &Path) -> Result<Vec<Domain>> {
        let mnist = shift_data::mnist::Mnist::load(&data.join("mnist"))?;
        let build = match self {
            Self::ColoredMnist => shift_data::domainbed::colored_mnist,
            Self::RotatedMnist => shift_data::domainbed::rotated_mnist,
        };
        Ok(build(&mnist.train, &mnist.test, CONSTRUCTION_SEED)?)
    }
}

/// The seed the domains are built under (DomainBed's `--seed` default): the same data for every method and seed.
pub const CONSTRUCTION_SEED: u64 = 0;

/// Each domain's (`in`, `out`) parts: `fraction` of its rows held out (DomainBed's `split_dataset`: the first
/// `int(n * fraction)` of a seeded permutation), the permutation seeded by `seed` and the domain's index.
pub fn split(domains: &[Domain], fraction: f64, seed: u64) -> Vec<(Pair, Pair)> {
    domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let n = d.y.size()[0] as usize;
            let order = selection::permutation(n, seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
            let held = (n as f64 * fraction) as usize;
            let rows = |ix: &[usize]| Tensor::from_slice(&ix.iter().map(|&i| i as i64).collect::<Vec<_>>());
            let part = |ix: &[usize]| {
                let r = rows(ix);
                (d.x.index_select(0, &r), d.y.index_select(0, &r))
            };
            (part(&order[held..]), part(&order[..held]))
        })
        .collect()
}

/// One run's data: the training domains' `in` parts (trained on), their `out` parts, the test domain's two
/// parts and, in a leave-one-domain-out run, the held-out training domain's `in` part.
#[derive(Debug)]
pub struct DomainsData {
    pub train: Vec<Pair>,
    pub held: Vec<Pair>,
    pub test_in: Pair,
    pub test_out: Pair,
    pub left_out: Option<Pair>,
}

impl DomainsData {
    /// The data of a run testing on domain `test` (and holding out training domain `left_out`, if given), from
    /// the domains' parts `parts`, on `device`.
    pub fn new(parts: &[(Pair, Pair)], test: usize, left_out: Option<usize>, device: Device) -> Result<Self> {
        let on = |p: &Pair| (p.0.to_device(device), p.1.to_device(device));
        let trained: Vec<usize> = (0..parts.len()).filter(|&i| i != test && Some(i) != left_out).collect();
        if trained.is_empty() {
            bail!("DomainBed: holding out domains {test} and {left_out:?} leaves none to train on");
        }
        Ok(Self {
            train: trained.iter().map(|&i| on(&parts[i].0)).collect(),
            held: trained.iter().map(|&i| on(&parts[i].1)).collect(),
            test_in: on(&parts[test].0),
            test_out: on(&parts[test].1),
            left_out: left_out.map(|v| on(&parts[v].0)),
        })
    }

    /// Training domains.
    pub fn domains(&self) -> i64 {
        self.train.len() as i64
    }
}

impl EpochData for DomainsData {
    fn labelled_len(&self) -> usize {
        self.train.iter().map(|p| p.1.size()[0] as usize).sum()
    }

    /// Batches of `batch` rows of every domain in a pass over the smallest domain.
    fn full_pass(&self, batch: i64) -> i64 {
        self.train.iter().map(|p| p.1.size()[0]).min().unwrap_or(0) / batch
    }

    fn has_unlabelled(&self) -> bool {
        false
    }

    fn unlabelled_images(&self) -> Option<&Tensor> {
        None
    }

    /// Each domain's rows for the epoch's steps, drawn uniformly with replacement.
    fn epoch<'a>(
        &'a self,
        _seed: i64,
        steps: i64,
        batch: i64,
        _with_unlabelled: bool,
    ) -> Result<Box<dyn EpochDraws + 'a>, StrategyError> {
        let draws = self
            .train
            .iter()
            .map(|(_, y)| Tensor::randint(y.size()[0], [steps * batch], (Kind::Int64, y.device())))
            .collect();
        Ok(Box::new(DomainDraws {
            data: self,
            draws,
            batch,
        }))
    }

    fn target_accuracy(&self, strategy: &dyn Strategy) -> Result<f64, StrategyError> {
        accuracy(strategy, &self.test_in.0, &self.test_in.1)
    }

    fn validation(&self) -> Option<&ValidationSet> {
        None
    }

    fn selection_scores(&self, strategy: &dyn Strategy) -> Result<BTreeMap<String, f64>, StrategyError> {
        let mut held = Vec::new();
        for (x, y) in &self.held {
            held.push(accuracy(strategy, x, y)?);
        }
        let mut scores = BTreeMap::from([
            (TRAIN_DOMAIN.to_string(), held.iter().sum::<f64>() / held.len() as f64),
            (
                ORACLE.to_string(),
                accuracy(strategy, &self.test_out.0, &self.test_out.1)?,
            ),
        ]);
        if let Some((x, y)) = &self.left_out {
            scores.insert(LEFT_OUT.to_string(), accuracy(strategy, x, y)?);
        }
        Ok(scores)
    }
}

/// Images a batch of evaluation holds: DomainBed's ConvNet keeps a batch of 128 images' activations in cache, and
/// on 2 CPU cores evaluates 1.8x faster than in the 1,000 of the digit tasks (1,551 against 881 images/s in
/// PyTorch 2.11.0 on the same kernels).
const EVAL_BATCH: i64 = 128;

/// The strategy's network's accuracy on `(x, y)`, in batches of [`EVAL_BATCH`].
fn accuracy(strategy: &dyn Strategy, x: &Tensor, y: &Tensor) -> Result<f64, StrategyError> {
    shift_strategies::evaluate::accuracy(strategy.network(), x, y, EVAL_BATCH)
}

/// One epoch's draws into each training domain.
struct DomainDraws<'a> {
    data: &'a DomainsData,
    draws: Vec<Tensor>,
    batch: i64,
}

impl EpochDraws for DomainDraws<'_> {
    fn with_batch(
        &mut self,
        _epoch: usize,
        step: i64,
        train: &mut dyn FnMut(Batch<'_>) -> Result<(), StrategyError>,
    ) -> Result<(), StrategyError> {
        let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = self
            .data
            .train
            .iter()
            .zip(&self.draws)
            .map(|((x, y), d)| {
                let rows = d.narrow(0, step * self.batch, self.batch);
                (x.index_select(0, &rows), y.index_select(0, &rows))
            })
            .unzip();
        let (x, y) = (Tensor::cat(&xs, 0), Tensor::cat(&ys, 0));
        train(Batch::Tensors(&StepBatch {
            labelled: (&x, &y),
            unlabelled: None,
            unlabelled_index: None,
            domains: self.data.domains(),
        }))
    }
}

/// The folder name of a run testing on domain `test` (and holding out `left_out`): `colored-mnist-env2`,
/// `colored-mnist-env2-val0`.
pub fn slug(set: DataSet, test: usize, left_out: Option<usize>) -> String {
    match left_out {
        None => format!("{}-env{test}", set.name()),
        Some(v) => format!("{}-env{test}-val{v}", set.name()),
    }
}

/// Every method and seed of `cfg` testing on domain `test` (and holding out `left_out`), in
/// `out/<slug>/<method>/seed<N>/`, each seed's domains split under that seed; None when interrupted.
#[allow(clippy::too_many_arguments)]
pub fn run_domain(
    out: &Path,
    set: DataSet,
    cfg: &ExperimentConfig,
    domains: &[Domain],
    test: usize,
    left_out: Option<usize>,
    device: Device,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<Vec<RunResult>>> {
    let slug = slug(set, test, left_out);
    let (channels, classes) = set.shape();
    let mut results = Vec::new();
    for &seed in &cfg.seeds {
        let parts = split(domains, cfg.validation.source_split, seed);
        let data = DomainsData::new(&parts, test, left_out, device)?;
        for &method in &cfg.methods {
            let folder = RunFolder::new(out, &slug, method.as_str(), seed);
            let run = Run {
                folder: &folder,
                cfg,
                method,
                seed,
                device,
                random_init_backbone: false,
            };
            let done = run_one(&run, &data, stop, resume, || {
                let spec = cfg.spec(method)?.with_domains(data.domains());
                let (strategy, _) =
                    cfg.step
                        .build(MnistCnn::new(device, channels, classes), spec, cfg.train.update())?;
                Ok(strategy)
            })
            .with_context(|| format!("{slug}: {method} seed {seed}"))?;
            match done {
                Some(r) => results.push(r),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(results))
}

/// DomainBed's three model-selection methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The epoch whose training domains' `out` accuracy is highest (`IIDAccuracySelectionMethod`).
    TrainingDomain,
    /// The epoch whose mean accuracy on the held-out training domains, each in its own run, is highest
    /// (`LeaveOneOutSelectionMethod`).
    LeaveOneOut,
    /// The last epoch (`OracleSelectionMethod`: over hyper-parameters it picks by the test domain's `out`
    /// accuracy; with one setting, the last checkpoint).
    Oracle,
}

impl Selection {
    pub const ALL: [Self; 3] = [Self::TrainingDomain, Self::LeaveOneOut, Self::Oracle];

    /// DomainBed's name for it.
    pub fn title(self) -> &'static str {
        match self {
            Self::TrainingDomain => "training-domain validation",
            Self::LeaveOneOut => "leave-one-domain-out cross-validation",
            Self::Oracle => "test-domain validation (oracle)",
        }
    }
}

/// The test domain's `in` accuracy of `run` at the epoch `selection` picks; `left_out` holds the same method and
/// seed's leave-one-domain-out runs (one per other training domain). None where the selection has nothing to
/// read (no leave-one-out runs, or no scores).
pub fn select(selection: Selection, run: &RunResult, left_out: &[&RunResult]) -> Option<f64> {
    let at = |epoch: usize| run.accuracy_per_epoch.get(epoch).copied();
    match selection {
        Selection::Oracle => run.accuracy_per_epoch.last().copied(),
        Selection::TrainingDomain => at(selection::pick(run.validators_per_epoch.get(TRAIN_DOMAIN)?)?),
        Selection::LeaveOneOut => {
            if left_out.is_empty() {
                return None;
            }
            let epochs = run.accuracy_per_epoch.len();
            let mut mean = vec![0.0; epochs];
            for r in left_out {
                let scores = r.validators_per_epoch.get(LEFT_OUT)?;
                if scores.len() != epochs {
                    return None;
                }
                for (m, s) in mean.iter_mut().zip(scores) {
                    *m += s / left_out.len() as f64;
                }
            }
            at(selection::pick(&mean)?)
        }
    }
}

/// Per method, per test domain, a value per seed.
pub type Cells = Vec<(String, Vec<Vec<f64>>)>;

/// DomainBed's layout: a row per method, a column per test domain (mean +- std over seeds, in percent as
/// DomainBed prints), and the average (over each seed's average).
pub fn table(title: &str, domains: &[String], cells: &Cells) -> Table {
    let mut headers = vec!["algorithm".to_string()];
    headers.extend(domains.iter().cloned());
    headers.push("average".into());
    let pct = |v: &[f64]| v.iter().map(|x| x * 100.0).collect::<Vec<_>>();
    let cell = |v: &[f64]| {
        let (m, s) = mean_std(&pct(v));
        if v.is_empty() {
            "-".to_string()
        } else {
            mean_std_cell(m, s, v.len())
        }
    };
    let rows = cells
        .iter()
        .map(|(method, per)| {
            let mut row = vec![method.clone()];
            row.extend(per.iter().map(|v| cell(v)));
            row.push(cell(&per_seed_mean(per)));
            row
        })
        .collect();
    Table {
        title: title.into(),
        headers,
        rows,
        notes: Vec::new(),
    }
}

/// Where DomainBed's published numbers are printed.
pub const SOURCE: &str = "DomainBed, domainbed/results/2020_10_06_7df6f06/results.tex";

/// DomainBed's published test-domain accuracies (%) for one algorithm, data set and selection method: mean and
/// +- per test domain in its column order, and the average it prints.
#[derive(Debug, Clone, Copy)]
pub struct PublishedRow {
    /// shift's name for the algorithm.
    pub method: &'static str,
    pub set: DataSet,
    pub selection: Selection,
    pub per_domain: &'static [(f64, f64)],
    pub average: f64,
}

macro_rules! rows {
    ($set:expr, $sel:expr; $($m:literal => [$($v:literal $pm:literal),+] $avg:literal),+ $(,)?) => {
        [$(PublishedRow { method: $m, set: $set, selection: $sel, per_domain: &[$(($v, $pm)),+], average: $avg }),+]
    };
}

use DataSet::{ColoredMnist as C, RotatedMnist as R};
use Selection::{LeaveOneOut as Loo, Oracle as Or, TrainingDomain as Tr};

/// Results.tex's rows for the algorithms shift has, ColoredMNIST (+90%, +80%, -90%) and RotatedMNIST (0 to 75),
/// under each selection method: averages over 3 trials of a 20-point random hyper-parameter search each.
pub static PUBLISHED: [[PublishedRow; 9]; 6] = [
    rows!(C, Tr;
        "erm" => [71.7 0.1, 72.9 0.2, 10.0 0.1] 51.5, "irm" => [72.5 0.1, 73.3 0.5, 10.2 0.3] 52.0,
        "groupdro" => [73.1 0.3, 73.2 0.2, 10.0 0.2] 52.1, "mixup" => [72.7 0.4, 73.4 0.1, 10.1 0.1] 52.1,
        "dg-coral" => [71.6 0.3, 73.1 0.1, 9.9 0.1] 51.5, "mmd" => [71.4 0.3, 73.1 0.2, 9.9 0.3] 51.5,
        "dg-dann" => [71.4 0.9, 73.1 0.1, 10.0 0.0] 51.5, "cdann" => [72.0 0.2, 73.0 0.2, 10.2 0.1] 51.7,
        "vrex" => [72.4 0.3, 72.9 0.4, 10.2 0.0] 51.8),
    rows!(C, Loo;
        "erm" => [50.0 0.2, 50.1 0.2, 10.0 0.0] 36.7, "irm" => [46.7 2.4, 51.2 0.3, 23.1 10.7] 40.3,
        "groupdro" => [50.1 0.5, 50.0 0.5, 10.2 0.1] 36.8, "mixup" => [36.6 10.9, 53.4 5.9, 10.2 0.1] 33.4,
        "dg-coral" => [49.5 0.0, 59.5 8.2, 10.2 0.1] 39.7, "mmd" => [50.3 0.2, 50.0 0.4, 9.9 0.2] 36.8,
        "dg-dann" => [49.9 0.1, 62.1 7.0, 10.0 0.1] 40.7, "cdann" => [63.2 10.1, 44.4 4.5, 9.9 0.2] 39.1,
        "vrex" => [50.2 0.4, 50.5 0.5, 10.1 0.0] 36.9),
    rows!(C, Or;
        "erm" => [71.8 0.4, 72.9 0.1, 28.7 0.5] 57.8, "irm" => [72.0 0.1, 72.5 0.3, 58.5 3.3] 67.7,
        "groupdro" => [73.5 0.3, 73.0 0.3, 36.8 2.8] 61.1, "mixup" => [72.5 0.2, 73.9 0.4, 28.6 0.2] 58.4,
        "dg-coral" => [71.1 0.2, 73.4 0.2, 31.1 1.6] 58.6, "mmd" => [69.0 2.3, 70.4 1.6, 50.6 0.2] 63.3,
        "dg-dann" => [72.4 0.5, 73.9 0.5, 24.9 2.7] 57.0, "cdann" => [71.8 0.5, 72.9 0.1, 33.8 6.4] 59.5,
        "vrex" => [72.8 0.3, 73.0 0.3, 55.2 4.0] 67.0),
    rows!(R, Tr;
        "erm" => [95.9 0.1, 98.9 0.0, 98.8 0.0, 98.9 0.0, 98.9 0.0, 96.4 0.0] 98.0,
        "irm" => [95.5 0.1, 98.8 0.2, 98.7 0.1, 98.6 0.1, 98.7 0.0, 95.9 0.2] 97.7,
        "groupdro" => [95.6 0.1, 98.9 0.1, 98.9 0.1, 99.0 0.0, 98.9 0.0, 96.5 0.2] 98.0,
        "mixup" => [95.8 0.3, 98.9 0.0, 98.9 0.0, 98.9 0.0, 98.8 0.1, 96.5 0.3] 98.0,
        "dg-coral" => [95.8 0.3, 98.8 0.0, 98.9 0.0, 99.0 0.0, 98.9 0.1, 96.4 0.2] 98.0,
        "mmd" => [95.6 0.1, 98.9 0.1, 99.0 0.0, 99.0 0.0, 98.9 0.0, 96.0 0.2] 97.9,
        "dg-dann" => [95.0 0.5, 98.9 0.1, 99.0 0.0, 99.0 0.1, 98.9 0.0, 96.3 0.2] 97.8,
        "cdann" => [95.7 0.2, 98.8 0.0, 98.9 0.1, 98.9 0.1, 98.9 0.1, 96.1 0.3] 97.9,
        "vrex" => [95.9 0.2, 99.0 0.1, 98.9 0.1, 98.9 0.1, 98.7 0.1, 96.2 0.2] 97.9),
    rows!(R, Loo;
        "erm" => [95.3 0.2, 98.9 0.1, 98.9 0.1, 98.8 0.1, 98.5 0.1, 96.2 0.2] 97.7,
        "irm" => [94.5 0.5, 98.2 0.2, 98.7 0.1, 96.6 1.5, 98.4 0.1, 95.8 0.1] 97.0,
        "groupdro" => [95.7 0.3, 98.7 0.1, 98.9 0.1, 98.6 0.2, 98.6 0.2, 95.3 0.9] 97.6,
        "mixup" => [94.8 0.4, 98.8 0.0, 98.9 0.1, 99.0 0.1, 98.9 0.0, 96.4 0.3] 97.8,
        "dg-coral" => [95.7 0.5, 98.5 0.2, 98.9 0.2, 98.6 0.2, 98.8 0.1, 96.3 0.2] 97.8,
        "mmd" => [95.8 0.2, 98.7 0.1, 99.0 0.0, 98.8 0.1, 98.7 0.1, 96.1 0.2] 97.8,
        "dg-dann" => [95.1 0.5, 98.3 0.5, 98.5 0.1, 99.0 0.1, 98.6 0.1, 96.1 0.3] 97.6,
        "cdann" => [94.3 0.5, 98.4 0.3, 98.9 0.1, 98.7 0.1, 98.9 0.1, 95.7 0.4] 97.5,
        "vrex" => [95.8 0.2, 98.7 0.0, 98.5 0.1, 98.9 0.1, 74.0 20.1, 95.5 0.5] 93.6),
    rows!(R, Or;
        "erm" => [95.3 0.2, 98.7 0.1, 98.9 0.1, 98.7 0.2, 98.9 0.0, 96.2 0.2] 97.8,
        "irm" => [94.9 0.6, 98.7 0.2, 98.6 0.1, 98.6 0.2, 98.7 0.1, 95.2 0.3] 97.5,
        "groupdro" => [95.9 0.1, 99.0 0.1, 98.9 0.1, 98.8 0.1, 98.6 0.1, 96.3 0.4] 97.9,
        "mixup" => [95.8 0.3, 98.7 0.0, 99.0 0.1, 98.8 0.1, 98.8 0.1, 96.6 0.2] 98.0,
        "dg-coral" => [96.2 0.2, 98.8 0.1, 98.8 0.1, 98.8 0.1, 98.9 0.1, 96.4 0.2] 98.0,
        "mmd" => [96.1 0.2, 98.9 0.0, 99.0 0.0, 98.8 0.0, 98.9 0.0, 96.4 0.2] 98.0,
        "dg-dann" => [95.9 0.1, 98.9 0.1, 98.6 0.2, 98.7 0.1, 98.9 0.0, 96.3 0.3] 97.9,
        "cdann" => [95.9 0.2, 98.8 0.0, 98.7 0.1, 98.9 0.1, 98.8 0.1, 96.1 0.3] 97.9,
        "vrex" => [95.5 0.2, 99.0 0.0, 98.7 0.2, 98.8 0.1, 98.8 0.0, 96.4 0.0] 97.9),
];

/// DomainBed's published row of `method` on `set` under `selection`, if it has one.
pub fn published(set: DataSet, selection: Selection, method: &str) -> Option<&'static PublishedRow> {
    PUBLISHED
        .iter()
        .flatten()
        .find(|r| r.set == set && r.selection == selection && r.method == method)
}

/// The published rows beside the table's (`irm (DomainBed)`), over the test domains `tests`; the average only
/// where every domain is a column (DomainBed's own).
pub fn published_rows(
    set: DataSet,
    selection: Selection,
    methods: &[shift_strategies::MethodName],
    tests: &[usize],
) -> Vec<Vec<String>> {
    let all = tests.len() == set.domains().len();
    methods
        .iter()
        .filter_map(|m| published(set, selection, m.as_str()))
        .map(|r| {
            let mut row = vec![format!("{} (DomainBed, published)", r.method)];
            row.extend(
                tests
                    .iter()
                    .map(|&t| format!("{:.1} +- {:.1}", r.per_domain[t].0, r.per_domain[t].1)),
            );
            row.push(if all { format!("{:.1}", r.average) } else { "-".into() });
            row
        })
        .collect()
}

/// What qualifies a table of `selection` over runs configured by `cfg`: the protocol's differences from
/// DomainBed's.
pub fn notes(cfg: &ExperimentConfig, selection: Selection, leave_one_out: bool) -> Vec<String> {
    let mut notes = vec![
        format!(
            "published: {SOURCE}, each the mean of 3 trials of a 20-point random hyper-parameter search; shift's rows run \
             DomainBed's default hyper-parameters once per seed, and a seed both splits the domains and starts the network"
        ),
        format!(
            "the domains are built once (construction seed {CONSTRUCTION_SEED}); DomainBed's sweep builds them anew under \
             each job's seed"
        ),
    ];
    let steps = cfg.train.epochs as i64 * cfg.train.steps_per_epoch.unwrap_or(0);
    if steps != 5000 || cfg.train.steps_per_epoch != Some(100) {
        notes.push(format!(
            "{steps} steps with an evaluation every {} (DomainBed: 5000 and 100)",
            cfg.train.steps_per_epoch.map_or("pass".to_string(), |s| s.to_string())
        ));
    }
    match selection {
        Selection::LeaveOneOut if !leave_one_out => {
            notes.push("no leave-one-domain-out runs (domainbed.leave_one_out = false): this table is empty".into())
        }
        Selection::Oracle => notes.push(
            "the oracle reads the test domain's labels (its held-out part): an upper bound, not a model selection one \
             could make"
                .into(),
        ),
        _ => {}
    }
    notes
}
