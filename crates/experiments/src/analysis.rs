//! What adaptation did to the features of a finished digit run: its final network loaded from the run folder,
//! the features of seeded samples of the MNIST and MNIST-M test sets, the proxy A-distance between them and
//! their t-SNE embedding (both as Ganin et al., JMLR 2016, use them). A method that keeps a source encoder apart
//! (ADDA) maps the source sample with it, since that is what it aligns.

use crate::config::load_experiment;
use crate::plot::{Point, Scatter};
use crate::run_folder::{RunFolder, RunResult};
use crate::selection::sample;
use crate::tasks::Task;
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
    /// The network that maps the source domain where the method keeps one apart from the target's (ADDA's frozen
    /// source encoder before the same classifier); None where `net` maps both.
    pub source_net: Option<Box<dyn AdaptNet>>,
}

/// The model state of the network that maps the source domain, where the checkpoint `state` keeps a source
/// encoder apart (ADDA): the source encoder's variables in place of `model.features.*`, every other variable as
/// it is. None where the checkpoint has no source encoder.
pub fn source_encoder_state(state: &[(String, Tensor)]) -> Option<Vec<(String, Tensor)>> {
    let prefix = format!("model.{}", shift_strategies::methods::adda::SOURCE_ENCODER_PREFIX);
    let features = format!("model.{}.", shift_models::FEATURES);
    if !state.iter().any(|(k, _)| k.starts_with(&prefix)) {
        return None;
    }
    let renamed = state.iter().filter_map(|(k, t)| match k.strip_prefix(&prefix) {
        Some(rest) => Some((format!("{features}{rest}"), t.shallow_clone())),
        None if k.starts_with(&features) => None,
        None => Some((k.clone(), t.shallow_clone())),
    });
    Some(renamed.collect())
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
    if !task.feature_analyses() {
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
    let source_net = match source_encoder_state(&state) {
        Some(source_state) => {
            let source_net = cfg.digit_backbone()?.build(device);
            shift_strategies::load_model_state(&source_net, &source_state).with_context(|| {
                format!(
                    "{}: the checkpoint's source encoder does not fit the digit net",
                    folder.checkpoint().display()
                )
            })?;
            Some(source_net)
        }
        None => None,
    };
    Ok(FinishedRun {
        dir: dir.to_path_buf(),
        result,
        net,
        source_net,
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
pub fn run_a_distance(run: &FinishedRun, samples: &TestSamples) -> crate::a_distance::ADistance {
    let (s, t) = features(run, samples);
    crate::a_distance::proxy_a_distance(&s, &t, SEED)
}

/// The features of both samples, as doubles: the source sample's under the run's source network where it keeps
/// one (ADDA: what it aligns is its source encoder's source features with its target encoder's target
/// features), the target sample's under its network.
pub fn features(run: &FinishedRun, samples: &TestSamples) -> (Tensor, Tensor) {
    let f = |net: &dyn AdaptNet, x: &Tensor| evaluate::outputs(net, x, 1000).0.to_kind(Kind::Double);
    let source_net = run.source_net.as_deref().unwrap_or(run.net.as_ref());
    (f(source_net, &samples.source.0), f(run.net.as_ref(), &samples.target.0))
}

/// The t-SNE figure of `runs` (one panel each, in order) on the test samples: colour by domain, glyph by class.
pub fn tsne_scatter(runs: &[FinishedRun], samples: &TestSamples, settings: &TsneSettings) -> Result<Scatter> {
    let labels = |t: &Tensor| Vec::<i64>::try_from(t).context("reading the test labels");
    let (ys, yt) = (labels(&samples.source.1)?, labels(&samples.target.1)?);
    let mut panels = Vec::new();
    for run in runs {
        let (s, t) = features(run, samples);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_network_takes_the_source_encoder_in_place_of_the_features() {
        let t = |v: f64| Tensor::from(v);
        let state = vec![
            ("model.features.0.weight".to_string(), t(1.0)),
            ("model.classifier.0.weight".to_string(), t(2.0)),
            ("model.discriminator.source_encoder.0.weight".to_string(), t(3.0)),
            ("model.discriminator.critic.0.weight".to_string(), t(4.0)),
            ("opt.encoder.features.0.weight.exp_avg".to_string(), t(5.0)),
        ];
        let source = source_encoder_state(&state).expect("a source encoder");
        let read: Vec<(&str, f64)> = source.iter().map(|(k, v)| (k.as_str(), v.double_value(&[]))).collect();
        assert_eq!(
            read,
            [
                ("model.classifier.0.weight", 2.0),
                ("model.features.0.weight", 3.0),
                ("model.discriminator.critic.0.weight", 4.0),
                ("opt.encoder.features.0.weight.exp_avg", 5.0),
            ]
        );
        assert!(
            source_encoder_state(&state[..2]).is_none(),
            "no source encoder: one network"
        );
    }
}
