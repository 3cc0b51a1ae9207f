//! The spoken digits' runs of `shift experiment dann` (the Free Spoken Digit Dataset, leave one speaker out):
//! every recording's log-mel spectrogram on the device, each target speaker's split (the other five speakers'
//! training takes labelled, the target's training takes unlabelled, its test takes to test), one run per method
//! and seed of the audio CNN through the one run driver; and the table over the six target speakers.

use crate::report::{mean_std, mean_std_cell, per_seed_mean};
use crate::run_folder::RunResult;
use crate::table::Table;
use crate::tensor_runs::{self, Pair, TensorData};
use crate::{config::ExperimentConfig, Invocation};
use anyhow::{Context, Result};
use shift_data::fsdd::{self, SPEAKERS};
use shift_data::log_mel::LogMel;
use shift_models::audio_cnn::AudioCnn;
use shift_strategies::MethodName;
use shift_tensor::tch::{Device, Kind, Tensor};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Recordings per front-end batch.
const BATCH: usize = 500;

/// Every recording as a log-mel spectrogram (`[3000, 40, 101]`, on the device), with its digit, speaker and
/// split.
#[derive(Debug)]
pub struct Spectrograms {
    pub x: Tensor,
    pub digits: Tensor,
    pub speakers: Vec<usize>,
    pub test: Vec<bool>,
}

/// How long the two halves of [`load`] took.
#[derive(Debug, Clone, Copy)]
pub struct LoadTimes {
    pub decode: f64,
    pub front_end: f64,
}

/// Decodes every recording of `data/fsdd` and computes its log-mel spectrogram on `device`, in batches.
pub fn load(data: &Path, device: Device) -> Result<(Spectrograms, LoadTimes)> {
    let started = Instant::now();
    let recordings = fsdd::load(&data.join("fsdd"))?;
    let decode = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut parts = Vec::new();
    for chunk in recordings.chunks(BATCH) {
        let flat: Vec<f32> = chunk.iter().flat_map(|r| r.samples.iter().copied()).collect();
        let waves = Tensor::from_slice(&flat)
            .view([chunk.len() as i64, fsdd::SAMPLES as i64])
            .to_device(device);
        parts.push(LogMel::FSDD.forward(&waves)?);
    }
    let x = Tensor::cat(&parts, 0);
    let digits: Vec<i64> = recordings.iter().map(|r| i64::from(r.digit)).collect();
    let spectrograms = Spectrograms {
        digits: Tensor::from_slice(&digits).to_device(device),
        speakers: recordings.iter().map(|r| r.speaker).collect(),
        test: recordings.iter().map(|r| r.is_test()).collect(),
        x,
    };
    // One read back, so the time counts the device's work.
    let _ = spectrograms.x.sum(Kind::Float).double_value(&[]);
    let front_end = started.elapsed().as_secs_f64();
    Ok((spectrograms, LoadTimes { decode, front_end }))
}

/// One target speaker's data, each input normalised per mel band by the mean and standard deviation of the
/// labelled source recordings' frames (the same for every split, so no target statistic is read).
#[derive(Debug)]
pub struct SpeakerSplit {
    /// The other five speakers' training takes, labelled.
    pub source: Pair,
    /// The target speaker's training takes (labels read only by target-only).
    pub target: Pair,
    /// The target speaker's test takes.
    pub test: Pair,
    /// All 500 of the target speaker's recordings (reported apart, labelled as such).
    pub all: Pair,
}

/// The split of `target` (an index into [`SPEAKERS`]); a split left empty (a folder without the speaker's
/// recordings of one kind) is refused, naming the speaker and what is missing.
pub fn split(s: &Spectrograms, target: usize) -> Result<SpeakerSplit> {
    let device = s.x.device();
    let pick = |what: &str, keep: &dyn Fn(usize) -> bool| -> Result<Pair> {
        let ix: Vec<i64> = (0..s.speakers.len()).filter(|&i| keep(i)).map(|i| i as i64).collect();
        if ix.is_empty() {
            anyhow::bail!(
                "fsdd {}: no {what} among the installed recordings (takes 0-4 are the test split, 5-49 training)",
                SPEAKERS[target]
            );
        }
        let ix = Tensor::from_slice(&ix).to_device(device);
        Ok((s.x.index_select(0, &ix), s.digits.index_select(0, &ix)))
    };
    let source = pick("training takes of the other speakers", &|i| {
        s.speakers[i] != target && !s.test[i]
    })?;
    // Per band over every source recording and frame: [1, 40, 1].
    let mean = source.0.mean_dim([0, 2].as_slice(), true, Kind::Float);
    let std = source.0.std_dim([0, 2].as_slice(), false, true) + 1e-5;
    let norm = |p: Pair| ((p.0 - &mean) / &std, p.1);
    Ok(SpeakerSplit {
        target: norm(pick("training takes", &|i| s.speakers[i] == target && !s.test[i])?),
        test: norm(pick("test takes", &|i| s.speakers[i] == target && s.test[i])?),
        all: norm(pick("recordings", &|i| s.speakers[i] == target)?),
        source: norm(source),
    })
}

/// The folder name of a target speaker's runs: `fsdd-theo`.
pub fn slug(target: usize) -> String {
    format!("fsdd-{}", SPEAKERS[target])
}

