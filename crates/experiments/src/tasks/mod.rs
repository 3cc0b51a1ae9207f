//! Tasks as a registry: a task (how its name parses, the keys it takes, its data and splits, its default
//! schedule, its published numbers, its report's notes and figure, its fine-tuning) is one file implementing
//! [`TaskKind`], named once in the `tasks!` line below. Nothing outside a task's file asks which task it is.

use crate::anchors::Anchors;
use crate::config::{self, ExperimentConfig, Features};
pub use crate::finetune::FinetuneSetting;
use crate::finetune::{FinetuneConfig, Finetuned};
use crate::report::{Finished, Summary};
use crate::run_folder::RunResult;
use crate::Invocation;
use anyhow::{bail, Result};
use shift_strategies::{MethodName, TrainConfig};
use shift_tensor::tch::Device;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One line per task: its module, and its entry in [`REGISTRY`] (in the order `--help` and errors list them).
macro_rules! tasks {
    ($($module:ident),* $(,)?) => {
        $(mod $module;)*
        /// Every task, in the order errors list them.
        pub static REGISTRY: &[&Entry] = &[$(&$module::ENTRY),*];
    };
}

tasks!(mnist_mnistm, office31, folders, amazon, vectors, moons, fsdd, domainbed);

pub use amazon::slug as amazon_slug;

/// A task's registry entry: the names it answers to, for errors and help, and its parser.
#[derive(Debug)]
pub struct Entry {
    /// How the task is written (`office31:A-W, D-W, ...`).
    pub usage: &'static str,
    /// The task `s` names, None when `s` is not this task's (another entry's, or unknown); an error when `s` is
    /// this task's but malformed (naming the key `task` and what is wrong).
    pub parse: fn(s: &str) -> Option<Result<Task>>,
}

/// What a task's inputs are, which decides the methods it runs: methods that need images are refused on vectors
/// and spectrograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    Images,
    Vectors,
    /// Log-mel spectrograms, `[bands, frames]`.
    Audio,
}

impl Inputs {
    /// What the inputs are, for errors: "feature vectors".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Images => "images",
            Self::Vectors => "feature vectors",
            Self::Audio => "log-mel spectrograms",
        }
    }
}

/// Where an experiment's runs go and how they run.
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    pub cfg: &'a ExperimentConfig,
    pub at: &'a Invocation,
    pub device: Device,
    pub stop: &'a AtomicBool,
}

/// What a task's runs come to: the runs, for the common report (table beside the published numbers,
/// results.json, plots); or a finished report of the task's own layout.
#[derive(Debug)]
pub enum Outcome {
    Runs(Vec<RunResult>),
    Reported(Finished),
}

/// A task: a source and a target, the network that learns them, and how its numbers are read.
pub trait TaskKind: std::fmt::Debug + Send + Sync {
    /// A name for folders: `mnist-mnistm`, `office31-A-W`, `amazon-books-dvd`.
    fn slug(&self) -> String;

    /// What the inputs are (default images).
    fn inputs(&self) -> Inputs {
        Inputs::Images
    }

    /// Refuses the keys of `cfg` this task does not take or cannot honour, naming the key.
    fn validate(&self, cfg: &ExperimentConfig) -> Result<()>;

    /// Whether the task trains on several labelled source domains told apart and tests on a domain it never sees
    /// (domain generalisation): it runs the methods over domains and no other (default: no).
    fn domains(&self) -> bool {
        false
    }

    /// The task's own schedule, applied where no configuration file set one (default: shift's, unchanged).
    fn defaults(&self, cfg: ExperimentConfig) -> ExperimentConfig {
        cfg
    }

    /// `--quick`: the task's first look in minutes on two CPU cores (default: the digits' [`config::quick`]).
    fn quick(&self, cfg: ExperimentConfig) -> ExperimentConfig {
        config::quick(cfg)
    }

    /// The schedule the published numbers were measured under (default: the digit paper's).
    fn paper_schedule(&self, _cfg: &ExperimentConfig) -> TrainConfig {
        TrainConfig::default()
    }

