//! Sweeps: a grid file (tasks x methods x seeds x values of any configuration key) expanded into jobs, each in a
//! folder named by the hash of its configuration with a `done` marker written last (DomainBed's bookkeeping,
//! Gulrajani & Lopez-Paz, ICLR 2021); launched as processes side by side on this machine or as one Slurm job
//! array; status, resubmission of what is not done, and one collected table.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("grid.toml");
//! std::fs::write(&file, r#"
//! tasks = ["mnist:mnist-m"]
//! methods = ["source-only", "dann"]
//! seeds = [0, 1, 2]
//! [grid]
//! "train.lr.lr0" = [0.01, 0.003]
//! "#)?;
//! let sweep = shift_sweep::Sweep::load(&file, None)?;
//! assert_eq!(sweep.jobs.len(), 2 * 2 * 3);
//! assert_eq!(sweep.jobs[0].setting_label(), "train.lr.lr0=0.01");
//! # anyhow::Ok(())
//! ```

pub mod collect;
pub mod folder;
pub mod grid;
pub mod launch;
pub mod runner;
pub mod slurm;
pub mod status;

pub use grid::{Job, Sweep};
pub use launch::{launch, LaunchOptions, Launched, Launcher};
pub use runner::{JobEnd, Runner};
