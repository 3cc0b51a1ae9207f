//! The Free Spoken Digit Dataset (Jakobovski et al., v1.0.10, CC BY-SA 4.0): 3,000 mono 8 kHz 16-bit PCM WAV
//! recordings `recordings/{digit}_{speaker}_{index}.wav`, six speakers saying each digit 50 times. The dataset's
//! own split: indices 0-4 are the test set, 5-49 the training set. Decoded with `hound`, each recording padded
//! with zeros at its end, or cut at its end, to one second (8,000 samples; 20 of the 3,000 are longer).

use crate::error::DataError;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The speakers, in the order tables list them.
pub const SPEAKERS: [&str; 6] = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"];
/// Samples per second of every recording.
pub const SAMPLE_RATE: u32 = 8000;
/// The fixed duration every recording is padded or cut to: one second.
pub const SAMPLES: usize = 8000;
/// Recordings with an index below this are the dataset's test set.
pub const TEST_INDICES: u32 = 5;

/// One recording: its digit, speaker (index into [`SPEAKERS`]), take (0-49) and samples in [-1, 1), padded or
/// cut to [`SAMPLES`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub digit: u8,
    pub speaker: usize,
    pub index: u32,
    pub samples: Vec<f32>,
}

impl Recording {
    /// Whether the recording is in the dataset's test split (takes 0-4).
    pub fn is_test(&self) -> bool {
        self.index < TEST_INDICES
    }
}

/// The index of `name` in [`SPEAKERS`], or an error listing them.
pub fn speaker(name: &str) -> Result<usize, DataError> {
    SPEAKERS
        .iter()
        .position(|s| *s == name)
        .ok_or_else(|| DataError::Invalid {
            what: "FSDD speaker".into(),
            msg: format!("unknown speaker `{name}` (known: {})", SPEAKERS.join(", ")),
        })
}

/// `(digit, speaker, index)` from a file name `{digit}_{speaker}_{index}.wav`, or an error naming the file.
pub fn parse_name(path: &Path) -> Result<(u8, usize, u32), DataError> {
    let bad = |why: &str| {
        DataError::format(
            path,
            format!("not an FSDD recording name ({{digit}}_{{speaker}}_{{index}}.wav): {why}"),
        )
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("not UTF-8"))?;
    let stem = name.strip_suffix(".wav").ok_or_else(|| bad("no .wav extension"))?;
    let parts: Vec<&str> = stem.split('_').collect();
    let [digit, who, index] = parts[..] else {
        return Err(bad("expected three fields separated by `_`"));
    };
    let digit: u8 = digit
        .parse()
        .ok()
        .filter(|d| *d < 10)
        .ok_or_else(|| bad("the digit is not 0-9"))?;
    let index: u32 = index.parse().map_err(|_| bad("the index is not a number"))?;
    let speaker = speaker(who).map_err(|e| bad(&e.to_string()))?;
    Ok((digit, speaker, index))
}

/// The samples of a mono 8 kHz 16-bit PCM WAV file as floats in [-1, 1); a file of another layout, or one whose
/// data ends before its header says, is refused naming it.
pub fn decode(path: &Path) -> Result<Vec<f32>, DataError> {
    let reader = hound::WavReader::open(path).map_err(|e| DataError::format(path, format!("not a WAV file: {e}")))?;
    let spec = reader.spec();
    if spec.channels != 1
        || spec.sample_rate != SAMPLE_RATE
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(DataError::format(
            path,
            format!(
                "expected mono {SAMPLE_RATE} Hz 16-bit PCM, found {} channel(s) at {} Hz, {} bits ({:?})",
                spec.channels, spec.sample_rate, spec.bits_per_sample, spec.sample_format
            ),
        ));
    }
    // hound reads the data chunk's declared length: data that ends before it is an error here.
    let samples: Vec<f32> = reader
        .into_samples::<i16>()
        .map(|s| s.map(|v| f32::from(v) / 32768.0))
        .collect::<Result<_, _>>()
        .map_err(|e| DataError::format(path, format!("truncated or corrupt WAV data: {e}")))?;
    if samples.is_empty() {
        return Err(DataError::format(path, "holds no samples"));
    }
    Ok(samples)
}

/// `samples` padded with zeros at the end, or cut at the end, to `n`.
pub fn fixed_length(mut samples: Vec<f32>, n: usize) -> Vec<f32> {
    samples.resize(n, 0.0);
    samples
}

