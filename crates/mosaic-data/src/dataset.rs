//! The in-memory form every dataset takes: three splits of segments, each with a text
//! sequence, an audio vector, a video vector and a sentiment label.

use crate::{DataError, Result};
use std::fmt;
use std::str::FromStr;

/// One of the three modalities of the sentiment experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Modality {
    /// A sequence of word vectors.
    Text,
    /// One acoustic feature vector per segment.
    Audio,
    /// One visual feature vector per segment.
    Video,
}

impl Modality {
    /// All three, in the order models take them.
    pub const ALL: [Modality; 3] = [Modality::Text, Modality::Audio, Modality::Video];

    /// `text`, `audio` or `video`.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Text => "text",
            Modality::Audio => "audio",
            Modality::Video => "video",
        }
    }

    /// The modality's bit in a [`ModalitySet`].
    pub fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Parses a comma-separated list (`text,audio`), in any order, without repeats.
    ///
    /// # Errors
    /// An unknown name, a repeat, or an empty list.
    pub fn parse_list(list: &str) -> Result<Vec<Modality>> {
        let mut out: Vec<Modality> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let m: Modality = name.parse()?;
            if out.contains(&m) {
                return Err(DataError::Invalid(format!(
                    "modality `{name}` is listed twice in `{list}`"
                )));
            }
            out.push(m);
        }
        if out.is_empty() {
            return Err(DataError::Invalid(
                "no modality given (expected e.g. text,audio,video)".into(),
            ));
        }
        out.sort();
        Ok(out)
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Modality {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        Modality::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            DataError::Invalid(format!("unknown modality `{s}` (expected text, audio or video)"))
        })
    }
}

/// A set of modalities as bits (`Modality::bit`).
pub type ModalitySet = u8;

/// The set of `modalities`.
pub fn modality_set(modalities: &[Modality]) -> ModalitySet {
    modalities.iter().fold(0, |set, m| set | m.bit())
}

/// A known part of a synthetic label: `value` depends on exactly the modalities in `set`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// The modalities the term is a function of.
    pub set: ModalitySet,
    /// Its value for this sample.
    pub value: f32,
}

/// One segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Segment id (`video[index]` for CMU-MOSI).
    pub id: String,
    /// `[text_len, text_width]` row-major word vectors, zero rows first where the segment is
    /// shorter than `text_len`.
    pub text: Vec<f32>,
    /// `[audio_width]`.
    pub audio: Vec<f32>,
    /// `[video_width]`.
    pub video: Vec<f32>,
    /// Sentiment in [-3, 3].
    pub label: f32,
    /// The label's noiseless components, where known (the synthetic dataset).
    pub terms: Vec<Term>,
}

/// `train`, `valid` or `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitName {
    /// Fitting.
    Train,
    /// Early stopping.
    Valid,
    /// Reported metrics.
    Test,
}

impl SplitName {
    /// All three.
    pub const ALL: [SplitName; 3] = [SplitName::Train, SplitName::Valid, SplitName::Test];

    /// `train`, `valid` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Valid => "valid",
            SplitName::Test => "test",
        }
    }
}

impl FromStr for SplitName {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|split| split.name() == name)
            .ok_or_else(|| {
                DataError::Invalid(format!("unknown split `{name}` (expected train, valid or test)"))
            })
    }
}

/// A dataset in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `trimodal` or the folder it was read from.
    pub name: String,
    /// Words per text sequence.
    pub text_len: usize,
    /// Width of each word vector.
    pub text_width: usize,
    /// Width of the audio vectors.
    pub audio_width: usize,
    /// Width of the video vectors.
    pub video_width: usize,
    /// Training segments.
    pub train: Vec<Sample>,
    /// Validation segments.
    pub valid: Vec<Sample>,
    /// Test segments.
    pub test: Vec<Sample>,
}

impl Dataset {
    /// The samples of one split.
    pub fn split(&self, split: SplitName) -> &[Sample] {
        match split {
            SplitName::Train => &self.train,
            SplitName::Valid => &self.valid,
            SplitName::Test => &self.test,
        }
    }

    /// The width a model's input for `modality` has: the word-vector width for text.
    pub fn width(&self, modality: Modality) -> usize {
        match modality {
            Modality::Text => self.text_width,
            Modality::Audio => self.audio_width,
            Modality::Video => self.video_width,
        }
    }

    /// Checks that no split is empty and every sample has the dataset's shapes.
    ///
    /// # Errors
    /// [`DataError::EmptySplit`], or [`DataError::Invalid`] naming the sample and modality.
    pub fn validate(&self) -> Result<()> {
        for split in SplitName::ALL {
            let samples = self.split(split);
            if samples.is_empty() {
                return Err(DataError::EmptySplit {
                    split: split.name(),
                    detail: format!("dataset `{}` has no {} segments", self.name, split.name()),
                });
            }
            for s in samples {
                for (what, len, expected) in [
                    ("text", s.text.len(), self.text_len * self.text_width),
                    ("audio", s.audio.len(), self.audio_width),
                    ("video", s.video.len(), self.video_width),
                ] {
                    if len != expected {
                        return Err(DataError::Invalid(format!(
                            "{} segment `{}`: {what} has {len} values, expected {expected}",
                            split.name(),
                            s.id
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The best mean absolute error on `split` of a model that sees `modalities`, where the
    /// labels' components are known (synthetic data): it predicts the clipped sum of the
    /// terms whose modalities it has. `None` for datasets without known components.
    pub fn oracle_mae(&self, split: SplitName, modalities: &[Modality]) -> Option<f64> {
        let samples = self.split(split);
        if samples.is_empty() || samples.iter().any(|s| s.terms.is_empty()) {
            return None;
        }
        let set = modality_set(modalities);
        let total: f64 = samples
            .iter()
            .map(|s| {
                let known: f32 = s
                    .terms
                    .iter()
                    .filter(|t| t.set & !set == 0)
                    .map(|t| t.value)
                    .sum();
                f64::from((known.clamp(-3.0, 3.0) - s.label).abs())
            })
            .sum();
        Some(total / samples.len() as f64)
    }
}
