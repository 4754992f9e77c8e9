//! Log-mel spectrograms, and the fixed-length vector AV-digits gives each recording.
//!
//! For a recording `x` at 8 kHz (samples in [-1, 1), zero-padded to [`LogMel::N_FFT`] if
//! shorter), frame `t` is `x[t·hop .. t·hop + n_fft]` (no centring; `T = 1 + (len − n_fft) /
//! hop` frames), and
//!
//! ```text
//! P[t, k]   = |Σ_n w[n] x[t·hop + n] e^{−2πi k n / n_fft}|²      k = 0..n_fft/2
//! mel[t, m] = Σ_k F[m, k] P[t, k]                                  m = 0..n_mels
//! L[t, m]   = ln(mel[t, m] + 10⁻⁶)
//! ```
//!
//! with `w` the periodic Hann window `½ − ½ cos(2πn / n_fft)` and `F` the HTK mel filter bank
//! without area normalisation: `n_mels + 2` points equally spaced on the mel scale
//! `2595 log₁₀(1 + f / 700)` from 0 Hz to 4 kHz, one triangle between each point's neighbours
//! (librosa's `filters.mel(htk=True, norm=None)`; the tests compare with librosa).
//!
//! [`LogMel::pooled`] averages `L` over [`LogMel::SEGMENTS`] equal stretches of time, so that
//! recordings of any length give [`LogMel::WIDTH`] values, laid out segment-major
//! (`v[s·n_mels + m]`); segment `s` covers frames `⌊s·T/S⌋ .. max(⌊s·T/S⌋ + 1, ⌊(s+1)·T/S⌋)`.

use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// The log-mel extractor: window, filter bank and FFT plan, made once.
pub struct LogMel {
    window: Vec<f64>,
    filters: Vec<Vec<f64>>,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

impl LogMel {
    /// Samples per frame (32 ms at 8 kHz).
    pub const N_FFT: usize = 256;
    /// Samples between frame starts (10 ms).
    pub const HOP: usize = 80;
    /// Mel bands.
    pub const N_MELS: usize = 24;
    /// Frequency bins of a frame's spectrum.
    pub const N_BINS: usize = Self::N_FFT / 2 + 1;
    /// Stretches of time [`pooled`](Self::pooled) averages over.
    pub const SEGMENTS: usize = 16;
    /// Length of a [`pooled`](Self::pooled) vector.
    pub const WIDTH: usize = Self::SEGMENTS * Self::N_MELS;
    /// Added to the mel power before the logarithm.
    pub const FLOOR: f64 = 1e-6;
    /// Highest frequency of the filter bank: the Nyquist frequency at 8 kHz.
    const F_MAX: f64 = 4000.0;

