//! AV-digits: spoken digits paired with handwritten ones, the offline counterpart of the
//! AV-MNIST benchmark, for learning joint audio-visual representations without labels.
//!
//! - Audio: the Free Spoken Digit Dataset (Jackson et al.; 3000 recordings, 6 speakers × 10
//!   digits × 50, 8 kHz mono; CC BY-SA 4.0), each recording turned by mosaic's own
//!   [`LogMel`] extractor into [`AUDIO_WIDTH`] log-mel values, standardised per value with
//!   the training split's mean and deviation.
//! - Video: the UCI optical recognition of handwritten digits (1797 images of 8 × 8, grey
//!   levels 0–16; CC BY 4.0), scaled to [0, 1] and standardised per pixel with the training
//!   pairs' statistics, so that neither modality dominates a joint model by its scale
//!   ([`AvDigits::pixels`] gives the grey levels back).
//!
//! Splits test generalisation to new recordings and new handwriting:
//! - audio by recording index, the FSDD convention: indices 0–4 of every speaker and digit
//!   are the test split (300), 5–9 the validation split (300), 10–49 training (2400). Every
//!   speaker is in every split: with six speakers, a split by speaker would leave one voice
//!   to test on, and a figure that says more about that voice than about the models;
//! - images disjointly, per digit, by a fixed shuffle: a fifth for test, a fifth for
//!   validation, the rest for training. No image of one split appears in another;
//! - pairing by [`AvDigitsConfig::seed`]: each recording is paired with an image of its digit
//!   from the same split, in a seeded order, each image used about equally often.
//!
//! The dataset ships inside mosaic ([`Bundle::shipped`], 7 MB): the features of all 3000
//! recordings, the waveforms of the 300 test recordings (for [`AvDigits::noisy_test_audio`],
//! Ngiam et al.'s noisy-audio setting), and the images. `cargo run -p mosaic-data --example
//! build_avdigits -- RECORDINGS_DIR DIGITS_FILE OUTPUT` rebuilds it from the raw files
//! (docs/datasets.md).
//!
//! ```
//! use mosaic_data::avdigits::{AvDigits, AvDigitsConfig, AUDIO_WIDTH, VIDEO_WIDTH};
//!
//! let data = AvDigits::load(&AvDigitsConfig::default())?;
//! assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (2400, 300, 300));
//! assert_eq!((data.train.audio.len(), data.train.video.len()), (2400 * AUDIO_WIDTH, 2400 * VIDEO_WIDTH));
//! // Audio and image of a pair show the same digit.
//! let (recording, image) = (data.test.recordings[0], data.test.images[0]);
//! assert_eq!(data.bundle().recordings[recording].digit, data.bundle().image_labels[image]);
//! // The test audio with white noise as loud as the speech (0 dB), same layout.
//! let noisy = data.noisy_test_audio(0.0, 1)?;
//! assert_eq!(noisy.len(), data.test.audio.len());
//! # Ok::<(), mosaic_data::DataError>(())
//! ```

use crate::audio::logmel::LogMel;
use crate::audio::{noise, wav};
use crate::rng::SplitMix64;
use crate::{DataError, Result, SplitName};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// Values per audio vector ([`LogMel::WIDTH`]).
pub const AUDIO_WIDTH: usize = LogMel::WIDTH;
/// Values per image (8 × 8).
pub const VIDEO_WIDTH: usize = 64;
/// Digits, the classes.
pub const CLASSES: usize = 10;
/// Recordings per speaker and digit.
const TAKES: usize = 50;
/// Recording indices of the test split (the FSDD convention) and of the validation split.
const TEST_TAKES: std::ops::Range<usize> = 0..5;
const VALID_TAKES: std::ops::Range<usize> = 5..10;
/// The fixed shuffle that splits the images.
const IMAGE_SPLIT_SEED: u64 = 1797;
/// Where the shipped bundle is, and its bytes.
const SHIPPED_PATH: &str = "crates/mosaic-data/data/avdigits.safetensors";
const SHIPPED: &[u8] = include_bytes!("../data/avdigits.safetensors");

/// One recording of the Free Spoken Digit Dataset, as its file name gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recording {
    /// The digit spoken.
    pub digit: u8,
    /// Index into [`Bundle::speakers`].
    pub speaker: u8,
    /// The take, 0..50.
    pub take: u16,
}

impl Recording {
    /// The split the recording belongs to.
    pub fn split(&self) -> SplitName {
        let take = usize::from(self.take);
        if TEST_TAKES.contains(&take) {
            SplitName::Test
        } else if VALID_TAKES.contains(&take) {
            SplitName::Valid
        } else {
            SplitName::Train
        }
    }
}