    /// Whether the fast step (the digit net's flat-buffer step) covers this task (default: no).
    fn fast_step(&self) -> bool {
        false
    }

    /// The published numbers set beside `method`'s row (default: none).
    fn anchors(&self, _method: MethodName, _features: Features) -> Anchors {
        Anchors::default()
    }

    /// Every method and seed of `s.cfg` (validated), one run folder each under `s.at.out`; None when a stop was
    /// requested (every run's checkpoint is saved).
    fn run(&self, s: &Setting) -> Result<Option<Outcome>>;

    /// The one task whose runs an experiment over several (an Amazon pair of `amazon:all`, a target speaker of
    /// `fsdd:all`) keeps in the folder `slug`, so that `shift report results` sets that part's own numbers and
    /// name beside them; None where no part has that folder (default: none).
    fn part(&self, _slug: &str) -> Option<Task> {
        None
    }

    /// The notes that qualify the results table of `runs` under `cfg` (default: none).
    fn notes(&self, _cfg: &ExperimentConfig, _runs: &[RunResult], _summaries: &[Summary]) -> Vec<String> {
        Vec::new()
    }

    /// The report's feature figure, written into `at.out` (default: none).
    fn figure(&self, _at: &Invocation, _runs: &[RunResult], _device: Device) -> Result<Option<PathBuf>> {
        Ok(None)
    }

    /// Whether `shift analyse` (t-SNE and A-distance of one run folder's digit net) reads its runs (default: no).
    fn feature_analyses(&self) -> bool {
        false
    }

    /// The k values fine-tuning runs when `labels_per_class` is unset (default: 1, 3, 5, 10).
    fn finetune_ks(&self) -> &'static [&'static str] {
        &["1", "3", "5", "10"]
    }

    /// `--quick` for fine-tuning (default: a smoke run of a few steps, for a network whose step takes seconds).
    fn finetune_quick(&self, c: &mut FinetuneConfig) {
        c.finetune_epochs = 2;
        c.pretrain.epochs = 1;
        c.pretrain.steps_per_epoch = Some(10);
        c.finetune_steps = 20;
    }

    /// Refuses label budgets and pretrainings the task's fine-tuning cannot honour, before anything loads
    /// (default: none).
    fn check_finetune(&self, _cfg: &FinetuneConfig, _ks: &[Option<usize>]) -> Result<()> {
        Ok(())
    }

    /// Fine-tuning (`shift experiment finetune`) on this task at `ks` labels per class (default: refused).
    fn finetune(&self, _cfg: &FinetuneConfig, _ks: &[Option<usize>], _s: FinetuneSetting) -> Result<Finetuned> {
        bail!(
            "`task`: fine-tuning runs on mnist:mnist-m and the office31 pairs; {} runs in `experiment dann`",
            self.slug()
        )
    }
}

/// A parsed task: one of the [`REGISTRY`]'s.
#[derive(Clone)]
pub struct Task(Arc<dyn TaskKind>);

impl Task {
    /// The task `s` names, by the first registry entry that takes it; an error names the key `task` and lists
    /// the registry's tasks.
    pub fn parse(s: &str) -> Result<Self> {
        for entry in REGISTRY {
            if let Some(task) = (entry.parse)(s) {
                return task;
            }
        }
        let known: Vec<&str> = REGISTRY.iter().map(|e| e.usage).collect();
        bail!("`task`: unknown task `{s}` (known: {})", known.join("; "))
    }

    fn new(kind: impl TaskKind + 'static) -> Self {
        Self(Arc::new(kind))
    }

    /// Refuses the fast step where the task has none.
    pub fn check_step(&self, step: shift_strategies::StepKind) -> Result<()> {
        if step == shift_strategies::StepKind::Fast && !self.fast_step() {
            bail!(
                "`step`: the fast step covers the digit task (mnist:mnist-m); {} runs the eager step",
                self.slug()
            );
        }
        Ok(())
    }
}

