//! Speech as feature vectors: [`wav`] reads 8 kHz mono 16-bit recordings, [`logmel`] turns
//! them into log-mel spectrograms and fixed-length vectors, and [`noise`] adds white noise
//! at a given signal-to-noise ratio.
//!
//! ```
//! use mosaic_data::audio::{logmel::LogMel, noise::add_white_noise};
//!
//! // A 440 Hz tone of 0.25 s at 8 kHz.
//! let tone: Vec<f32> = (0..2000).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin() * 0.5).collect();
//! let extractor = LogMel::new();
//! let frames = extractor.frames(&tone);
//! assert_eq!(frames.len(), 1 + (2000 - 256) / 80);
//! // The loudest mel band of every frame is the one whose triangle holds 440 Hz.
//! let loudest = |f: &[f64]| (0..f.len()).max_by(|&a, &b| f[a].total_cmp(&f[b])).unwrap();
//! assert!(frames.iter().all(|f| loudest(f) == loudest(&frames[0])));
//! assert_eq!(extractor.pooled(&tone).len(), LogMel::WIDTH);
//!
//! // Noise at 0 dB has the power of the signal.
//! let noisy = add_white_noise(&tone, 0.0, 7);
//! let power = |x: &[f32]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64;
//! let noise: Vec<f32> = noisy.iter().zip(&tone).map(|(n, s)| n - s).collect();
//! assert!((power(&noise) / power(&tone) - 1.0).abs() < 0.1);
//! ```

pub mod logmel;
pub mod noise;
pub mod wav;
