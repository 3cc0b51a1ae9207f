//! A log-mel spectrogram front end on libtorch, batched on the device: the power of a centred, reflect-padded
//! short-time Fourier transform under a periodic Hann window, a triangular mel filterbank on the HTK mel scale
//! (`2595 log10(1 + f / 700)`, unnormalised), and `ln(mel + 1e-6)`: torchaudio's `MelSpectrogram` with its
//! defaults, then the log (fixture: `tests/fixtures/log_mel/log_mel.py`).

use crate::error::DataError;
use shift_tensor::tch::{Device, Kind, Tensor};

/// The floor added before the log, so that silence stays finite.
pub const FLOOR: f64 = 1e-6;

/// The front end's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogMel {
    pub sample_rate: u32,
    /// FFT size and window length, in samples.
    pub n_fft: i64,
    /// Samples between frames.
    pub hop: i64,
    pub n_mels: i64,
    pub f_min: f64,
    pub f_max: f64,
}

impl LogMel {
    /// The front end of the spoken digits at 8 kHz: 32 ms windows (256 samples) every 10 ms (80 samples), 40 mel
    /// bands from 0 Hz to the Nyquist frequency (4 kHz); a second of audio gives 101 frames.
    pub const FSDD: LogMel = LogMel {
        sample_rate: 8000,
        n_fft: 256,
        hop: 80,
        n_mels: 40,
        f_min: 0.0,
        f_max: 4000.0,
    };

    /// The frames of `samples` samples (centred: one per hop, plus one).
    pub fn frames(&self, samples: i64) -> i64 {
        samples / self.hop + 1
    }

    /// The filterbank, `[n_fft / 2 + 1, n_mels]`: filter `m` rises linearly from mel point `m` to `m + 1` and falls
    /// to `m + 2`, the `n_mels + 2` points evenly spaced in mel between `f_min` and `f_max`; the FFT bins at
    /// `k * (sample_rate / 2) / (n_fft / 2)` Hz. Computed in double precision, returned as `kind`.
    pub fn filterbank(&self, kind: Kind, device: Device) -> Tensor {
        let n_freqs = self.n_fft / 2 + 1;
        let to_mel = |f: f64| 2595.0 * (1.0 + f / 700.0).log10();
        let to_hz = |m: f64| 700.0 * (10f64.powf(m / 2595.0) - 1.0);
        let (lo, hi) = (to_mel(self.f_min), to_mel(self.f_max));
        let points: Vec<f64> = (0..self.n_mels + 2)
            .map(|i| to_hz(lo + (hi - lo) * i as f64 / (self.n_mels + 1) as f64))
            .collect();
        let nyquist = f64::from(self.sample_rate / 2);
        let mut fb = vec![0f64; (n_freqs * self.n_mels) as usize];
        for k in 0..n_freqs {
            let f = nyquist * k as f64 / (n_freqs - 1) as f64;
            for m in 0..self.n_mels as usize {
                let down = (points[m + 2] - f) / (points[m + 2] - points[m + 1]);
                let up = (f - points[m]) / (points[m + 1] - points[m]);
                fb[k as usize * self.n_mels as usize + m] = down.min(up).max(0.0);
            }
        }
        Tensor::from_slice(&fb)
            .view([n_freqs, self.n_mels])
            .to_kind(kind)
            .to_device(device)
    }

    /// The log-mel spectrograms of `waves` (`[B, samples]`, more than `n_fft / 2` samples), `[B, n_mels, frames]`,
    /// on `waves`' device, in double precision for double waves and in single precision otherwise. The frames are centred: the waves are reflect-padded by
    /// `n_fft / 2` at both ends first.
    pub fn forward(&self, waves: &Tensor) -> Result<Tensor, DataError> {
        let invalid = |msg: String| DataError::Invalid {
            what: "log-mel input".into(),
            msg,
        };
        let size = waves.size();
        if size.len() != 2 || size[1] <= self.n_fft / 2 {
            return Err(invalid(format!(
                "expected [batch, samples] with more than {} samples, got {size:?}",
                self.n_fft / 2
            )));
        }
        let torch = |e: shift_tensor::tch::TchError| invalid(e.to_string());
        let kind = if waves.kind() == Kind::Double {
            Kind::Double
        } else {
            Kind::Float
        };
        let window = Tensor::hann_window_periodic(self.n_fft, true, (kind, waves.device()));
        let half = self.n_fft / 2;
        let padded = waves
            .to_kind(kind)
            .f_pad([half, half], "reflect", None)
            .map_err(torch)?;
        let spec = padded
            .f_stft(
                self.n_fft,
                self.hop,
                self.n_fft,
                Some(&window),
                false,
                true,
                true,
                false,
            )
            .map_err(torch)?;
        let power = spec.abs().square();
        let fb = self.filterbank(kind, waves.device());
        let mel = power.transpose(1, 2).matmul(&fb).transpose(1, 2);
        Ok((mel + FLOOR).log())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_at_8_khz_gives_40_bands_of_101_frames_and_silence_is_the_floor() {
        let m = LogMel::FSDD;
        let x = Tensor::zeros([3, 8000], (Kind::Float, Device::Cpu));
        let y = m.forward(&x).unwrap();
        assert_eq!(y.size(), [3, 40, 101]);
        assert_eq!(m.frames(8000), 101);
        let floor = FLOOR.ln();
        assert!((y.max().double_value(&[]) - floor).abs() < 1e-6);
        assert!((y.min().double_value(&[]) - floor).abs() < 1e-6);
    }

    #[test]
    fn each_filter_is_a_triangle_peaking_at_one_between_its_neighbours() {
        let fb = LogMel::FSDD.filterbank(Kind::Float, Device::Cpu);
        assert_eq!(fb.size(), [129, 40]);
        let peaks = fb.max_dim(0, false).0;
        // With 129 bins of 31.25 Hz the peaks fall near, not on, the mel points: every filter reaches above 0.5.
        assert!(peaks.min().double_value(&[]) > 0.5, "{peaks}");
        assert!(peaks.max().double_value(&[]) <= 1.0);
        assert!(fb.min().double_value(&[]) >= 0.0);
    }

    #[test]
    fn a_wave_too_short_to_pad_or_of_the_wrong_rank_is_refused() {
        for shape in [&[8000i64][..], &[2, 128]] {
            let e = LogMel::FSDD
                .forward(&Tensor::zeros(shape, (Kind::Float, Device::Cpu)))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("log-mel input: expected [batch, samples] with more than 128 samples"),
                "{e}"
            );
        }
    }
}