    /// The extractor.
    pub fn new() -> Self {
        let n = Self::N_FFT as f64;
        let window = (0..Self::N_FFT)
            .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n).cos())
            .collect();
        LogMel {
            window,
            filters: mel_filters(),
            fft: RealFftPlanner::<f64>::new().plan_fft_forward(Self::N_FFT),
        }
    }

    /// The mel filter bank `F`, [`N_MELS`](Self::N_MELS) rows of [`N_BINS`](Self::N_BINS).
    pub fn filters(&self) -> &[Vec<f64>] {
        &self.filters
    }

    /// `mel[t, m]` for each frame `t`: [`N_MELS`](Self::N_MELS) values per frame.
    pub fn mel_power(&self, samples: &[f32]) -> Vec<Vec<f64>> {
        let mut padded: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
        if padded.len() < Self::N_FFT {
            padded.resize(Self::N_FFT, 0.0);
        }
        let frames = 1 + (padded.len() - Self::N_FFT) / Self::HOP;
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        (0..frames)
            .map(|t| {
                let frame = &padded[t * Self::HOP..t * Self::HOP + Self::N_FFT];
                for ((slot, x), w) in input.iter_mut().zip(frame).zip(&self.window) {
                    *slot = x * w;
                }
                // Lengths come from the plan itself, so processing cannot fail.
                self.fft
                    .process(&mut input, &mut spectrum)
                    .expect("buffers made by the FFT plan");
                let power: Vec<f64> = spectrum
                    .iter()
                    .map(realfft::num_complex::Complex::norm_sqr)
                    .collect();
                self.filters
                    .iter()
                    .map(|f| f.iter().zip(&power).map(|(a, b)| a * b).sum())
                    .collect()
            })
            .collect()
    }

    /// `L[t, m]`, the log-mel spectrogram: [`N_MELS`](Self::N_MELS) values per frame.
    pub fn frames(&self, samples: &[f32]) -> Vec<Vec<f64>> {
        let mut frames = self.mel_power(samples);
        for value in frames.iter_mut().flatten() {
            *value = (*value + Self::FLOOR).ln();
        }
        frames
    }

    /// The fixed-length vector of a recording: [`frames`](Self::frames) averaged over
    /// [`SEGMENTS`](Self::SEGMENTS) stretches of time, segment-major.
    pub fn pooled(&self, samples: &[f32]) -> Vec<f32> {
        let frames = self.frames(samples);
        let t = frames.len();
        let mut out = Vec::with_capacity(Self::WIDTH);
        for s in 0..Self::SEGMENTS {
            let start = s * t / Self::SEGMENTS;
            let end = ((s + 1) * t / Self::SEGMENTS).max(start + 1);
            let stretch = &frames[start..end];
            for m in 0..Self::N_MELS {
                let sum: f64 = stretch.iter().map(|f| f[m]).sum();
                out.push((sum / stretch.len() as f64) as f32);
            }
        }
        out
    }
}

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// The HTK triangles, unnormalised, from 0 Hz to [`LogMel::F_MAX`].
fn mel_filters() -> Vec<Vec<f64>> {
    let points = LogMel::N_MELS + 2;
    let top = hz_to_mel(LogMel::F_MAX);
    let hz: Vec<f64> = (0..points)
        .map(|i| mel_to_hz(top * i as f64 / (points - 1) as f64))
        .collect();
    let bin_hz = |k: usize| k as f64 * f64::from(super::wav::SAMPLE_RATE) / LogMel::N_FFT as f64;
    (0..LogMel::N_MELS)
        .map(|m| {
            let (low, centre, high) = (hz[m], hz[m + 1], hz[m + 2]);
            (0..LogMel::N_BINS)
                .map(|k| {
                    let f = bin_hz(k);
                    let rising = (f - low) / (centre - low);
                    let falling = (high - f) / (high - centre);
                    rising.min(falling).max(0.0)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::wav;
    use std::path::Path;

    /// Values librosa computed for four recordings of the dataset
    /// (`scripts/make_logmel_fixture.py`).
    #[derive(serde::Deserialize)]
    struct Fixture {
        mel_filters: Vec<Vec<f64>>,
        recordings: Vec<Recording>,
    }

    #[derive(serde::Deserialize)]
    struct Recording {
        file: String,
        samples: usize,
        frames: usize,
        log_mel: Vec<Vec<f64>>,
        pooled: Vec<f64>,
    }

    fn fixture_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fsdd")
    }

    fn fixture() -> Fixture {
        let text = std::fs::read_to_string(fixture_dir().join("logmel.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_filter_bank_is_librosas() {
        let expected = fixture().mel_filters;
        let filters = LogMel::new();
        assert_eq!(filters.filters().len(), expected.len());
        for (m, (ours, theirs)) in filters.filters().iter().zip(&expected).enumerate() {
            for (k, (a, b)) in ours.iter().zip(theirs).enumerate() {
                assert!((a - b).abs() < 1e-9, "band {m}, bin {k}: {a} vs librosa {b}");
            }
        }
    }

    #[test]
    fn log_mel_frames_and_vectors_match_librosa() {
        let extractor = LogMel::new();
        let fixture = fixture();
        assert_eq!(fixture.recordings.len(), 4);
        for rec in &fixture.recordings {
            let samples = wav::to_unit(&wav::read(&fixture_dir().join(&rec.file)).unwrap());
            assert_eq!(samples.len(), rec.samples, "{}", rec.file);
            let frames = extractor.frames(&samples);
            assert_eq!(frames.len(), rec.frames, "{}", rec.file);
            for (t, (ours, theirs)) in frames.iter().zip(&rec.log_mel).enumerate() {
                for (m, (a, b)) in ours.iter().zip(theirs).enumerate() {
                    // Logarithms of powers that agree to ~1e-12 relative; the floor keeps
                    // silent bands finite in both.
                    assert!(
                        (a - b).abs() < 1e-6,
                        "{} frame {t} band {m}: {a} vs librosa {b}",
                        rec.file
                    );
                }
            }
            let pooled = extractor.pooled(&samples);
            assert_eq!(pooled.len(), rec.pooled.len());
            for (i, (a, b)) in pooled.iter().zip(&rec.pooled).enumerate() {
                assert!(
                    (f64::from(*a) - b).abs() < 1e-5 * b.abs().max(1.0),
                    "{} value {i}: {a} vs {b}",
                    rec.file
                );
            }
        }
    }

    #[test]
    fn a_recording_shorter_than_a_frame_gives_one_frame() {
        let extractor = LogMel::new();
        let frames = extractor.frames(&[0.25; 100]);
        assert_eq!(frames.len(), 1);
        // All sixteen segments are that frame.
        let pooled = extractor.pooled(&[0.25; 100]);
        assert_eq!(
            &pooled[..LogMel::N_MELS],
            &pooled[LogMel::WIDTH - LogMel::N_MELS..]
        );
    }
}
