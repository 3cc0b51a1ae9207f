//! `shift experiment dann|finetune|zero-shot`: the flags, read into the configurations of `shift_experiments`, which runs
//! them; what is printed at the end.

use anyhow::Result;
use clap::Args;
use shift_experiments::config::{self, ExperimentConfig};
use shift_experiments::finetune::FinetuneConfig;
use shift_experiments::multitask::{self, MultitaskConfig};
use shift_experiments::zero_shot::{self, ZeroShotConfig};
use shift_experiments::Task;
use shift_experiments::{adaptation, finetuning, Invocation};
use shift_strategies::finetune::{Policy, Pretraining};
use shift_strategies::{MethodName, StepKind};
use std::path::PathBuf;

/// Flags every experiment takes.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Comma-separated seeds.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// auto, cpu, cuda, cuda:N.
    #[arg(long)]
    pub device: Option<String>,
    /// A first look in minutes on two CPU cores: a shorter schedule (on the digits, 10 epochs of 600 steps of
    /// 32 + 32 images).
    #[arg(long)]
    pub quick: bool,
    /// A TOML or JSON file with any of the settings (flags override it).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Output folder [default: runs/<experiment>].
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Data folder (installed by `cargo xtask download`).
    #[arg(long, default_value = "datasets")]
    pub data: std::path::PathBuf,
    /// Continue runs from their checkpoints; finished runs are reused.
    #[arg(long)]
    pub resume: bool,
    /// cuDNN deterministic, no benchmarking, deterministic kernels where libtorch has them.
    #[arg(long)]
    pub deterministic: bool,
    /// Set any configuration key, after the file and the other flags: `--set train.lr.lr0=0.02`,
    /// `--set params.<method>.<key>=VALUE` (a method's hyper-parameter). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl CommonArgs {
    fn invocation(&self, default_out: &str) -> Invocation {
        Invocation {
            data: self.data.clone(),
            out: self.out.clone().unwrap_or_else(|| default_out.into()),
            resume: self.resume,
            quick: self.quick,
        }
    }
}

#[derive(Debug, Args)]
pub struct DannArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// mnist:mnist-m, office31:A-W (A, D, W in any pair), folders:SOURCE_DIR:TARGET_DIR (your own images: one
    /// sub-folder per class; a target without class folders is unlabelled), amazon:SOURCE:TARGET (books, dvd,
    /// electronics, kitchen: the DANN paper's text benchmark, on its shallow network), amazon:all (all twelve
    /// pairs, in Table 1's layout), moons (the paper's toy problem, Figure 2 as moons.png),
    /// vectors:SOURCE_FILE:TARGET_FILE[:TARGET_TEST_FILE] (your own feature vectors: CSV with a `label` column,
    /// or svmlight; a CSV target without it is unlabelled), fsdd:SPEAKER (spoken digits, one speaker held out:
    /// george, jackson, lucas, nicolas, theo, yweweler) or fsdd:all (the six, one table).
    #[arg(long)]
    task: Option<String>,
    /// The digit task's MNIST-M train split: released (the authors' images, `<data>/mnist_m`) or rebuilt (made
    /// from MNIST + BSDS500 with the paper's recipe, `<data>/mnist_m_rebuilt`); the test set is the released one
    /// either way [default: released].
    #[arg(long = "mnist-m", value_parser = mnist_m_parser())]
    mnist_m: Option<config::MnistMTrain>,
    /// The Amazon reviews' input: raw (the 5,000 counts) or msda (their 30,000-value mSDA representation, Chen et
    /// al., ICML 2012, fitted on the source and target training reviews) [default: raw].
    #[arg(long, value_parser = features_parser())]
    features: Option<config::Features>,
    /// Comma-separated methods (the registry's names).
    #[arg(long, value_delimiter = ',', value_parser = method_parser())]
    methods: Option<Vec<MethodName>>,
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per domain per step.
    #[arg(long)]
    batch: Option<i64>,
    /// Steps per epoch (default: one pass over the labelled data).
    #[arg(long)]
    steps_per_epoch: Option<i64>,
    /// Use only the first N labelled source images.
    #[arg(long)]
    source_limit: Option<usize>,
    /// Use only the first N target train images.
    #[arg(long)]
    target_limit: Option<usize>,
    /// The backbone: on digits digit (the paper's net, the default), digit-bn (with batch norm and dropout),
    /// vada-cnn or vada-cnn-in (VADA's small CNN, the second with instance-normalised input); on Office-31 and
    /// image folders resnet50; on the Amazon reviews shallow (50 sigmoid units, Ganin et al.'s); on vectors: mlp
    /// (the default; `--set vectors.hidden=[64]`, `vectors.activation=relu|sigmoid`) or shallow; on the spoken
    /// digits audio-cnn (a CNN over log-mel frames with attention pooling).
    #[arg(long)]
    backbone: Option<String>,
    /// Office-31: torchvision-named ResNet-50 weights (.safetensors or .ot).
    #[arg(long)]
    pretrained: Option<PathBuf>,
    /// The train step: eager, or fast (one flat optimiser buffer, schedules on the device, the whole step
    /// replayed from a CUDA graph on CUDA).
    #[arg(long)]
    step: Option<shift_strategies::StepKind>,
}

