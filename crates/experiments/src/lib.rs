//! Experiments as a library: configuration (files, validation, saved configs), run folders with checkpoints and
//! `--resume`, tasks as a registry (one file each) on the one run driver, fine-tuning, reports beside the published
//! numbers, and plots. The `shift` binary is the command line over it.

pub mod a_distance;
pub mod adaptation;
pub mod amazon;
pub mod analysis;
pub mod anchors;
pub mod config;
pub mod digits;
pub mod domainbed;
pub mod estimate;
pub mod finetune;
pub mod finetuning;
pub mod fsdd;
pub mod git_stamp;
pub mod moons;
pub mod multitask;
pub mod office;
pub mod page;
pub mod plot;
pub mod ranking;
pub mod report;
pub mod run;
pub mod run_folder;
pub mod selection;
pub mod session;
pub mod table;
pub mod tasks;
pub mod tensor_runs;
pub mod tsne;
pub mod zero_shot;

pub use config::ExperimentConfig;
pub use tasks::Task;

use std::path::PathBuf;

/// Where an experiment reads and writes, and how it was asked to run (what a command line adds to a
/// configuration).
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The data folder (`cargo xtask download` installs into it).
    pub data: PathBuf,
    /// The output folder: one run folder per run, the report at its top.
    pub out: PathBuf,
    /// Continue runs from their checkpoints; reuse finished runs with the same configuration.
    pub resume: bool,
    /// The configuration is the `--quick` form (the time estimate then names no shorter form).
    pub quick: bool,
}