/// Every method and seed of `cfg` with `target` held out, in `out/fsdd-<speaker>/`; None when interrupted.
pub fn run_speaker(
    at: &Invocation,
    cfg: &ExperimentConfig,
    split: &SpeakerSplit,
    target: usize,
    device: Device,
    stop: &AtomicBool,
) -> Result<Option<Vec<RunResult>>> {
    let (source, target_pair, test) = (&split.source, &split.target, &split.test);
    let copy = |p: &Pair| (p.0.shallow_clone(), p.1.shallow_clone());
    let data = TensorData::new(source, copy(target_pair), copy(test), &cfg.validation, device)?;
    eprintln!(
        "shift: fsdd {}: {} labelled recordings of the other five speakers ({} held out for the validators), {} \
         unlabelled training takes of {}, {} test takes",
        SPEAKERS[target],
        data.train.0.size()[0],
        data.validation.as_ref().map_or(0, |v| v.source_split.0.size()[0]),
        data.target.0.size()[0],
        SPEAKERS[target],
        data.test.0.size()[0]
    );
    tensor_runs::run_all(&at.out, &slug(target), cfg, &data, device, stop, at.resume, || {
        Ok(AudioCnn::new(device, 10))
    })
}

/// The accuracy of a finished run's network (its checkpoint, as its last epoch left it) on `all`.
pub fn accuracy_on(run_dir: &Path, all: &Pair, device: Device) -> Result<f64> {
    let path = run_dir.join("checkpoint.pt");
    let named = shift_tensor::load_named(&path).with_context(|| path.display().to_string())?;
    let net = AudioCnn::new(device, 10);
    shift_strategies::load_model_state(&net, &named)
        .with_context(|| format!("{}: not an audio-cnn network", path.display()))?;
    Ok(shift_strategies::evaluate::accuracy(&net, &all.0, &all.1, 1000)?)
}

/// One table cell's values: per method and target speaker, a value per seed.
pub type Cells = Vec<(MethodName, Vec<Vec<f64>>)>;

/// A row per method, a column per target speaker (mean +- std over seeds), and the average over the speakers
/// (the mean +- std over seeds of each seed's average).
pub fn table(title: &str, speakers: &[usize], cells: &Cells) -> Table {
    let mut headers = vec!["method".to_string()];
    headers.extend(speakers.iter().map(|&s| SPEAKERS[s].to_string()));
    headers.push("average".into());
    let rows = cells
        .iter()
        .map(|(method, per_speaker)| {
            let mut row = vec![method.to_string()];
            for values in per_speaker {
                let (m, s) = mean_std(values);
                row.push(mean_std_cell(m, s, values.len()));
            }
            let per_seed = per_seed_mean(per_speaker);
            let (m, s) = mean_std(&per_seed);
            row.push(mean_std_cell(m, s, per_seed.len()));
            row
        })
        .collect();
    Table {
        title: title.into(),
        headers,
        rows,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spectrograms of 6 speakers x 2 recordings (take 0 test, take 7 training), speaker `k`'s bands offset by
    /// `10 k` and scaled by `k + 1`.
    fn spectrograms(target_offset: f64) -> Spectrograms {
        let mut parts = Vec::new();
        let (mut speakers, mut test) = (Vec::new(), Vec::new());
        for k in 0..6 {
            for take_is_test in [true, false] {
                let mut x = Tensor::randn([1, 40, 101], (Kind::Float, Device::Cpu)) * (k + 1) as f64 + 10.0 * k as f64;
                if k == 4 {
                    x += target_offset;
                }
                parts.push(x);
                speakers.push(k);
                test.push(take_is_test);
            }
        }
        Spectrograms {
            x: Tensor::cat(&parts, 0),
            digits: Tensor::arange(12, (Kind::Int64, Device::Cpu)).remainder(10),
            speakers,
            test,
        }
    }

    #[test]
    fn a_split_normalises_by_the_labelled_source_alone_and_refuses_an_empty_part() {
        shift_tensor::seed_everything(0);
        let a = split(&spectrograms(0.0), 4).unwrap();
        shift_tensor::seed_everything(0);
        let b = split(&spectrograms(100.0), 4).unwrap();
        // The target speaker's recordings move; the source, and how it is normalised, do not.
        assert!(a.source.0.equal(&b.source.0));
        assert!((&b.target.0 - &a.target.0).abs().min().double_value(&[]) > 1.0);
        let per_band_mean = a.source.0.mean_dim([0, 2].as_slice(), false, Kind::Float);
        let per_band_std = a.source.0.std_dim([0, 2].as_slice(), false, false);
        assert!(per_band_mean.abs().max().double_value(&[]) < 1e-4);
        assert!((per_band_std - 1.0).abs().max().double_value(&[]) < 1e-3);
        assert_eq!(
            (
                a.source.0.size()[0],
                a.target.0.size()[0],
                a.test.0.size()[0],
                a.all.0.size()[0]
            ),
            (5, 1, 1, 2)
        );
        let mut only_tests = spectrograms(0.0);
        only_tests.test = vec![true; 12];
        let e = split(&only_tests, 4).unwrap_err().to_string();
        assert_eq!(
            e,
            "fsdd theo: no training takes of the other speakers among the installed recordings (takes 0-4 are the \
             test split, 5-49 training)"
        );
    }

    #[test]
    fn the_table_averages_each_seed_over_the_speakers_then_spreads_over_seeds() {
        let cells: Cells = vec![(MethodName::DANN, vec![vec![0.5, 0.7], vec![0.9, 0.9]])];
        let t = table("t", &[0, 4], &cells);
        assert_eq!(t.headers, ["method", "george", "theo", "average"]);
        // Seed 0 averages 0.7, seed 1 0.8: 0.75 +- 0.0707.
        assert_eq!(t.rows[0][0], "dann");
        assert_eq!(t.rows[0][3], mean_std_cell(0.75, (0.005f64).sqrt(), 2));
    }
}