/// `--mnist-m` values.
fn mnist_m_parser() -> impl clap::builder::TypedValueParser<Value = config::MnistMTrain> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(["released", "rebuilt"]).try_map(|s| s.parse::<config::MnistMTrain>())
}

/// `--features` values.
fn features_parser() -> impl clap::builder::TypedValueParser<Value = config::Features> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(["raw", "msda"]).try_map(|s| s.parse::<config::Features>())
}

/// `--methods` values: the registry's names, each with its line of help; the self-supervised pretraining methods
/// and the fine-tuning regularisers are accepted but not listed (`experiment dann` refuses them, naming `experiment finetune --pretrain`; `bench
/// train` times their steps).
pub(crate) fn method_parser() -> impl clap::builder::TypedValueParser<Value = MethodName> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(MethodName::all().map(|m| {
        PossibleValue::new(m.as_str())
            .help(m.info().help)
            .hide(m.data().pretext || m.data().regulariser || m.data().tasks)
    }))
    .try_map(|s| s.parse::<MethodName>())
}

/// The values of a flag that takes the registry's methods whose data needs pass `keep` (`--regulariser` the
/// fine-tuning regularisers, `--weightings` the multitask weightings), each with its line of help.
fn methods_where(
    keep: fn(&shift_strategies::methods::DataNeeds) -> bool,
) -> impl clap::builder::TypedValueParser<Value = MethodName> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        MethodName::all()
            .filter(move |m| keep(&m.data()))
            .map(|m| PossibleValue::new(m.as_str()).help(m.info().help)),
    )
    .try_map(|s| s.parse::<MethodName>())
}

impl DannArgs {
    fn config(&self) -> Result<ExperimentConfig> {
        let mut c: ExperimentConfig = match &self.common.config {
            Some(path) => config::load_experiment(path)?,
            None => ExperimentConfig::default(),
        };
        if let Some(task) = &self.task {
            c.task = task.clone();
        }
        if let Some(v) = self.features {
            c.features = v;
        }
        // A task's own schedule (the Amazon reviews': the authors' shallow network and SGD), where no file set one.
        let task = Task::parse(&c.task).ok();
        if let Some(task) = task.as_ref().filter(|_| self.common.config.is_none()) {
            c = task.defaults(c);
        }
        if self.common.quick {
            c = match &task {
                Some(task) => task.quick(c),
                None => config::quick(c),
            };
        }
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = &self.$field {
                    c.$field = v.clone();
                }
            };
        }
        set!(methods);
        if let Some(v) = self.mnist_m {
            c.mnist_m = v;
        }
        if self.backbone.is_some() {
            c.backbone = self.backbone.clone();
        }
        if let Some(v) = &self.common.seeds {
            c.seeds = v.clone();
        }
        if let Some(v) = &self.common.device {
            c.device = v.clone();
        }
        if let Some(v) = self.epochs {
            c.train.epochs = v;
        }
        if let Some(v) = self.batch {
            c.train.batch = v;
        }
        if self.steps_per_epoch.is_some() {
            c.train.steps_per_epoch = self.steps_per_epoch;
        }
        if self.source_limit.is_some() {
            c.source_limit = self.source_limit;
        }
        if self.target_limit.is_some() {
            c.target_limit = self.target_limit;
        }
        if self.pretrained.is_some() {
            c.pretrained = self.pretrained.clone();
        }
        if let Some(v) = self.step {
            c.step = v;
        }
        c.deterministic |= self.common.deterministic;
        config::set(&c, &self.common.set)
    }
}

