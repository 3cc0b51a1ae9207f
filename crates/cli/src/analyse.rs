//! `shift analyse tsne|a-distance RUN...`: what adaptation did to the features of finished MNIST -> MNIST-M runs.

use anyhow::Result;
use clap::{Args, Subcommand};
use shift_experiments::analysis::{self, TestSamples};
use shift_experiments::run_folder::write_atomic;
use shift_experiments::tsne::TsneSettings;
use shift_tensor::tch::Device;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum AnalyseCommand {
    /// t-SNE of the final features of test images from both domains, one panel per run, as a PNG (the figure of
    /// Ganin et al., JMLR 2016): colour by domain, glyph by class.
    Tsne(TsneArgs),
    /// The proxy A-distance between the final features of the two domains' test images, per run.
    ADistance(ADistanceArgs),
}

#[derive(Debug, Args)]
pub struct Common {
    /// Finished run folders (`<out>/mnist-mnistm/<method>/seed<N>`).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The data folder (mnist/ and mnist_m/, from `cargo xtask download`).
    #[arg(long, default_value = "datasets")]
    pub data: PathBuf,
    /// Test images of each domain (a seeded sample; all of a set where it has fewer).
    #[arg(long, default_value_t = analysis::POINTS)]
    pub points: usize,
}

#[derive(Debug, Args)]
pub struct TsneArgs {
    #[command(flatten)]
    pub common: Common,
    /// The PNG to write.
    #[arg(long, default_value = "tsne.png")]
    pub out: PathBuf,
    /// t-SNE perplexity.
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f64,
    /// t-SNE iterations.
    #[arg(long, default_value_t = 1000)]
    pub epochs: usize,
}

#[derive(Debug, Args)]
pub struct ADistanceArgs {
    #[command(flatten)]
    pub common: Common,
    /// Also write the numbers as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(cmd: AnalyseCommand) -> Result<()> {
    match cmd {
        AnalyseCommand::Tsne(a) => tsne_figure(a),
        AnalyseCommand::ADistance(a) => a_distance(a),
    }
}

fn samples(c: &Common) -> Result<TestSamples> {
    if c.points < 2 {
        anyhow::bail!("--points {}: give at least 2 test images per domain", c.points);
    }
    TestSamples::load(&c.data, c.points, analysis::SEED, Device::Cpu)
}

fn tsne_figure(a: TsneArgs) -> Result<()> {
    let samples = samples(&a.common)?;
    let settings = TsneSettings {
        perplexity: a.perplexity,
        epochs: a.epochs,
        ..Default::default()
    };
    let runs = a
        .common
        .runs
        .iter()
        .map(|dir| analysis::load_run(dir, Device::Cpu))
        .collect::<Result<Vec<_>>>()?;
    let t0 = std::time::Instant::now();
    let scatter = analysis::tsne_scatter(&runs, &samples, &settings)?;
    eprintln!(
        "shift: t-SNE of {} runs in {:.1}s",
        runs.len(),
        t0.elapsed().as_secs_f64()
    );
    scatter.png(&a.out)?;
    println!("{}", a.out.display());
    Ok(())
}

fn a_distance(a: ADistanceArgs) -> Result<()> {
    let samples = samples(&a.common)?;
    let mut table =
        String::from("| run | target acc | proxy A-distance | domain classifier error |\n|---|---|---|---|\n");
    let mut rows = Vec::new();
    for dir in &a.common.runs {
        let run = analysis::load_run(dir, Device::Cpu)?;
        let d = analysis::run_a_distance(&run, &samples);
        let r = &run.result;
        let _ = writeln!(
            table,
            "| {} seed {} | {:.4} | {:.3} | {:.4} |",
            r.method, r.seed, r.target_acc, d.pad, d.error
        );
        rows.push(serde_json::json!({
            "run": dir, "method": r.method, "seed": r.seed, "target_acc": r.target_acc,
            "proxy_a_distance": d.pad, "error": d.error,
        }));
    }
    print!("{table}");
    if let Some(path) = a.json {
        write_atomic(&path, &serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}
