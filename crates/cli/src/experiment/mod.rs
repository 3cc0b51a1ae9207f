//! `shift experiment dann`: source-only, DANN and target-only on MNIST -> MNIST-M (or Office-31), over seeds,
//! with a run folder per run, a results table beside the paper's numbers, and a plot.

mod anchors;
pub(crate) mod config;
mod digits;
pub(crate) mod estimate;
pub mod finetune;
mod office;
mod report;
pub(crate) mod run_folder;
mod session;

use anyhow::Result;
use clap::Args;
use config::{ExperimentConfig, Task};
use shift_strategies::MethodName;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct DannArgs {
    #[command(flatten)]
    common: config::CommonArgs,
    /// mnist:mnist-m, or office31:A-W (A, D, W in any pair).
    #[arg(long)]
    task: Option<String>,
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
    /// Office-31: resnet50.
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

/// `--methods` values: the registry's names, each with its line of help.
pub(crate) fn method_parser() -> impl clap::builder::TypedValueParser<Value = MethodName> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(MethodName::all().map(|m| PossibleValue::new(m.as_str()).help(m.info().help)))
        .try_map(|s| s.parse::<MethodName>())
}

impl DannArgs {
    fn config(&self) -> Result<ExperimentConfig> {
        let mut c: ExperimentConfig = match &self.common.config {
            Some(path) => config::load_experiment(path)?,
            None => ExperimentConfig::default(),
        };
        if self.common.quick {
            c = config::quick(c);
        }
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = &self.$field {
                    c.$field = v.clone();
                }
            };
        }
        set!(task);
        set!(methods);
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
        Ok(c)
    }

    fn out(&self) -> PathBuf {
        self.common.out.clone().unwrap_or_else(|| "runs/dann".into())
    }
}

pub fn run(args: DannArgs) -> Result<()> {
    let cfg = args.config()?;
    let task = cfg.validate()?;
    let (device, stop) = session::prepare(&cfg.device, cfg.deterministic)?;
    let started = Instant::now();
    eprintln!(
        "shift: {} on {device:?}: methods {:?}, seeds {:?}, {} epochs",
        task.slug(),
        cfg.methods,
        cfg.seeds,
        cfg.train.epochs
    );
    let runs = match task {
        Task::MnistToMnistM => digits::run(
            &args.common.data,
            &args.out(),
            &cfg,
            device,
            &stop,
            (args.common.resume, args.common.quick),
        )?,
        Task::Office31 { .. } => office::run(
            &args.common.data,
            &args.out(),
            &cfg,
            task,
            device,
            &stop,
            args.common.resume,
        )?,
    };
    let Some(runs) = runs else {
        eprintln!("shift: interrupted; the checkpoint is saved. Continue with the same command and --resume.");
        std::process::exit(130);
    };
    let config_json = serde_json::to_value(&cfg)?;
    let summaries = report::summarise(&cfg.methods, &runs, |m| anchors::anchor(task, m));
    let table = report::table(&task.slug(), &summaries) + &report::run_notes(&runs);
    report::write(&args.out(), &task.slug(), &config_json, &runs, &summaries, &table)?;
    println!("\n{table}");
    println!(
        "results: {} (results.md, results.json, accuracy.svg); total {:.1} s",
        args.out().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