/// What an interrupted experiment of finished runs says.
const KEPT: &str = "finished runs are kept. Continue with the same command and --resume.";

/// Prints a finished experiment's table, its folder and time; an interrupted one (None) says `kept` and exits 130.
fn finish(done: Option<shift_experiments::report::Finished>, at: &Invocation, kept: &str) -> Result<()> {
    let Some(done) = done else {
        eprintln!("shift: interrupted; {kept}");
        std::process::exit(130);
    };
    println!("\n{}", done.table);
    println!(
        "results: {} ({}); total {:.1} s",
        at.out.display(),
        done.files,
        done.seconds
    );
    Ok(())
}

pub fn run(args: DannArgs) -> Result<()> {
    let cfg = args.config()?;
    let at = args.common.invocation("runs/dann");
    finish(
        adaptation::run(&cfg, &at)?,
        &at,
        "the checkpoint is saved. Continue with the same command and --resume.",
    )
}

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// mnist:mnist-m, or office31:A-W (A, D, W in any pair).
    #[arg(long)]
    task: Option<String>,
    /// Comma-separated k values (labelled images per class), `all` for every image.
    #[arg(long = "labels-per-class", value_delimiter = ',')]
    ks: Option<Vec<String>>,
    /// Comma-separated: head, full, discriminative, scratch, dann.
    #[arg(long, value_delimiter = ',')]
    policies: Option<Vec<Policy>>,
    /// Comma-separated: what head, full and discriminative start from, each a row: supervised (source-only on
    /// the labelled source), rotation or simclr (self-supervised, the source images without their labels); none
    /// adds scratch [default: supervised].
    #[arg(long = "pretrain", value_delimiter = ',')]
    pretraining: Option<Vec<Pretraining>>,
    /// Comma-separated fine-tuning regularisers: l2-sp, bss, lwf, delta, co-tuning; each adds the regularised
    /// fine-tuning of every row that starts from a pretrained network (`full + l2-sp`).
    #[arg(long = "regulariser", value_delimiter = ',', value_parser = methods_where(|d| d.regulariser))]
    regularisers: Option<Vec<MethodName>>,
    /// Start the source-pretrained policies from this checkpoint instead of pretraining.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Start the `dann` policy from this checkpoint (of a DANN run) instead of pretraining.
    #[arg(long)]
    from_dann: Option<PathBuf>,
    /// Office-31: torchvision-named ResNet-50 weights (.safetensors or .ot) for the pretraining.
    #[arg(long)]
    pretrained: Option<PathBuf>,
    /// Epochs of pretraining (every pretrained start).
    #[arg(long)]
    pretrain_epochs: Option<usize>,
    /// The train step of pretraining and fine-tuning (digit task): eager, or fast (CUDA graph on CUDA).
    #[arg(long)]
    step: Option<StepKind>,
    /// Examples per domain per step, in pretraining and fine-tuning.
    #[arg(long)]
    batch: Option<i64>,
    /// Optimiser steps of each fine-tuning run (the same budget for every k).
    #[arg(long)]
    finetune_steps: Option<i64>,
}

impl FinetuneArgs {
    fn config(&self) -> Result<(FinetuneConfig, Task)> {
        let mut c: FinetuneConfig = match &self.common.config {
            Some(p) => config::load_file(p)?,
            None => FinetuneConfig::default(),
        };
        if let Some(v) = &self.task {
            c.task = v.clone();
        }
        let task = Task::parse(&c.task)?;
        if self.common.quick {
            finetuning::quick(&mut c, &task);
        }
        if let Some(v) = &self.common.seeds {
            c.seeds = v.clone();
        }
        if let Some(v) = &self.common.device {
            c.device = v.clone();
        }
        if self.ks.is_some() {
            c.labels_per_class = self.ks.clone();
        }
        if let Some(v) = &self.policies {
            c.policies = v.clone();
        }
        if let Some(v) = &self.pretraining {
            c.pretraining = v.clone();
        }
        if let Some(v) = &self.regularisers {
            c.regularisers = v.clone();
        }
        if self.from.is_some() {
            c.from = self.from.clone();
        }
        if self.from_dann.is_some() {
            c.from_dann = self.from_dann.clone();
        }
        if self.pretrained.is_some() {
            c.pretrained = self.pretrained.clone();
        }
        if let Some(v) = self.pretrain_epochs {
            c.pretrain.epochs = v;
        }
        if let Some(v) = self.step {
            c.step = v;
        }
        if let Some(v) = self.batch {
            c.pretrain.batch = v;
        }
        if let Some(v) = self.finetune_steps {
            c.finetune_steps = v;
        }
        c.deterministic |= self.common.deterministic;
        let mut c = config::set(&c, &self.common.set)?;
        let task = Task::parse(&c.task)?;
        finetuning::default_ks(&mut c, &task);
        Ok((c, task))
    }
}