/// What ships with mosaic: recordings' features, the test recordings' waveforms, and the
/// images. Rows of `features` follow `recordings`, sorted by digit, speaker and take.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// Speakers' names, as in the file names.
    pub speakers: Vec<String>,
    /// The recordings, sorted.
    pub recordings: Vec<Recording>,
    /// `[recordings, AUDIO_WIDTH]`: each recording's [`LogMel::pooled`] vector.
    pub features: Vec<f32>,
    /// The samples of the test recordings, in the order of `recordings`.
    pub test_waveforms: Vec<Vec<i16>>,
    /// `[images, 64]` grey levels 0..=16.
    pub images: Vec<u8>,
    /// The digit of each image.
    pub image_labels: Vec<u8>,
}

/// The tensors of a bundle file, by name.
const KEYS: [&str; 8] = [
    "features",
    "recording_digit",
    "recording_speaker",
    "recording_take",
    "test_waveforms",
    "test_waveform_ends",
    "images",
    "image_labels",
];

impl Bundle {
    /// The bundle that ships with mosaic.
    ///
    /// # Errors
    /// Those of [`from_bytes`](Self::from_bytes) (a damaged checkout).
    pub fn shipped() -> Result<Bundle> {
        Bundle::from_bytes(SHIPPED, Path::new(SHIPPED_PATH))
    }

