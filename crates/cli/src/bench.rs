//! `shift bench data`: cold load of MNIST + MNIST-M into tensors, MNIST-M rebuild time, and the image
//! pipeline's throughput with the train transform on 300 x 300 JPEGs; with `--task fsdd`, the spoken digits'
//! WAV decoding and log-mel front end. Prints a table and writes JSON.

use anyhow::{Context, Result};
use clap::Args;
use image::RgbImage;
use shift_data::office31::{list_domain, Domain, CLASSES};
use shift_data::pipeline::ImagePipeline;
use shift_data::transforms::Transform;
use shift_data::{bsds500, Mnist, MnistM};
use shift_tensor::tch::Device;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchDataArgs {
    /// Data folder with mnist/, mnist_m/ and bsds500/ installed.
    #[arg(long, default_value = "datasets")]
    data: PathBuf,
    /// JPEGs per class in the generated Office-31-shaped folder (31 classes).
    #[arg(long, default_value_t = 20)]
    per_class: usize,
    /// Write the results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// What to measure: digits (MNIST, MNIST-M, the image pipeline) or fsdd (the 3,000 recordings of the spoken
    /// digits: decoding and the log-mel front end, twice).
    #[arg(long, value_enum, default_value_t = BenchTask::Digits)]
    task: BenchTask,
    /// `--task fsdd`: where the front end runs (cpu, cuda, auto; default cpu).
    #[arg(long)]
    device: Option<String>,
}

/// What `shift bench data` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchTask {
    Digits,
    Fsdd,
}

struct Row {
    what: String,
    value: f64,
    unit: &'static str,
    target: &'static str,
}

pub fn run_data(args: BenchDataArgs) -> Result<()> {
    let threads = rayon::current_num_threads();
    if args.task == BenchTask::Fsdd {
        return fsdd(&args, threads);
    }
    if args.device.is_some() {
        anyhow::bail!("`--device`: the device of `--task fsdd`'s front end; the digits' measures run on the CPU");
    }
    let mut rows = Vec::new();

    let t = Instant::now();
    let mnist = Mnist::load(&args.data.join("mnist"))?;
    let mnist_m = MnistM::load(&args.data.join("mnist_m"))?;
    for split in [&mnist.train, &mnist.test, &mnist_m.train, &mnist_m.test] {
        let _tensors = split.to_tensors(Device::Cpu)?;
    }
    rows.push(Row {
        what: "cold load MNIST + MNIST-M -> tensors".into(),
        value: t.elapsed().as_secs_f64(),
        unit: "s",
        target: "< 10 s",
    });

    let photos = bsds500::load_train_photos(&args.data.join("bsds500"))?;
    let t = Instant::now();
    let rebuilt = MnistM::rebuild(&mnist, &photos, 0)?;
    rows.push(Row {
        what: "MNIST-M rebuild (68,002 images, in memory)".into(),
        value: t.elapsed().as_secs_f64(),
        unit: "s",
        target: "-",
    });
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    rebuilt.write(dir.path())?;
    rows.push(Row {
        what: "MNIST-M rebuild: write PNG layout".into(),
        value: t.elapsed().as_secs_f64(),
        unit: "s",
        target: "-",
    });

    let root = dir.path().join("office");
    make_jpegs(&root, args.per_class)?;
    let list = list_domain(&root, Domain::Amazon)?;
    let n = list.len();
    let pipe = ImagePipeline::new(list, Transform::Train, 32)?;
    let imgs = (pipe.batches_per_epoch() * 32) as f64;
    let t = Instant::now();
    pipe.epoch(0).try_for_each(|b| b.map(drop))?;
    rows.push(Row {
        what: "pipeline, train transform, 300x300 JPEG".into(),
        value: imgs / t.elapsed().as_secs_f64(),
        unit: "img/s",
        target: ">= 500",
    });
    let cached = pipe.with_cache();
    cached.epoch(0).try_for_each(|b| b.map(drop))?;
    let t = Instant::now();
    cached.epoch(1).try_for_each(|b| b.map(drop))?;
    rows.push(Row {
        what: "pipeline, train transform, cached decode".into(),
        value: imgs / t.elapsed().as_secs_f64(),
        unit: "img/s",
        target: "-",
    });

    print_rows(
        &format!("shift bench data ({threads} threads, {n} generated JPEGs)"),
        &rows,
        threads,
        &args.json,
    )
}

/// The spoken digits' recordings (3,000 in the dataset): decoded with hound (on rayon's threads) and through the
/// log-mel front end (in batches of 500, on `--device`), twice in one process. The first pass reads the files from
/// the disk or, when they were read before, from the page cache; the second always from the page cache.
fn fsdd(args: &BenchDataArgs, threads: usize) -> Result<()> {
    let device = args
        .device
        .as_deref()
        .unwrap_or("cpu")
        .parse::<shift_tensor::DeviceSpec>()?
        .resolve()?;
    let mut rows = Vec::new();
    for pass in ["first pass", "second pass"] {
        let (spectrograms, times) = shift_experiments::fsdd::load(&args.data, device)?;
        let n = spectrograms.speakers.len() as f64;
        let total = times.decode + times.front_end;
        for (what, value, unit, target) in [
            ("decode WAVs", n / times.decode, "rec/s", "-"),
            ("log-mel front end", n / times.front_end, "rec/s", "-"),
            ("every recording, decode + front end", total, "s", "< 10 s"),
        ] {
            rows.push(Row {
                what: format!("fsdd {pass}: {what}"),
                value,
                unit,
                target,
            });
        }
    }
    print_rows(
        &format!("shift bench data --task fsdd ({threads} threads, front end on {device:?})"),
        &rows,
        threads,
        &args.json,
    )
}

fn print_rows(title: &str, rows: &[Row], threads: usize, json: &Option<PathBuf>) -> Result<()> {
    println!("\n{title}\n");
    let w = rows.iter().map(|r| r.what.len()).chain([50]).max().unwrap_or(50);
    println!(
        "| {:<w$} | {:>10} | {:<6} | {:<8} |",
        "measure", "value", "unit", "target"
    );
    println!(
        "|{}|{}|{}|{}|",
        "-".repeat(w + 2),
        "-".repeat(12),
        "-".repeat(8),
        "-".repeat(10)
    );
    for r in rows {
        println!(
            "| {:<w$} | {:>10.2} | {:<6} | {:<8} |",
            r.what, r.value, r.unit, r.target
        );
    }
    if let Some(path) = json {
        let rows: Vec<_> = rows
            .iter()
            .map(|r| serde_json::json!({ "measure": r.what, "value": r.value, "unit": r.unit, "target": r.target }))
            .collect();
        let doc = serde_json::json!({ "threads": threads, "rows": rows });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?).with_context(|| format!("{}", path.display()))?;
    }
    Ok(())
}

/// An Office-31-shaped tree of 300 x 300 JPEGs with photo-like content (smooth gradients and noise).
fn make_jpegs(root: &Path, per_class: usize) -> Result<()> {
    for (c, class) in CLASSES.iter().enumerate() {
        let dir = root.join("amazon/images").join(class);
        std::fs::create_dir_all(&dir)?;
        for k in 0..per_class {
            let seed = (c * 131 + k * 17) as u32;
            let img = RgbImage::from_fn(300, 300, |x, y| {
                let h = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ seed).wrapping_mul(2246822519) >> 27;
                image::Rgb([(x / 2 + h) as u8, (y / 2 + seed) as u8, ((x + y) / 3 + h) as u8])
            });
            img.save(dir.join(format!("img_{k:03}.jpg")))?;
        }
    }
    Ok(())
}