/// `shift experiment finetune`.
pub fn run_finetune(args: FinetuneArgs) -> Result<()> {
    let (cfg, _) = args.config()?;
    let at = args.common.invocation("runs/finetune");
    finish(finetuning::run(&cfg, &at)?, &at, KEPT)
}

#[derive(Debug, Args)]
pub struct ZeroShotArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// digit-segments: the ten digits described by their seven-segment codes (the only zero-shot task).
    #[arg(long)]
    task: Option<String>,
    /// Digits held out of training in each split [default: 3].
    #[arg(long)]
    unseen: Option<usize>,
    /// How many seen/unseen splits [default: 5].
    #[arg(long)]
    splits: Option<usize>,
    /// Epochs of the digit net's training on the seen digits [default: 5].
    #[arg(long)]
    epochs: Option<usize>,
}

impl ZeroShotArgs {
    fn config(&self) -> Result<ZeroShotConfig> {
        let mut c: ZeroShotConfig = match &self.common.config {
            Some(p) => config::load_file(p)?,
            None => ZeroShotConfig::default(),
        };
        if self.common.quick {
            c.quick();
        }
        if let Some(v) = &self.task {
            c.task = v.clone();
        }
        if let Some(v) = &self.common.seeds {
            c.seeds = v.clone();
        }
        if let Some(v) = &self.common.device {
            c.device = v.clone();
        }
        if let Some(v) = self.unseen {
            c.unseen = v;
        }
        if let Some(v) = self.splits {
            c.splits = v;
        }
        if let Some(v) = self.epochs {
            c.train.epochs = v;
        }
        c.deterministic |= self.common.deterministic;
        config::set(&c, &self.common.set)
    }
}

/// `shift experiment zero-shot`.
pub fn run_zero_shot(args: ZeroShotArgs) -> Result<()> {
    let cfg = args.config()?;
    let at = args.common.invocation("runs/zero-shot");
    finish(zero_shot::run(&cfg, &at)?, &at, KEPT)
}

#[derive(Debug, Args)]
pub struct MultitaskArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// multi-mnist: the left and the right digit of two overlaid MNIST digits (the only multitask task).
    #[arg(long)]
    task: Option<String>,
    /// Comma-separated task weightings [default: all of them].
    #[arg(long, value_delimiter = ',', value_parser = methods_where(|d| d.tasks))]
    weightings: Option<Vec<MethodName>>,
    /// Epochs of every run [default: 30].
    #[arg(long)]
    epochs: Option<usize>,
}

impl MultitaskArgs {
    fn config(&self) -> Result<MultitaskConfig> {
        let mut c: MultitaskConfig = match &self.common.config {
            Some(p) => config::load_file(p)?,
            None => MultitaskConfig::default(),
        };
        if self.common.quick {
            c.quick();
        }
        if let Some(v) = &self.task {
            c.task = v.clone();
        }
        if let Some(v) = &self.weightings {
            c.weightings = v.clone();
        }
        if let Some(v) = &self.common.seeds {
            c.seeds = v.clone();
        }
        if let Some(v) = &self.common.device {
            c.device = v.clone();
        }
        if let Some(v) = self.epochs {
            c.train.epochs = v;
        }
        c.deterministic |= self.common.deterministic;
        config::set(&c, &self.common.set)
    }
}

/// `shift experiment multitask`.
pub fn run_multitask(args: MultitaskArgs) -> Result<()> {
    let cfg = args.config()?;
    let at = args.common.invocation("runs/multitask");
    finish(multitask::run(&cfg, &at)?, &at, KEPT)
}