    /// Builds a bundle from a folder of FSDD recordings (`{digit}_{speaker}_{take}.wav`, all
    /// 3000 or any subset) and the digits file (`images` u8 `[n, 8, 8]`, `labels` i64 `[n]`,
    /// safetensors). `progress` is called after each recording with the count done and the total.
    ///
    /// # Errors
    /// A file name of another pattern, a recording [`wav::read`] refuses, or a digits file of
    /// another layout: each names the file.
    pub fn build(recordings: &Path, digits: &Path, mut progress: impl FnMut(usize, usize)) -> Result<Bundle> {
        let entries = std::fs::read_dir(recordings).map_err(|source| DataError::Io {
            path: recordings.to_path_buf(),
            source,
        })?;
        let mut names: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .collect();
        // In name order: the first bad name is the same on every file system.
        names.sort();
        let parsed = names
            .into_iter()
            .map(|path| parse_name(&path).map(|name| (name, path)))
            .collect::<Result<Vec<_>>>()?;
        // Speakers in name order, so the bundle does not depend on the directory's order.
        let mut speakers: Vec<String> = parsed
            .iter()
            .map(|((_, speaker, _), _)| speaker.clone())
            .collect();
        speakers.sort();
        speakers.dedup();
        let mut files: Vec<(Recording, std::path::PathBuf)> = parsed
            .into_iter()
            .map(|((digit, speaker, take), path)| {
                let speaker = speakers.binary_search(&speaker).expect("a listed speaker") as u8;
                (Recording { digit, speaker, take }, path)
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(DataError::layout(recordings, "holds no .wav recordings"));
        }
        let extractor = LogMel::new();
        let mut features = Vec::with_capacity(files.len() * AUDIO_WIDTH);
        let mut test_waveforms = Vec::new();
        for (i, (recording, path)) in files.iter().enumerate() {
            let samples = wav::read(path)?;
            features.extend(extractor.pooled(&wav::to_unit(&samples)));
            if recording.split() == SplitName::Test {
                test_waveforms.push(samples);
            }
            progress(i + 1, files.len());
        }
        let (images, image_labels) = read_digits(digits)?;
        Ok(Bundle {
            speakers,
            recordings: files.into_iter().map(|(r, _)| r).collect(),
            features,
            test_waveforms,
            images,
            image_labels,
        })
    }

    /// The bundle as a safetensors file (speakers in its metadata).
    ///
    /// # Errors
    /// [`DataError::Invalid`] if the serialiser refuses (it does not for a well-formed bundle).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let field = |f: fn(&Recording) -> i32| -> Vec<u8> {
            self.recordings.iter().flat_map(|r| f(r).to_le_bytes()).collect()
        };
        let mut ends = Vec::with_capacity(self.test_waveforms.len());
        let mut total = 0i64;
        for w in &self.test_waveforms {
            total += w.len() as i64;
            ends.push(total);
        }
        let n = self.recordings.len();
        let buffers: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = vec![
            (
                "features",
                Dtype::F32,
                vec![n, AUDIO_WIDTH],
                self.features.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            (
                "recording_digit",
                Dtype::I32,
                vec![n],
                field(|r| i32::from(r.digit)),
            ),
            (
                "recording_speaker",
                Dtype::I32,
                vec![n],
                field(|r| i32::from(r.speaker)),
            ),
            (
                "recording_take",
                Dtype::I32,
                vec![n],
                field(|r| i32::from(r.take)),
            ),
            (
                "test_waveforms",
                Dtype::I16,
                vec![total as usize],
                self.test_waveforms
                    .iter()
                    .flatten()
                    .flat_map(|s| s.to_le_bytes())
                    .collect(),
            ),
            (
                "test_waveform_ends",
                Dtype::I64,
                vec![ends.len()],
                ends.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            (
                "images",
                Dtype::U8,
                vec![self.image_labels.len(), 8, 8],
                self.images.clone(),
            ),
            (
                "image_labels",
                Dtype::U8,
                vec![self.image_labels.len()],
                self.image_labels.clone(),
            ),
        ];
        let views = buffers
            .iter()
            .map(|(name, dtype, shape, data)| {
                TensorView::new(*dtype, shape.clone(), data).map(|v| (*name, v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| DataError::Invalid(format!("AV-digits bundle: {e}")))?;
        let metadata = HashMap::from([("speakers".to_string(), self.speakers.join(","))]);
        safetensors::serialize(views, Some(metadata))
            .map_err(|e| DataError::Invalid(format!("AV-digits bundle: {e}")))
    }

    /// Reads a bundle written by [`to_bytes`](Self::to_bytes); `name` is for errors.
    ///
    /// # Errors
    /// [`DataError::Layout`] naming the tensor that is missing or of the wrong type or shape.
    pub fn from_bytes(bytes: &[u8], name: &Path) -> Result<Bundle> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| {
            DataError::layout(
                name,
                format!("not an AV-digits bundle ({e}); rebuild it with the build_avdigits example"),
            )
        })?;
        let (_, metadata) =
            SafeTensors::read_metadata(bytes).map_err(|e| DataError::layout(name, e.to_string()))?;
        let speakers: Vec<String> = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("speakers"))
            .ok_or_else(|| DataError::layout(name, "no `speakers` in the metadata"))?
            .split(',')
            .map(str::to_string)
            .collect();
        let mut tensors = HashMap::new();
        for key in KEYS {
            let view = file
                .tensor(key)
                .map_err(|_| DataError::layout(name, format!("no tensor `{key}`")))?;
            tensors.insert(key, view);
        }
        let get = |key: &str, dtype: Dtype, rank: usize| -> Result<&TensorView<'_>> {
            let view = &tensors[key];
            if view.dtype() != dtype || view.shape().len() != rank {
                return Err(DataError::layout(
                    name,
                    format!(
                        "`{key}` is {:?} {:?}, expected {dtype:?} of rank {rank}",
                        view.dtype(),
                        view.shape()
                    ),
                ));
            }
            Ok(view)
        };
        let ints = |key: &str| -> Result<Vec<i32>> {
            Ok(get(key, Dtype::I32, 1)?
                .data()
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        };
        let (digits, speaker, take) = (
            ints("recording_digit")?,
            ints("recording_speaker")?,
            ints("recording_take")?,
        );
        let n = digits.len();
        let recordings = (0..n)
            .map(|i| {
                let ok = (0..CLASSES as i32).contains(&digits[i])
                    && (0..speakers.len() as i32).contains(&speaker[i])
                    && (0..TAKES as i32).contains(&take[i]);
                ok.then(|| Recording {
                    digit: digits[i] as u8,
                    speaker: speaker[i] as u8,
                    take: take[i] as u16,
                })
                .ok_or_else(|| {
                    DataError::layout(
                        name,
                        format!(
                            "recording {i} has digit {}, speaker {}, take {}",
                            digits[i], speaker[i], take[i]
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let features_view = get("features", Dtype::F32, 2)?;
        if features_view.shape() != [n, AUDIO_WIDTH] || [speaker.len(), take.len()] != [n, n] {
            return Err(DataError::layout(
                name,
                format!(
                    "`features` is {:?}, expected [{n}, {AUDIO_WIDTH}]",
                    features_view.shape()
                ),
            ));
        }
        let features = features_view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let samples: Vec<i16> = get("test_waveforms", Dtype::I16, 1)?
            .data()
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let ends: Vec<usize> = get("test_waveform_ends", Dtype::I64, 1)?
            .data()
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
            .collect();
        let tests = recordings.iter().filter(|r| r.split() == SplitName::Test).count();
        if ends.len() != tests
            || ends.windows(2).any(|w| w[0] > w[1])
            || ends.last().is_some_and(|&e| e != samples.len())
        {
            return Err(DataError::layout(
                name,
                format!(
                    "`test_waveform_ends` does not cut `test_waveforms` into the {tests} test recordings"
                ),
            ));
        }
        let mut test_waveforms = Vec::with_capacity(tests);
        let mut start = 0;
        for end in ends {
            test_waveforms.push(samples[start..end].to_vec());
            start = end;
        }
        let image_labels = get("image_labels", Dtype::U8, 1)?.data().to_vec();
        let images_view = get("images", Dtype::U8, 3)?;
        if images_view.shape() != [image_labels.len(), 8, 8]
            || image_labels.iter().any(|&l| usize::from(l) >= CLASSES)
        {
            return Err(DataError::layout(
                name,
                format!("`images` is {:?} with labels 0..10 expected", images_view.shape()),
            ));
        }
        Ok(Bundle {
            speakers,
            recordings,
            features,
            test_waveforms,
            images: images_view.data().to_vec(),
            image_labels,
        })
    }
}

/// `{digit}_{speaker}_{take}.wav`.
fn parse_name(path: &Path) -> Result<(u8, String, u16)> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let parts: Vec<&str> = stem.split('_').collect();
    let parsed = match parts.as_slice() {
        [digit, speaker, take] if !speaker.is_empty() => digit
            .parse::<u8>()
            .ok()
            .filter(|&d| usize::from(d) < CLASSES)
            .zip(take.parse::<u16>().ok().filter(|&t| usize::from(t) < TAKES))
            .map(|(d, t)| (d, (*speaker).to_string(), t)),
        _ => None,
    };
    parsed.ok_or_else(|| {
        DataError::layout(
            path,
            "expected a name {digit}_{speaker}_{take}.wav with a digit 0-9 and a take 0-49",
        )
    })
}

/// The digits file as scikit-learn's `load_digits` gives it: `images` u8 `[n, 8, 8]`,
/// `labels` i64 `[n]`.
fn read_digits(path: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| DataError::layout(path, format!("not a safetensors file ({e})")))?;
    let images = file
        .tensor("images")
        .map_err(|_| DataError::layout(path, "no tensor `images`"))?;
    let labels = file
        .tensor("labels")
        .map_err(|_| DataError::layout(path, "no tensor `labels`"))?;
    let n = labels.shape().first().copied().unwrap_or(0);
    if images.dtype() != Dtype::U8 || images.shape() != [n, 8, 8] || labels.dtype() != Dtype::I64 {
        return Err(DataError::layout(
            path,
            format!(
                "expected `images` U8 [n, 8, 8] and `labels` I64 [n], found {:?} {:?} and {:?} {:?}",
                images.dtype(),
                images.shape(),
                labels.dtype(),
                labels.shape()
            ),
        ));
    }
    let labels = labels
        .data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
        .map(|l| u8::try_from(l).ok().filter(|&l| usize::from(l) < CLASSES))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| DataError::layout(path, "a label outside 0..10"))?;
    Ok((images.data().to_vec(), labels))
}

/// How AV-digits pairs its recordings and images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvDigitsConfig {
    /// Seed of the pairing.
    pub seed: u64,
}

impl Default for AvDigitsConfig {
    fn default() -> Self {
        AvDigitsConfig { seed: 17 }
    }
}

/// One split: `n` pairs of an audio vector and an image of the same digit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AvSplit {
    /// `[n, AUDIO_WIDTH]`, standardised with the training split's statistics.
    pub audio: Vec<f32>,
    /// `[n, VIDEO_WIDTH]`, grey levels scaled to [0, 1] then standardised per pixel with the
    /// training pairs' statistics ([`AvDigits::pixels`] undoes it).
    pub video: Vec<f32>,
    /// The digit of each pair.
    pub labels: Vec<usize>,
    /// Each pair's recording: its row in [`Bundle::recordings`].
    pub recordings: Vec<usize>,
    /// Each pair's image: its row in [`Bundle::images`].
    pub images: Vec<usize>,
}

impl AvSplit {
    /// Pairs.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no pair.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Every `len / n`-th pair (all of them when `n >= len`): a smaller split with the same
    /// mix of digits, for quick runs.
    pub fn thin(&self, n: usize) -> AvSplit {
        let len = self.len();
        let keep: Vec<usize> = if n >= len {
            (0..len).collect()
        } else {
            (0..n).map(|i| i * len / n).collect()
        };
        let rows = |values: &[f32], width: usize| -> Vec<f32> {
            keep.iter()
                .flat_map(|&i| values[i * width..(i + 1) * width].iter().copied())
                .collect()
        };
        AvSplit {
            audio: rows(&self.audio, AUDIO_WIDTH),
            video: rows(&self.video, VIDEO_WIDTH),
            labels: keep.iter().map(|&i| self.labels[i]).collect(),
            recordings: keep.iter().map(|&i| self.recordings[i]).collect(),
            images: keep.iter().map(|&i| self.images[i]).collect(),
        }
    }
}

/// AV-digits, split and paired ([`AvDigits::load`]).
#[derive(Debug, Clone)]
pub struct AvDigits {
    /// 2400 pairs.
    pub train: AvSplit,
    /// 300 pairs.
    pub valid: AvSplit,
    /// 300 pairs.
    pub test: AvSplit,
    /// Per audio value: the training split's mean and standard deviation.
    pub audio_mean: Vec<f32>,
    /// See `audio_mean`.
    pub audio_std: Vec<f32>,
    /// Per pixel: the training pairs' mean and standard deviation (at least one grey level,
    /// 1/16, so that pixels blank in every training image stay near 0 in any image).
    pub video_mean: Vec<f32>,
    /// See `video_mean`.
    pub video_std: Vec<f32>,
    bundle: Bundle,
}

impl AvDigits {
    /// The shipped dataset, paired by `config.seed`.
    ///
    /// # Errors
    /// Those of [`Bundle::shipped`] and [`AvDigits::from_bundle`].
    pub fn load(config: &AvDigitsConfig) -> Result<AvDigits> {
        AvDigits::from_bundle(Bundle::shipped()?, config)
    }

    /// Splits, standardises and pairs a bundle.
    ///
    /// # Errors
    /// [`DataError::EmptySplit`] when a split has recordings of a digit but no image of it
    /// (or no recording at all).
    pub fn from_bundle(bundle: Bundle, config: &AvDigitsConfig) -> Result<AvDigits> {
        let image_split = split_images(&bundle.image_labels);
        let mut splits = Vec::with_capacity(3);
        for split in [SplitName::Train, SplitName::Valid, SplitName::Test] {
            splits.push(pair(&bundle, &image_split, split, config.seed)?);
        }
        let audio_rows = |split: &AvSplit| -> Vec<Vec<f32>> {
            split
                .recordings
                .iter()
                .map(|&r| feature_row(&bundle, r).to_vec())
                .collect()
        };
        let (audio_mean, audio_std) = statistics(&audio_rows(&splits[0]), 1e-6);
        let video_rows = |split: &AvSplit| -> Vec<Vec<f32>> {
            split.video.chunks(VIDEO_WIDTH).map(<[f32]>::to_vec).collect()
        };
        let (video_mean, video_std) = statistics(&video_rows(&splits[0]), 1.0 / 16.0);
        for split in &mut splits {
            split.audio = standardise(&audio_rows(split), &audio_mean, &audio_std);
            split.video = standardise(&video_rows(split), &video_mean, &video_std);
        }
        let mut splits = splits.into_iter();
        let mut next = || splits.next().expect("three splits");
        Ok(AvDigits {
            train: next(),
            valid: next(),
            test: next(),
            audio_mean,
            audio_std,
            video_mean,
            video_std,
            bundle,
        })
    }

    /// The split called `name`.
    pub fn split(&self, name: SplitName) -> &AvSplit {
        match name {
            SplitName::Train => &self.train,
            SplitName::Valid => &self.valid,
            SplitName::Test => &self.test,
        }
    }

    /// A standardised image (`[VIDEO_WIDTH]`, as in a split, or as a model reconstructs it)
    /// back in grey levels scaled to [0, 1] (not clamped).
    pub fn pixels(&self, standardised: &[f32]) -> Vec<f32> {
        standardised
            .iter()
            .zip(&self.video_mean)
            .zip(&self.video_std)
            .map(|((v, m), s)| v * s + m)
            .collect()
    }

    /// The bundle the dataset was made from.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Every split [`thin`](AvSplit::thin)ned to at most `n` pairs (the statistics stay those
    /// of the full training split).
    pub fn thin(&self, n: usize) -> AvDigits {
        AvDigits {
            train: self.train.thin(n),
            valid: self.valid.thin(n),
            test: self.test.thin(n),
            ..self.clone()
        }
    }

    /// The test split's audio with white noise at `snr_db` ([`noise::add_white_noise`],
    /// seeded per recording from `seed`) added to each waveform before the features are
    /// computed; standardised like the clean audio. `[test, AUDIO_WIDTH]`, pairs in order.
    ///
    /// # Errors
    /// [`DataError::Invalid`] for a non-finite `snr_db`.
    pub fn noisy_test_audio(&self, snr_db: f64, seed: u64) -> Result<Vec<f32>> {
        if !snr_db.is_finite() {
            return Err(DataError::Invalid(format!(
                "noisy audio: SNR {snr_db} dB, expected a finite number of decibels"
            )));
        }
        let extractor = LogMel::new();
        let test_rows: Vec<usize> = (0..self.bundle.recordings.len())
            .filter(|&r| self.bundle.recordings[r].split() == SplitName::Test)
            .collect();
        let rows: Vec<Vec<f32>> = self
            .test
            .recordings
            .iter()
            .map(|&r| {
                let k = test_rows.binary_search(&r).expect("a test recording");
                let samples = wav::to_unit(&self.bundle.test_waveforms[k]);
                let noise_seed =
                    SplitMix64::new(seed ^ (r as u64).wrapping_mul(crate::rng::GOLDEN_GAMMA)).next_u64();
                extractor.pooled(&noise::add_white_noise(&samples, snr_db, noise_seed))
            })
            .collect();
        Ok(standardise(&rows, &self.audio_mean, &self.audio_std))
    }
}

fn feature_row(bundle: &Bundle, r: usize) -> &[f32] {
    &bundle.features[r * AUDIO_WIDTH..(r + 1) * AUDIO_WIDTH]
}

/// Each image's split: per digit, in a fixed shuffled order, a fifth test, a fifth
/// validation, the rest training.
fn split_images(labels: &[u8]) -> Vec<SplitName> {
    let mut out = vec![SplitName::Train; labels.len()];
    for digit in 0..CLASSES as u8 {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == digit).collect();
        SplitMix64::new(IMAGE_SPLIT_SEED + u64::from(digit)).shuffle(&mut rows);
        let fifth = rows.len() / 5;
        for (k, &row) in rows.iter().enumerate() {
            out[row] = if k < fifth {
                SplitName::Test
            } else if k < 2 * fifth {
                SplitName::Valid
            } else {
                SplitName::Train
            };
        }
    }
    out
}

/// The pairs of `split`: its recordings in bundle order, each with an image of its digit
/// from the same split, images drawn in a seeded order and reused cyclically.
fn pair(bundle: &Bundle, image_split: &[SplitName], split: SplitName, seed: u64) -> Result<AvSplit> {
    let mut by_digit: Vec<Vec<usize>> = (0..CLASSES)
        .map(|d| {
            (0..image_split.len())
                .filter(|&i| image_split[i] == split && usize::from(bundle.image_labels[i]) == d)
                .collect()
        })
        .collect();
    for (d, images) in by_digit.iter_mut().enumerate() {
        SplitMix64::new(seed ^ ((split as u64) << 8 | d as u64).wrapping_mul(crate::rng::GOLDEN_GAMMA))
            .shuffle(images);
    }
    let mut used = [0usize; CLASSES];
    let mut out = AvSplit::default();
    for (r, recording) in bundle.recordings.iter().enumerate() {
        if recording.split() != split {
            continue;
        }
        let d = usize::from(recording.digit);
        let images = &by_digit[d];
        if images.is_empty() {
            return Err(DataError::EmptySplit {
                split: split.name(),
                detail: format!("AV-digits has recordings of digit {d} but no image of it"),
            });
        }
        let image = images[used[d] % images.len()];
        used[d] += 1;
        out.video.extend(
            bundle.images[image * VIDEO_WIDTH..(image + 1) * VIDEO_WIDTH]
                .iter()
                .map(|&g| f32::from(g) / 16.0),
        );
        out.labels.push(d);
        out.recordings.push(r);
        out.images.push(image);
    }
    if out.is_empty() {
        return Err(DataError::EmptySplit {
            split: split.name(),
            detail: "AV-digits has no recording there".into(),
        });
    }
    Ok(out)
}

/// Per column of `rows`: the mean and the standard deviation (at least `floor`), summed in
/// row order in f64.
fn statistics(rows: &[Vec<f32>], floor: f64) -> (Vec<f32>, Vec<f32>) {
    let width = rows.first().map_or(0, Vec::len);
    let n = rows.len() as f64;
    let mut mean = vec![0f64; width];
    for row in rows {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += f64::from(*v));
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; width];
    for row in rows {
        var.iter_mut()
            .zip(row)
            .zip(&mean)
            .for_each(|((s, v), m)| *s += (f64::from(*v) - m).powi(2));
    }
    let std = var.iter().map(|s| (s / n).sqrt().max(floor) as f32).collect();
    (mean.iter().map(|&m| m as f32).collect(), std)
}