impl std::ops::Deref for Task {
    type Target = dyn TaskKind;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Task {
    fn eq(&self, other: &Self) -> bool {
        format!("{:?}", self.0) == format!("{:?}", other.0)
    }
}

/// Where `cfg` leaves the paper's schedule (`train.epochs (paper 20, now 2)`, a source or target limit): the
/// published numbers stand beside runs of the paper's schedule only.
pub fn off_schedule(cfg: &ExperimentConfig) -> Result<Vec<String>> {
    let paper = serde_json::to_value(Task::parse(&cfg.task)?.paper_schedule(cfg))?;
    let mut off: Vec<String> = config::differences(&paper, &serde_json::to_value(&cfg.train)?, &[])
        .into_iter()
        .map(|d| format!("train.{d}").replace("(saved ", "(paper "))
        .collect();
    for (key, limit) in [("source_limit", cfg.source_limit), ("target_limit", cfg.target_limit)] {
        if let Some(n) = limit {
            off.push(format!("{key} ({n} examples)"));
        }
    }
    Ok(off)
}

impl ExperimentConfig {
    /// The task `task` names, once every key of the configuration is checked against shift's rules and the
    /// task's own ([`TaskKind::validate`]); errors name the key.
    pub fn validate(&self) -> Result<Task> {
        let task = Task::parse(&self.task)?;
        if self.methods.is_empty() {
            bail!("`methods`: give at least one method");
        }
        if self.seeds.is_empty() {
            bail!("`seeds`: give at least one seed");
        }
        if self.source_limit == Some(0) || self.target_limit == Some(0) {
            bail!("`source_limit`/`target_limit`: must be at least 1");
        }
        self.device
            .parse::<shift_tensor::DeviceSpec>()
            .map_err(|e| anyhow::anyhow!("`device`: {e}"))?;
        task.validate(self)?;
        crate::config::check_params(&self.params)?;
        if task.inputs() != Inputs::Images {
            if let Some((m, why)) = self.methods.iter().find_map(|m| m.data().images.map(|why| (m, why))) {
                bail!(
                    "`methods`: {m} needs images ({why}); {} is a task of {}",
                    self.task,
                    task.inputs().describe()
                );
            }
        }
        if task.inputs() != Inputs::Audio {
            if let Some((m, why)) = self.methods.iter().find_map(|m| m.data().sequence.map(|why| (m, why))) {
                bail!(
                    "`methods`: {m} needs a latent sequence over time ({why}; the audio-cnn backbone of fsdd: has one); {} \
                     is a task of {}",
                    self.task,
                    task.inputs().describe()
                );
            }
        }
        if let Some(m) = self.methods.iter().find(|m| m.data().pretext) {
            bail!(
                "`methods`: {m} is self-supervised pretraining: it reads no label and trains no label predictor, so \
                 it adapts nothing; pretrain with it and fine-tune with `experiment finetune --pretrain {m}`"
            );
        }
        if let Some(m) = self.methods.iter().find(|m| m.data().regulariser) {
            bail!(
                "`methods`: {m} is a fine-tuning regulariser: it holds a pretrained network near its start while it \
                 learns the target's labels; fine-tune with it by `experiment finetune --regulariser {m}`"
            );
        }
        if let Some(m) = self.methods.iter().find(|m| m.data().tasks) {
            bail!(
                "`methods`: {m} weighs the tasks of a multitask net (a head per task, a class per task for each \
                 example); run it with `experiment multitask --weightings {m}`"
            );
        }
        self.check_domains(&task)?;
        task.check_step(self.step)?;
        if self.step == shift_strategies::StepKind::Fast {
            if self.train.optimiser != shift_strategies::OptimiserKind::Sgd {
                bail!(
                    "`train.optimiser`: the fast step runs SGD only, got `{}` (use `--step eager`)",
                    self.train.optimiser
                );
            }
            for &m in &self.methods {
                shift_strategies::fast::check_capturable(m)?;
            }
        }
        self.train.validate()?;
        self.validation.validate()?;
        Ok(task)
    }
}

impl ExperimentConfig {
    /// Refuses the methods over several domains on a task with one source, the others on a task over domains,
    /// and the `domainbed` keys off its tasks, naming the key.
    fn check_domains(&self, task: &Task) -> Result<()> {
        if task.domains() {
            if let Some(m) = self.methods.iter().find(|m| !m.data().domains) {
                let theirs = format!("dg-{m}");
                let hint = match theirs.parse::<MethodName>() {
                    Ok(dg) => format!(
                        "; DomainBed's {} over the training domains is `{dg}`",
                        m.as_str().to_uppercase()
                    ),
                    Err(_) => String::new(),
                };
                bail!(
                    "`methods`: {m} adapts a labelled source to a target; {} trains on several source domains and \
                     never sees its test domain (its methods: {}){hint}",
                    self.task,
                    MethodName::all()
                        .filter(|m| m.data().domains)
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        } else {
            if let Some(m) = self.methods.iter().find(|m| m.data().domains) {
                bail!(
                    "`methods`: {m} trains on several source domains told apart (colored-mnist:, rotated-mnist:); {} \
                     has one source",
                    self.task
                );
            }
            if self.domainbed.is_some() {
                bail!(
                    "`domainbed`: the keys of the DomainBed tasks; {} reads none of them",
                    self.task
                );
            }
        }
        Ok(())
    }
}

/// The shallow DANN's schedule (Ganin et al., JMLR 2016, Algorithm 1, as the authors' code runs it): the
/// `shallow` backbone, `epochs` of one pass each in steps of `batch` + `batch`, plain SGD at a constant `lr` (no
/// momentum, no weight decay), lambda held at `lambda` and applied to the domain regressor's update too
/// (`params.dann.lambda_on_discriminator`), 10% of the source held out, and the `source_accuracy` pick (the
/// authors' early stopping) as the table's label-free column.
fn shallow_schedule(mut c: ExperimentConfig, epochs: usize, batch: i64, lr: f64, lambda: f64) -> ExperimentConfig {
    c.backbone = Some("shallow".into());
    c.train.epochs = epochs;
    c.train.batch = batch;
    c.train.steps_per_epoch = None;
    c.train.lr = shift_strategies::LrSchedule::Constant { lr };
    c.train.lambda = shift_grl::LambdaSchedule::Constant { value: lambda };
    c.train.momentum = 0.0;
    c.train.weight_decay = 0.0;
    c.validation.source_split = 0.1;
    c.validation.select = "source_accuracy".into();
    c.params
        .entry("dann".into())
        .or_default()
        .insert("lambda_on_discriminator".into(), 1.0);
    c
}

/// A file or folder name as part of a slug: every character other than an ASCII letter, a digit or `_` as `_`
/// (none: empty).
fn slug_part(name: Option<&std::ffi::OsStr>) -> String {
    let name = name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect()
}

/// Refuses `mnist_m` on a task other than the digits', naming the key.
fn refuse_mnist_m(cfg: &ExperimentConfig) -> Result<()> {
    if cfg.mnist_m != config::MnistMTrain::Released {
        bail!(
            "`mnist_m`: `{}` chooses the digit task's MNIST-M train split; {} has no MNIST-M",
            cfg.mnist_m,
            cfg.task
        );
    }
    Ok(())
}

/// Refuses `vectors.*` on a task other than `vectors:`, naming the key.
fn refuse_vectors(cfg: &ExperimentConfig) -> Result<()> {
    if cfg.vectors.is_some() {
        bail!(
            "`vectors`: the keys of the vectors: task (your own feature files); {} reads none of them",
            cfg.task
        );
    }
    Ok(())
}

/// Refuses `features` other than raw on a task without another representation, naming the key.
fn refuse_features(cfg: &ExperimentConfig) -> Result<()> {
    if cfg.features != Features::Raw {
        bail!(
            "`features`: msda is a representation of the Amazon reviews' counts; {} runs on its raw input",
            cfg.task
        );
    }
    Ok(())
}

/// Refuses `source_limit`/`target_limit`, the digit task's keys; `why` says what the task trains on instead.
fn refuse_limits(cfg: &ExperimentConfig, why: &str) -> Result<()> {
    if cfg.source_limit.is_some() || cfg.target_limit.is_some() {
        bail!("`source_limit`/`target_limit`: the digit task's; {why}");
    }
    Ok(())
}

/// Refuses a `backbone` outside `known` on the task `cfg.task`, naming the key.
fn refuse_backbone(cfg: &ExperimentConfig, known: &[&str], what: &str) -> Result<()> {
    if let Some(b) = cfg.backbone.as_ref().filter(|b| !known.contains(&b.as_str())) {
        bail!("`backbone`: `{b}` is not a backbone of {what} ({})", known.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An experiment over several tasks names each part by its folder, with that part's published numbers.
    #[test]
    fn the_parts_of_amazon_all_and_fsdd_all_are_found_by_their_folders() {
        let all = Task::parse("amazon:all").unwrap();
        let pair = all.part("amazon-books-dvd").unwrap();
        assert_eq!(pair, Task::parse("amazon:books:dvd").unwrap());
        let paper = pair.anchors(MethodName::DANN, Features::Raw).published.unwrap();
        assert_eq!(paper.accuracy, 0.784);
        assert!(all.anchors(MethodName::DANN, Features::Raw).published.is_none());
        let fsdd = Task::parse("fsdd:all").unwrap();
        assert_eq!(fsdd.part("fsdd-theo").unwrap(), Task::parse("fsdd:theo").unwrap());
        for (task, folder) in [
            ("amazon:all", "amazon-books-books"),
            ("amazon:all", "fsdd-theo"),
            ("fsdd:all", "fsdd-bob"),
            ("amazon:books:dvd", "amazon-books-dvd"),
            ("fsdd:theo", "fsdd-theo"),
            ("mnist:mnist-m", "mnist-mnistm"),
        ] {
            assert!(Task::parse(task).unwrap().part(folder).is_none(), "{task} {folder}");
        }
    }

    #[test]
    fn every_task_name_parses_by_its_registry_entry_and_an_unknown_one_lists_them_all() {
        for (name, slug) in [
            ("mnist:mnist-m", "mnist-mnistm"),
            ("mnist-mnistm", "mnist-mnistm"),
            ("office31:W-A", "office31-W-A"),
            ("folders:/x/my photos:/y/sketches", "folders-my_photos-sketches"),
            ("amazon:dvd:kitchen", "amazon-dvd-kitchen"),
            ("amazon:all", "amazon-all"),
            ("fsdd:lucas", "fsdd-lucas"),
            ("moons", "moons"),
        ] {
            assert_eq!(Task::parse(name).unwrap().slug(), slug, "{name}");
        }
        let e = Task::parse("svhn:mnist").unwrap_err().to_string();
        assert!(
            e.starts_with("`task`: unknown task `svhn:mnist` (known: mnist:mnist-m; office31:"),
            "{e}"
        );
        for entry in REGISTRY {
            assert!(e.contains(entry.usage), "{e} lacks {}", entry.usage);
        }
        assert_eq!(
            Task::parse("amazon:books:dvd").unwrap(),
            Task::parse("amazon:books:dvd").unwrap()
        );
        assert_ne!(
            Task::parse("amazon:books:dvd").unwrap(),
            Task::parse("amazon:dvd:books").unwrap()
        );
    }

    #[test]
    fn only_the_digit_task_takes_the_fast_step() {
        use shift_strategies::StepKind;
        Task::parse("mnist:mnist-m")
            .unwrap()
            .check_step(StepKind::Fast)
            .unwrap();
        for name in ["office31:A-W", "folders:a:b", "amazon:books:dvd"] {
            let task = Task::parse(name).unwrap();
            task.check_step(StepKind::Eager).unwrap();
            let e = task.check_step(StepKind::Fast).unwrap_err().to_string();
            assert!(
                e.starts_with("`step`: the fast step covers the digit task"),
                "{name}: {e}"
            );
        }
    }
}