/// Every recording of an installed `fsdd` folder (`cargo xtask download fsdd`), decoded in parallel and sorted by
/// speaker, digit and take; a file of another name, or one that does not decode, is refused naming it.
pub fn load(folder: &Path) -> Result<Vec<Recording>, DataError> {
    crate::require_complete(folder, "fsdd")?;
    let dir = folder.join("recordings");
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(DataError::io(&dir))? {
        let path = entry.map_err(DataError::io(&dir))?.path();
        paths.push(path);
    }
    let mut recordings: Vec<Recording> = paths
        .par_iter()
        .map(|path| {
            let (digit, speaker, index) = parse_name(path)?;
            Ok(Recording {
                digit,
                speaker,
                index,
                samples: fixed_length(decode(path)?, SAMPLES),
            })
        })
        .collect::<Result<_, DataError>>()?;
    recordings.sort_by_key(|r| (r.speaker, r.digit, r.index));
    if let Some(w) = recordings
        .windows(2)
        .find(|w| (w[0].speaker, w[0].digit, w[0].index) == (w[1].speaker, w[1].digit, w[1].index))
    {
        return Err(DataError::format(
            &dir,
            format!(
                "two recordings of digit {} by {} take {}",
                w[0].digit, SPEAKERS[w[0].speaker], w[0].index
            ),
        ));
    }
    Ok(recordings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(path: &Path, spec: hound::WavSpec, samples: &[i16]) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    const MONO: hound::WavSpec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };

    #[test]
    fn names_parse_into_digit_speaker_and_take_and_bad_names_are_refused() {
        assert_eq!(parse_name(Path::new("r/7_theo_12.wav")).unwrap(), (7, 4, 12));
        for (name, says) in [
            ("7_theo.wav", "three fields"),
            ("12_theo_1.wav", "digit is not 0-9"),
            ("7_bob_1.wav", "unknown speaker `bob` (known: george, jackson"),
            ("7_theo_x.wav", "index is not a number"),
            ("7_theo_1.mp3", "no .wav extension"),
        ] {
            let e = parse_name(Path::new(name)).unwrap_err().to_string();
            assert!(e.starts_with(name) && e.contains(says), "{name}: {e}");
        }
    }

    #[test]
    fn a_wav_decodes_to_scaled_samples_and_pads_or_cuts_to_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0_george_0.wav");
        wav(&p, MONO, &[0, 16384, -32768, 32767]);
        assert_eq!(decode(&p).unwrap(), vec![0.0, 0.5, -1.0, 32767.0 / 32768.0]);
        assert_eq!(fixed_length(vec![1.0, 2.0], 4), vec![1.0, 2.0, 0.0, 0.0]);
        assert_eq!(fixed_length(vec![1.0, 2.0, 3.0], 2), vec![1.0, 2.0]);
    }

    #[test]
    fn stereo_other_rates_truncated_and_non_wav_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let stereo = dir.path().join("stereo.wav");
        wav(&stereo, hound::WavSpec { channels: 2, ..MONO }, &[1, 2, 3, 4]);
        let rate = dir.path().join("rate.wav");
        wav(
            &rate,
            hound::WavSpec {
                sample_rate: 16000,
                ..MONO
            },
            &[1, 2],
        );
        let truncated = dir.path().join("truncated.wav");
        wav(&truncated, MONO, &[1; 100]);
        let bytes = std::fs::read(&truncated).unwrap();
        std::fs::write(&truncated, &bytes[..bytes.len() - 51]).unwrap();
        let text = dir.path().join("text.wav");
        std::fs::write(&text, "not audio").unwrap();
        let empty = dir.path().join("empty.wav");
        wav(&empty, MONO, &[]);
        for (path, says) in [
            (
                &stereo,
                "expected mono 8000 Hz 16-bit PCM, found 2 channel(s) at 8000 Hz",
            ),
            (&rate, "found 1 channel(s) at 16000 Hz"),
            (&truncated, "truncated"),
            (&text, "not a WAV file"),
            (&empty, "holds no samples"),
        ] {
            let e = decode(path).unwrap_err().to_string();
            assert!(e.starts_with(&path.display().to_string()) && e.contains(says), "{e}");
        }
    }

    #[test]
    fn a_folder_loads_sorted_and_refuses_what_is_not_a_recording() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("recordings");
        std::fs::create_dir(&rec).unwrap();
        assert!(load(dir.path())
            .unwrap_err()
            .to_string()
            .contains("cargo xtask download fsdd"));
        std::fs::write(dir.path().join(shift_fetch::install::MARKER), "{}").unwrap();
        wav(&rec.join("3_theo_7.wav"), MONO, &[100; 10]);
        wav(&rec.join("1_george_2.wav"), MONO, &[200; 9000]);
        let all = load(dir.path()).unwrap();
        assert_eq!(
            all.iter()
                .map(|r| (r.digit, r.speaker, r.index, r.is_test()))
                .collect::<Vec<_>>(),
            [(1, 0, 2, true), (3, 4, 7, false)]
        );
        assert!(all.iter().all(|r| r.samples.len() == SAMPLES));
        assert_eq!(all[1].samples[9..12], [100.0 / 32768.0, 0.0, 0.0][..]);
        std::fs::write(rec.join("notes.txt"), "x").unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("notes.txt") && e.contains("not an FSDD recording name"),
            "{e}"
        );
    }
}
