//! The `shift` binary: transfer learning and domain adaptation experiments on libtorch.

mod analyse;
mod bench;
mod bench_train;
mod bench_zero_shot;
mod data;
mod experiment;
mod info;
mod report;
mod sweep;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "shift",
    version,
    about = "Transfer learning and domain adaptation (DANN, fine-tuning) on libtorch"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Versions, CUDA and cuDNN availability, devices and threads.
    Info(info::InfoArgs),
    /// Data-set work that needs shift's loaders: `rebuild-mnist-m` (MNIST-M from MNIST + BSDS500).
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Experiments: `dann` (the adaptation methods on a task; results beside the published numbers), `finetune`
    /// (pretrain, then fine-tune on k labelled target images per class under freeze policies), `zero-shot`
    /// (digits never seen in training, from their attributes).
    #[command(subcommand)]
    Experiment(Box<ExperimentCommand>),
    /// Benchmarks that print a table: `data` (loading, MNIST-M rebuild, the image pipeline), `train` (any
    /// method's train step, steps/s).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// What adaptation did to the features of finished runs: `tsne` (a PNG), `a-distance`.
    #[command(subcommand)]
    Analyse(analyse::AnalyseCommand),
    /// Reports over finished runs: `results` (the results table of the runs given), `validators` (ranks the
    /// label-free validators against target accuracy).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Grids of tasks x methods x seeds x settings: launch (locally or as a Slurm job array), status,
    /// resubmit, collect.
    #[command(subcommand)]
    Sweep(sweep::SweepCommand),
}

#[derive(Debug, Subcommand)]
enum ExperimentCommand {
    /// MNIST -> MNIST-M (or Office-31, or your image folders): the registry's methods (source-only, DANN, CDAN,
    /// ...) over seeds.
    Dann(experiment::DannArgs),
    /// Pretrain on MNIST, fine-tune on k labelled MNIST-M images per class under freeze policies.
    Finetune(experiment::FinetuneArgs),
    /// Recognise digits never seen in training from their seven-segment codes (DAP and ESZSL), on MNIST and
    /// MNIST-M.
    ZeroShot(experiment::ZeroShotArgs),
    /// Two tasks of one input, MultiMNIST's left and right digit, under each weighting of the tasks (equal,
    /// uncertainty, MGDA-UB, PCGrad) and the single-task baseline.
    Multitask(experiment::MultitaskArgs),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Data loading, MNIST-M rebuild and image pipeline throughput.
    Data(bench::BenchDataArgs),
    /// The train step of any registered method (`--methods`; DANN by default) on a backbone: steps/s and
    /// images/s (`cargo xtask bench train` sets them beside the PyTorch peers).
    Train(bench_train::BenchTrainArgs),
    /// The zero-shot methods' fits and scoring (DAP, ESZSL) at the digit experiment's size, on the CPU.
    ZeroShot(bench_zero_shot::BenchZeroShotArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SHIFT_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let cli = Cli::parse();
    // Before the first tensor: freed CPU tensor memory stays in the process (shift_tensor::cpu_heap).
    if let Err(e) = shift_tensor::keep_freed_memory() {
        tracing::warn!("CPU heap left at malloc's defaults: {e}");
    }
    let result = match cli.command {
        Command::Info(args) => info::run(args),
        Command::Data(cmd) => data::run(cmd).map(|()| std::process::ExitCode::SUCCESS),
        Command::Experiment(e) => match *e {
            ExperimentCommand::Dann(args) => experiment::run(args).map(|()| std::process::ExitCode::SUCCESS),
            ExperimentCommand::Finetune(args) => {
                experiment::run_finetune(args).map(|()| std::process::ExitCode::SUCCESS)
            }
            ExperimentCommand::ZeroShot(args) => {
                experiment::run_zero_shot(args).map(|()| std::process::ExitCode::SUCCESS)
            }
            ExperimentCommand::Multitask(args) => {
                experiment::run_multitask(args).map(|()| std::process::ExitCode::SUCCESS)
            }
        },
        Command::Bench(BenchCommand::Data(args)) => bench::run_data(args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Train(args)) => bench_train::run(args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Bench(BenchCommand::ZeroShot(args)) => {
            bench_zero_shot::run(args).map(|()| std::process::ExitCode::SUCCESS)
        }
        Command::Sweep(cmd) => sweep::run(cmd),
        Command::Analyse(cmd) => analyse::run(cmd).map(|()| std::process::ExitCode::SUCCESS),
        Command::Report(cmd) => report::run(cmd).map(|()| std::process::ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