fn standardise(rows: &[Vec<f32>], mean: &[f32], std: &[f32]) -> Vec<f32> {
    rows.iter()
        .flat_map(|row| row.iter().zip(mean).zip(std).map(|((v, m), s)| (v - m) / s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> AvDigits {
        AvDigits::load(&AvDigitsConfig::default()).unwrap()
    }

    #[test]
    fn splits_follow_the_fsdd_convention_and_pairs_agree() {
        let data = data();
        let bundle = data.bundle();
        assert_eq!(bundle.recordings.len(), 3000);
        assert_eq!(bundle.speakers.len(), 6);
        for (split, takes) in [(&data.train, 10..50), (&data.valid, 5..10), (&data.test, 0..5)] {
            assert_eq!(split.len(), 60 * takes.len());
            for i in 0..split.len() {
                let recording = bundle.recordings[split.recordings[i]];
                assert!(takes.contains(&usize::from(recording.take)));
                assert_eq!(usize::from(recording.digit), split.labels[i]);
                assert_eq!(usize::from(bundle.image_labels[split.images[i]]), split.labels[i]);
                let pixels = &bundle.images[split.images[i] * 64..][..64];
                let restored = data.pixels(&split.video[i * 64..(i + 1) * 64]);
                for (r, g) in restored.iter().zip(pixels) {
                    assert!((r - f32::from(*g) / 16.0).abs() < 1e-5, "{r} vs {g}/16");
                }
            }
        }
    }

    #[test]
    fn images_are_split_disjointly_and_reused_evenly() {
        let data = data();
        let sets: Vec<std::collections::BTreeSet<usize>> = [&data.train, &data.valid, &data.test]
            .iter()
            .map(|s| s.images.iter().copied().collect())
            .collect();
        assert!(
            sets[0].is_disjoint(&sets[1]) && sets[0].is_disjoint(&sets[2]) && sets[1].is_disjoint(&sets[2])
        );
        // A fifth of each digit's images for test and for validation; every training image
        // is used, and a split's pairs draw only on its own images.
        let labels = &data.bundle().image_labels;
        let split = split_images(labels);
        for d in 0..10u8 {
            let count = |name| {
                (0..labels.len())
                    .filter(|&i| labels[i] == d && split[i] == name)
                    .count()
            };
            let all = labels.iter().filter(|&&l| l == d).count();
            assert_eq!(
                (count(SplitName::Test), count(SplitName::Valid)),
                (all / 5, all / 5)
            );
        }
        assert_eq!(
            sets[0].len(),
            split.iter().filter(|&&s| s == SplitName::Train).count()
        );
        for (set, name) in sets.iter().zip(SplitName::ALL) {
            assert!(set.iter().all(|&i| split[i] == name));
        }
        let mut uses = HashMap::<usize, usize>::new();
        for &i in &data.train.images {
            *uses.entry(i).or_default() += 1;
        }
        let (least, most) = (uses.values().min().unwrap(), uses.values().max().unwrap());
        assert!(most - least <= 1, "train images used {least} to {most} times");
    }

    #[test]
    fn the_seed_decides_the_pairing_and_nothing_else() {
        let a = data();
        let b = AvDigits::load(&AvDigitsConfig { seed: 18 }).unwrap();
        assert_eq!(a.train.audio, b.train.audio);
        assert_eq!(a.train.labels, b.train.labels);
        assert_ne!(a.train.images, b.train.images);
        assert_eq!(a.train.images, data().train.images);
    }

    #[test]
    fn training_audio_and_video_are_standardised() {
        let data = data();
        let n = data.train.len() as f64;
        let column = |values: &[f32], width: usize, j: usize| -> (f64, f64) {
            let column: Vec<f64> = (0..data.train.len())
                .map(|i| f64::from(values[i * width + j]))
                .collect();
            let mean = column.iter().sum::<f64>() / n;
            (mean, column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
        };
        for j in [0, 100, AUDIO_WIDTH - 1] {
            let (mean, var) = column(&data.train.audio, AUDIO_WIDTH, j);
            assert!(
                mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
                "audio value {j}: mean {mean}, variance {var}"
            );
        }
        // Pixel 27 (row 3, column 3) varies; pixel 0 (a corner) is blank in nearly every image.
        let (mean, var) = column(&data.train.video, VIDEO_WIDTH, 27);
        assert!(
            mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
            "pixel 27: mean {mean}, variance {var}"
        );
        let (_, var) = column(&data.train.video, VIDEO_WIDTH, 0);
        assert!(var < 1.0, "pixel 0: variance {var}");
    }

    #[test]
    fn shipped_features_are_the_extractors_on_the_shipped_waveforms() {
        let bundle = Bundle::shipped().unwrap();
        let extractor = LogMel::new();
        let tests: Vec<usize> = (0..bundle.recordings.len())
            .filter(|&r| bundle.recordings[r].split() == SplitName::Test)
            .collect();
        assert_eq!(tests.len(), bundle.test_waveforms.len());
        for (k, &r) in tests.iter().enumerate().step_by(37) {
            let pooled = extractor.pooled(&wav::to_unit(&bundle.test_waveforms[k]));
            assert_eq!(pooled.as_slice(), feature_row(&bundle, r), "recording {r}");
        }
    }

    #[test]
    fn noise_changes_the_test_audio_more_as_the_snr_falls() {
        let data = data();
        let distance = |x: &[f32]| {
            x.iter()
                .zip(&data.test.audio)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum::<f64>()
        };
        let d20 = distance(&data.noisy_test_audio(20.0, 1).unwrap());
        let d0 = distance(&data.noisy_test_audio(0.0, 1).unwrap());
        assert!(
            d20 > 0.0 && d0 > 2.0 * d20,
            "distance at 20 dB {d20}, at 0 dB {d0}"
        );
        assert_eq!(
            data.noisy_test_audio(0.0, 1).unwrap(),
            data.noisy_test_audio(0.0, 1).unwrap()
        );
        let err = data.noisy_test_audio(f64::NAN, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "noisy audio: SNR NaN dB, expected a finite number of decibels"
        );
    }

    #[test]
    fn a_split_without_recordings_or_images_is_named() {
        let shipped = Bundle::shipped().unwrap();
        let keep: Vec<usize> = (0..shipped.recordings.len())
            .filter(|&r| shipped.recordings[r].take >= 5)
            .collect();
        let no_test = Bundle {
            recordings: keep.iter().map(|&r| shipped.recordings[r]).collect(),
            features: keep
                .iter()
                .flat_map(|&r| feature_row(&shipped, r).to_vec())
                .collect(),
            test_waveforms: Vec::new(),
            ..shipped.clone()
        };
        let err = AvDigits::from_bundle(no_test, &AvDigitsConfig::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the test split is empty: AV-digits has no recording there"
        );
        let no_sevens = Bundle {
            images: shipped
                .images
                .chunks(64)
                .zip(&shipped.image_labels)
                .filter(|(_, &l)| l != 7)
                .flat_map(|(p, _)| p.to_vec())
                .collect(),
            image_labels: shipped.image_labels.iter().copied().filter(|&l| l != 7).collect(),
            ..shipped
        };
        let err = AvDigits::from_bundle(no_sevens, &AvDigitsConfig::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the train split is empty: AV-digits has recordings of digit 7 but no image of it"
        );
    }

    #[test]
    fn a_bundle_round_trips_and_damage_is_named() {
        let bundle = Bundle::shipped().unwrap();
        let bytes = bundle.to_bytes().unwrap();
        assert_eq!(Bundle::from_bytes(&bytes, Path::new("b")).unwrap(), bundle);
        let err = Bundle::from_bytes(&bytes[..1000], Path::new("b")).unwrap_err();
        assert!(err.to_string().starts_with("b: not an AV-digits bundle"), "{err}");
    }

    #[test]
    fn building_reads_a_folder_of_recordings() {
        let dir = std::env::temp_dir().join(format!("mosaic-avdigits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fsdd");
        for name in ["0_jackson_0.wav", "3_george_2.wav", "9_theo_16.wav"] {
            std::fs::copy(fixtures.join(name), dir.join(name)).unwrap();
        }
        let digits = dir.join("digits.safetensors");
        let labels: Vec<u8> = (0..3i64).flat_map(|l| (l * 3).to_le_bytes()).collect();
        let pixels = vec![7u8; 3 * 64];
        let views = [
            (
                "images",
                TensorView::new(Dtype::U8, vec![3, 8, 8], &pixels).unwrap(),
            ),
            ("labels", TensorView::new(Dtype::I64, vec![3], &labels).unwrap()),
        ];
        std::fs::write(&digits, safetensors::serialize(views, None).unwrap()).unwrap();
        let mut calls = 0;
        let bundle = Bundle::build(&dir, &digits, |_, _| calls += 1).unwrap();
        assert_eq!(calls, 3);
        assert_eq!(bundle.speakers, ["george", "jackson", "theo"]);
        assert_eq!(
            bundle.recordings,
            [
                Recording {
                    digit: 0,
                    speaker: 1,
                    take: 0
                },
                Recording {
                    digit: 3,
                    speaker: 0,
                    take: 2
                },
                Recording {
                    digit: 9,
                    speaker: 2,
                    take: 16
                },
            ]
        );
        // Takes 0 and 2 are test recordings; their waveforms are kept.
        assert_eq!(bundle.test_waveforms.len(), 2);
        assert_eq!(bundle.image_labels, [0, 3, 6]);
        std::fs::write(dir.join("zero_jackson_1.wav"), b"").unwrap();
        let err = Bundle::build(&dir, &digits, |_, _| {}).unwrap_err().to_string();
        assert!(err.ends_with("zero_jackson_1.wav: expected a name {digit}_{speaker}_{take}.wav with a digit 0-9 and a take 0-49"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
