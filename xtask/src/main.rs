//! `cargo xtask`: one module per subcommand, each with a `run`. Depends on no libtorch crate, so it works
//! before libtorch is installed (it is what installs it).

mod bench;
mod cmd;
mod convert_weights;
mod download;
mod experiment;
#[cfg(test)]
mod module_graph;
mod python;
mod setup;
mod sweep;
mod test;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "shift's project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install libtorch 2.11.0 from PyPI into .venv and link .libtorch (skipped when present or LIBTORCH is set).
    Setup,
    /// Download and verify data sets (mnist, mnist-m, bsds500, office31, all) and weights (resnet50-imagenet)
    /// from a mirror or their sources.
    Download(download::DownloadArgs),
    /// Convert a PyTorch state_dict (.pth) to the safetensors file `--pretrained` reads.
    ConvertWeights(convert_weights::ConvertArgs),
    /// Run an experiment: `dann` (MNIST -> MNIST-M by default) or `finetune`. Flags go to `shift experiment`.
    Experiment {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Benchmarks that print a table: `data` (loading, rebuild, image pipeline), `train` (a train step beside
    /// its PyTorch peer), `zero-shot` (the zero-shot methods beside PyTorch).
    Bench(bench::BenchArgs),
    /// A sweep: `cargo xtask sweep FILE.toml` launches it (`--launcher local|slurm`); `status`, `resubmit`,
    /// `collect` FILE. Flags go to `shift sweep`.
    Sweep {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Everything CI runs: setup, cargo fmt --check, clippy -D warnings, cargo test --workspace.
    Test,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup => setup::run().map(|_| ()),
        Command::Test => test::run(),
        Command::Download(args) => download::run(args),
        Command::ConvertWeights(args) => convert_weights::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Experiment { args } => experiment::run(args),
        Command::Sweep { args } => sweep::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
