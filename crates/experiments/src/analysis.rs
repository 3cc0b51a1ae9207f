//! What adaptation did to the features of a finished digit run: its final network loaded from the run folder,
//! the features of seeded samples of the MNIST and MNIST-M test sets, the proxy A-distance between them and
//! their t-SNE embedding (both as Ganin et al., JMLR 2016, use them).

use crate::config::{load_experiment, Task};
use crate::plot::{Point, Scatter};
use crate::run_folder::{RunFolder, RunResult};
use crate::selection::sample;
use crate::tsne::{self, TsneSettings};
use anyhow::{bail, Context, Result};
use shift_data::{Digits, Mnist, MnistM};
use shift_models::AdaptNet;
use shift_strategies::evaluate;
use shift_tensor::tch::{Device, Kind, Tensor};
use std::path::{Path, PathBuf};

/// A finished digit run: its folder, its result and its final network.
#[derive(Debug)]
pub struct FinishedRun {
    pub dir: PathBuf,
    pub result: RunResult,
    pub net: Box<dyn AdaptNet>,
}

/// The run in `dir` (`<out>/mnist-mnistm/<method>/seed<N>/`), its network as the last epoch left it. Errors name
/// the folder: not a run folder, another task's run, a run that has not finished.
pub fn load_run(dir: &Path, device: Device) -> Result<FinishedRun> {
    let folder = RunFolder { dir: dir.to_path_buf() };
    let config = dir.join("config.json");
    if !config.is_file() {
        bail!("{}: not a run folder (no config.json)", dir.display());
    }
    let cfg = load_experiment(&config)?;
    let task = Task::parse(&cfg.task)?;
    if task != Task::MnistToMnistM {
        bail!(
            "{}: a {} run; the feature analyses cover MNIST -> MNIST-M runs",
            dir.display(),
            task.slug()
        );
    }
    let Some(result) = folder.result()? else {
        bail!(
            "{}: the run has not finished (no result.json); finish it with --resume first",
            dir.display()
        );
    };
    let net = cfg.digit_backbone()?.build(device);
    let state = shift_tensor::load_named(&folder.checkpoint())?;
    shift_strategies::load_model_state(&net, &state).with_context(|| {
        format!(
            "{}: the checkpoint does not hold the digit net",
            folder.checkpoint().display()
        )
    })?;
    Ok(FinishedRun {
        dir: dir.to_path_buf(),
        result,
        net,
    })
}

/// Seeded samples of the two test sets, the same for every run: `n` MNIST and `n` MNIST-M test images (all of a
/// set where it has fewer).
#[derive(Debug)]
pub struct TestSamples {
    pub source: (Tensor, Tensor),
    pub target: (Tensor, Tensor),
}

impl TestSamples {
    /// From the data folder (`mnist/`, `mnist_m/`); `seed` fixes the samples.
    pub fn load(data: &Path, n: usize, seed: u64, device: Device) -> Result<Self> {
        let mnist = Mnist::load(&data.join("mnist"))?;
        let mnist_m = MnistM::load(&data.join("mnist_m"))?;
        Self::from_sets(&mnist.test, &mnist_m.test, n, seed, device)
    }

    /// From the two test sets already loaded.
    pub fn from_sets(source: &Digits, target: &Digits, n: usize, seed: u64, device: Device) -> Result<Self> {
        let pick = |d: &Digits, salt| d.select(&sample(d.len(), n, seed, salt)).to_tensors(device);
        Ok(Self {
            source: pick(source, 3)?,
            target: pick(target, 4)?,
        })
    }
}

/// The samples' size and seed in the experiment's table and in `shift analyse`: 2,000 of each test set, as the
/// t-SNE figure of Ganin et al. uses.
pub const POINTS: usize = 2000;
pub const SEED: u64 = 0;

/// The proxy A-distance of a finished run's final features on the test samples.
pub fn run_a_distance(net: &dyn AdaptNet, samples: &TestSamples) -> crate::a_distance::ADistance {
    let (s, t) = features(net, samples);
    crate::a_distance::proxy_a_distance(&s, &t, SEED)
}

/// The features of both samples under `net` (rows: the source sample, then the target sample), as doubles.
pub fn features(net: &dyn AdaptNet, samples: &TestSamples) -> (Tensor, Tensor) {
    let f = |x: &Tensor| evaluate::outputs(net, x, 1000).0.to_kind(Kind::Double);
    (f(&samples.source.0), f(&samples.target.0))
}

/// The t-SNE figure of `runs` (one panel each, in order) on the test samples: colour by domain, glyph by class.
pub fn tsne_scatter(runs: &[FinishedRun], samples: &TestSamples, settings: &TsneSettings) -> Result<Scatter> {
    let labels = |t: &Tensor| Vec::<i64>::try_from(t).context("reading the test labels");
    let (ys, yt) = (labels(&samples.source.1)?, labels(&samples.target.1)?);
    let mut panels = Vec::new();
    for run in runs {
        let (s, t) = features(&run.net, samples);
        let e = tsne::embed(&Tensor::cat(&[s, t], 0), settings)
            .with_context(|| format!("t-SNE of {}", run.dir.display()))?;
        let points = e
            .iter()
            .zip(ys.iter().chain(&yt))
            .enumerate()
            .map(|(i, (p, &c))| Point {
                x: p[0],
                y: p[1],
                group: usize::from(i >= ys.len()),
                class: c as u8,
            })
            .collect();
        let r = &run.result;
        panels.push((
            format!("{} seed {} (target acc {:.4})", r.method, r.seed, r.target_acc),
            points,
        ));
    }
    Ok(Scatter {
        title: format!("t-SNE of the final features, {} test images per domain", ys.len()),
        groups: vec!["MNIST".into(), "MNIST-M".into()],
        panels,
    })
}
