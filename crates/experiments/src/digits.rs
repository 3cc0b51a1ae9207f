//! MNIST -> MNIST-M runs of `shift experiment dann`: the data on the device (with the held-out source split and
//! the samples the validators score), one run per method and seed in its folder (fresh, resumed or reused), the
//! streams each method trains on.

use crate::config::{self, ExperimentConfig};
use crate::run::{run_one, run_steps, Run};
use crate::run_folder::{RunFolder, RunResult};
use crate::selection::{self, ValidationConfig};
use crate::{analysis, estimate};
use anyhow::Result;
use shift_data::{DigitBatcher, Digits, Mnist, MnistM};
use shift_strategies::{DigitTask, MethodName, ValidationSet};
use shift_tensor::tch::Device;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// MNIST -> MNIST-M: every method and seed; None when interrupted.
pub fn run(
    data: &Path,
    out: &Path,
    cfg: &ExperimentConfig,
    device: Device,
    stop: &AtomicBool,
    (resume, quick): (bool, bool),
) -> Result<Option<Vec<RunResult>>> {
    let t = Instant::now();
    let mnist = Mnist::load(&data.join("mnist"))?;
    let released = MnistM::load(&data.join("mnist_m"))?;
    // The train split the configuration names; the test split is always the released one.
    let train_m = match cfg.mnist_m {
        config::MnistMTrain::Released => released.train,
        rebuilt => MnistM::load(&data.join(rebuilt.folder()))?.train,
    };
    let limit = |d: &Digits, l: Option<usize>| l.map_or_else(|| d.clone(), |n| d.take(n));
    let (source_train, validation) = validation_data(&mnist.train, &train_m, &cfg.validation, device)?;
    let source = limit(&source_train, cfg.source_limit).to_tensors(device)?;
    let target = limit(&train_m, cfg.target_limit).to_tensors(device)?;
    let test = released.test.to_tensors(device)?;
    let samples =
        analysis::TestSamples::from_sets(&mnist.test, &released.test, analysis::POINTS, analysis::SEED, device)?;
    eprintln!(
        "shift: data on {device:?} in {:.1}s: MNIST train {} -> MNIST-M train {} ({}; labels unused except by \
         target-only), test {} (released)",
        t.elapsed().as_secs_f64(),
        source.0.size()[0],
        target.0.size()[0],
        cfg.mnist_m,
        test.0.size()[0]
    );
    match &validation {
        Some(v) => eprintln!(
            "shift: validators score each epoch on {} held-out MNIST train images (seed {}, never trained on), {} \
             unlabelled MNIST-M train images and {} MNIST train images",
            v.source_split.0.size()[0],
            cfg.validation.seed,
            v.target.size()[0],
            v.source_train.size()[0]
        ),
        None => eprintln!("shift: no validators (validation.source_split = 0)"),
    }
    // The whole experiment's steps, for the estimate in the progress line (and its --quick form's).
    let runs = (cfg.methods.len() * cfg.seeds.len()) as i64;
    let per_run: i64 = cfg
        .methods
        .iter()
        .map(|&m| run_steps(cfg, &digit_task(m, &source, &target, &test, None)))
        .sum::<i64>()
        * cfg.seeds.len() as i64;
    // The quick form's steps, in steps of this configuration's batch (a step's time goes with its batch).
    let short = config::quick(cfg.clone()).train;
    let quick_steps =
        runs * short.epochs as i64 * short.steps_per_epoch.unwrap_or(0) * short.batch / cfg.train.batch.max(1);
    estimate::begin(per_run, (!quick).then_some(quick_steps));
    let mut results = Vec::new();
    for &method in &cfg.methods {
        for &seed in &cfg.seeds {
            let task = digit_task(method, &source, &target, &test, validation.as_ref());
            let folder = RunFolder::new(out, "mnist-mnistm", method.as_str(), seed);
            match run_digits(&folder, cfg, method, seed, device, &task, stop, resume)? {
                Some(r) => results.push(with_a_distance(&folder, r, &samples, device)?),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(results))
}

type Pair = (shift_tensor::tch::Tensor, shift_tensor::tch::Tensor);

/// `r` with its proxy A-distance (computed once from the run's final checkpoint, then kept in its result.json).
fn with_a_distance(
    folder: &RunFolder,
    mut r: RunResult,
    samples: &analysis::TestSamples,
    device: shift_tensor::tch::Device,
) -> Result<RunResult> {
    if r.proxy_a_distance.is_none() {
        let run = analysis::load_run(&folder.dir, device)?;
        r.proxy_a_distance = Some(analysis::run_a_distance(&run, samples).pad);
        folder.write_result(&r)?;
    }
    Ok(r)
}

/// The source training examples left after the held-out split, and what the validators score (None when
/// `validation.source_split` is 0): the split, and seeded samples of the target and the source training images.
pub fn validation_data(
    source: &Digits,
    target: &Digits,
    cfg: &ValidationConfig,
    device: shift_tensor::tch::Device,
) -> Result<(Digits, Option<ValidationSet>)> {
    if !cfg.enabled() {
        return Ok((source.clone(), None));
    }
    let (held, train) = selection::split_source(source.len(), cfg)?;
    let train = source.select(&train);
    let target_sample = target.select(&selection::sample(target.len(), cfg.target_examples, cfg.seed, 1));
    let source_sample = train.select(&selection::sample(train.len(), cfg.source_train_examples, cfg.seed, 2));
    let set = ValidationSet {
        target: target_sample.to_tensors(device)?.0,
        source_split: source.select(&held).to_tensors(device)?,
        source_train: source_sample.to_tensors(device)?.0,
    };
    Ok((train, Some(set)))
}

/// The streams `method` trains on (its registry entry's data needs): labelled source or labelled target, and the
/// unlabelled target for methods that adapt; and what the validators score.
pub fn digit_task(
    method: MethodName,
    source: &Pair,
    target: &Pair,
    test: &Pair,
    validation: Option<&ValidationSet>,
) -> DigitTask {
    let needs = method.data();
    let labelled = if needs.labelled_target { target } else { source };
    let batcher = |t: &Pair| DigitBatcher::new(t.0.shallow_clone(), t.1.shallow_clone());
    DigitTask {
        labelled: batcher(labelled),
        unlabelled: needs.unlabelled_target.then(|| batcher(target)),
        test: (test.0.shallow_clone(), test.1.shallow_clone()),
        validation: validation.map(ValidationSet::shallow_clone),
    }
}

/// One digit run in its folder: the configured backbone (the paper's digit net by default) and step, through the run driver. None when
/// a stop was requested.
#[allow(clippy::too_many_arguments)]
pub fn run_digits(
    folder: &RunFolder,
    cfg: &ExperimentConfig,
    method: MethodName,
    seed: u64,
    device: Device,
    task: &DigitTask,
    stop: &AtomicBool,
    resume: bool,
) -> Result<Option<RunResult>> {
    let run = Run {
        folder,
        cfg,
        method,
        seed,
        device,
        random_init_backbone: false,
    };
    run_one(&run, task, stop, resume, || {
        let (strategy, note) = cfg.step.build(
            cfg.digit_backbone()?.build(device),
            cfg.spec(method)?,
            cfg.train.update(),
        )?;
        if let Some(note) = note {
            eprintln!("shift: {note}");
        }
        Ok(strategy)
    })
}

/// The t-SNE figure of the experiment (`tsne.png` in `out`): source-only, DANN and the method with the best
/// mean last-epoch accuracy among the others that adapt, the first seed of each, where they ran. None (said on
/// stderr) when none of them ran or the test sets are too small for the embedding.
pub fn tsne_figure(
    data: &Path,
    out: &Path,
    runs: &[RunResult],
    device: shift_tensor::tch::Device,
) -> Result<Option<std::path::PathBuf>> {
    let mean = |m: &str| {
        let accs: Vec<f64> = runs.iter().filter(|r| r.method == m).map(|r| r.target_acc).collect();
        accs.iter().sum::<f64>() / accs.len() as f64
    };
    let mut methods: Vec<String> = vec!["source-only".into(), "dann".into()];
    let best = runs
        .iter()
        .map(|r| r.method.clone())
        .filter(|m| !methods.contains(m) && m != "target-only" && !mean(m).is_nan())
        .max_by(|a, b| mean(a).total_cmp(&mean(b)));
    methods.extend(best);
    // Each method's first run that kept its checkpoint (a run copied out without it, such as those under
    // docs/runs, has nothing to embed).
    let folder = |r: &RunResult| RunFolder::new(out, "mnist-mnistm", &r.method, r.seed).dir;
    let chosen: Vec<&RunResult> = methods
        .iter()
        .filter_map(|m| {
            let kept = runs
                .iter()
                .find(|r| &r.method == m && folder(r).join("checkpoint.pt").is_file());
            if kept.is_none() && runs.iter().any(|r| &r.method == m) {
                eprintln!("shift: the t-SNE figure leaves out {m}: none of its run folders holds a checkpoint.pt");
            }
            kept
        })
        .collect();
    if chosen.is_empty() {
        return Ok(None);
    }
    let samples = analysis::TestSamples::load(data, analysis::POINTS, analysis::SEED, device)?;
    let settings = crate::tsne::TsneSettings::default();
    let points = 2 * samples.source.1.size()[0] as usize;
    if (points as f64) < 3.0 * settings.perplexity + 2.0 {
        eprintln!(
            "shift: no t-SNE figure: {points} test images are too few for perplexity {}",
            settings.perplexity
        );
        return Ok(None);
    }
    let finished = chosen
        .iter()
        .map(|r| analysis::load_run(&folder(r), device))
        .collect::<Result<Vec<_>>>()?;
    let path = out.join("tsne.png");
    analysis::tsne_scatter(&finished, &samples, &settings)?.png(&path)?;
    Ok(Some(path))
}
