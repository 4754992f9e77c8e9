//! CMU-MOSI from the CMU-MultimodalSDK's computational sequences: word vectors (GloVe),
//! COVAREP audio, FACET visual features and the opinion-segment labels, assembled into
//! [`Dataset`] segments with the SDK's standard folds.
//!
//! Per labelled segment `[s, e)` of a video (`labels` row `i`, id `video[i]`):
//!
//! 1. **Words**: the word rows whose interval midpoint lies in `[s, e)`, in time order;
//!    all-zero rows (the SDK's silence token `sp`) are dropped. A segment without words is
//!    skipped (counted in [`LoadReport::segments_without_words`]).
//! 2. **Alignment** (interval averaging): for each word `[w_s, w_e)`, every audio or visual
//!    frame `[f_s, f_e)` that overlaps it contributes with weight equal to the overlap
//!    `min(w_e, f_e) − max(w_s, f_s)`, feature by feature.
//! 3. **Non-finite values**, per feature: a NaN, a ±∞ or a finite value beyond f32's range
//!    (which would become ∞ in f32) in a frame is left out of that feature's average (the
//!    weights of the finite values are renormalised); a feature with no finite value over
//!    the word is 0. COVAREP has both kinds. They are counted per file in
//!    [`LoadReport::non_finite_features`]. A segment whose label or any of whose kept word
//!    vectors is not finite in f32 is left out ([`LoadReport::segments_with_non_finite_label`],
//!    [`LoadReport::segments_with_non_finite_words`]).
//! 4. **Segment vectors**: audio and video are the mean over the segment's words of the
//!    aligned vectors (the TFN/LMF models' input); text is the sequence of word vectors,
//!    the first `max_words` kept, zero rows before shorter ones.
//! 5. **Standardisation**: each audio and visual feature is shifted and scaled by the
//!    training split's mean and standard deviation (1 where that is 0).
//!
//! Videos outside the standard folds are left out ([`LoadReport::videos_outside_folds`]);
//! a labelled video of a fold that a feature file lacks is an error naming both.

use crate::csd::{self, Entry, Sequence};
use crate::dataset::{Dataset, Sample, SplitName};
use crate::{folds, DataError, Result};
use std::path::{Path, PathBuf};

/// The four files, by the names of the SDK's CMU-MOSI release.
#[derive(Debug, Clone, PartialEq)]
pub struct MosiFiles {
    /// `CMU_MOSI_TimestampedWordVectors.csd` (GloVe vectors, one row per word).
    pub words: PathBuf,
    /// `CMU_MOSI_COVAREP.csd`.
    pub audio: PathBuf,
    /// `CMU_MOSI_Visual_Facet_42.csd`.
    pub visual: PathBuf,
    /// `CMU_MOSI_Opinion_Labels.csd` (one row per opinion segment: `[sentiment]`).
    pub labels: PathBuf,
}

impl MosiFiles {
    /// The standard file names in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        MosiFiles {
            words: dir.join("CMU_MOSI_TimestampedWordVectors.csd"),
            audio: dir.join("CMU_MOSI_COVAREP.csd"),
            visual: dir.join("CMU_MOSI_Visual_Facet_42.csd"),
            labels: dir.join("CMU_MOSI_Opinion_Labels.csd"),
        }
    }
}

/// What loading left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Labelled videos in none of the standard folds.
    pub videos_outside_folds: Vec<String>,
    /// Segment ids without any (non-silence) word.
    pub segments_without_words: Vec<String>,
    /// Segment ids left out because their label is not finite in f32.
    pub segments_with_non_finite_label: Vec<String>,
    /// Segment ids left out because a kept word vector holds a value not finite in f32.
    pub segments_with_non_finite_words: Vec<String>,
    /// Per audio or visual file with any, the feature values that are not finite in f32
    /// (left out of the averages: module docs, step 3).
    pub non_finite_features: Vec<(PathBuf, usize)>,
}

impl LoadReport {
    /// One line per kind of thing left out or cleaned, for a log (empty when nothing was).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (ids, what) in [
            (
                &self.videos_outside_folds,
                "labelled videos are in no standard fold and were left out",
            ),
            (
                &self.segments_without_words,
                "segments without words were left out",
            ),
            (
                &self.segments_with_non_finite_label,
                "segments with a non-finite label were left out",
            ),
            (
                &self.segments_with_non_finite_words,
                "segments with a non-finite word-vector value were left out",
            ),
        ] {
            if let Some(first) = ids.first() {
                lines.push(format!("{} {what} (first: {first})", ids.len()));
            }
        }
        for (file, count) in &self.non_finite_features {
            lines.push(format!(
                "{}: {count} feature values are NaN, infinite or beyond f32's range; they were left out of the word averages",
                file.display()
            ));
        }
        lines
    }
}

/// Default words per segment (CMU-MOSI segments have 12 on average).
pub const MAX_WORDS: usize = 20;

/// Loads CMU-MOSI from `files`, keeping at most `max_words` words per segment.
///
/// # Errors
/// Any [`csd::read`] error (naming the file); [`DataError::Layout`] for labels that are not
/// one value per segment; [`DataError::Mismatch`] when a feature file lacks a labelled
/// video; [`DataError::EmptySplit`] when a fold has no labelled segment.
pub fn load(files: &MosiFiles, max_words: usize) -> Result<(Dataset, LoadReport)> {
    let [words, audio, visual, labels] =
        [&files.words, &files.audio, &files.visual, &files.labels].map(|p| csd::read(p));
    let (words, audio, visual, labels) = (words?, audio?, visual?, labels?);
    assemble(&words, &audio, &visual, &labels, files, max_words)
}

fn assemble<'a>(
    words: &'a Sequence,
    audio: &'a Sequence,
    visual: &'a Sequence,
    labels: &'a Sequence,
    files: &MosiFiles,
    max_words: usize,
) -> Result<(Dataset, LoadReport)> {
    if labels.width != 1 {
        return Err(DataError::layout(
            &labels.path,
            format!(
                "labels have {} values per segment, expected 1 (the sentiment score)",
                labels.width
            ),
        ));
    }
    let max_words = max_words.max(1);
    let mut report = LoadReport {
        non_finite_features: [audio, visual]
            .iter()
            .filter(|s| s.non_finite > 0)
            .map(|s| (s.path.clone(), s.non_finite))
            .collect(),
        ..LoadReport::default()
    };
    let mut splits: [Vec<Sample>; 3] = Default::default();
    for (video, segments) in &labels.entries {
        let Some(split) = folds::fold_of(video) else {
            report.videos_outside_folds.push(video.clone());
            continue;
        };
        let entry = |sequence: &'a Sequence| -> Result<&'a Entry> {
            sequence.entries.get(video).ok_or_else(|| DataError::Mismatch {
                message: format!(
                    "segment ids do not match across modalities: video `{video}` is labelled in {} but has no `{}` features in {}",
                    labels.path.display(),
                    sequence.name,
                    sequence.path.display()
                ),
            })
        };
        let (w, a, v) = (entry(words)?, entry(audio)?, entry(visual)?);
        for (i, interval) in segments.intervals.iter().enumerate() {
            let id = format!("{video}[{i}]");
            let word_rows: Vec<usize> = (0..w.intervals.len())
                .filter(|&j| {
                    let middle = 0.5 * (w.intervals[j][0] + w.intervals[j][1]);
                    middle >= interval[0] && middle < interval[1] && w.row(j).iter().any(|&x| x != 0.0)
                })
                .collect();
            if word_rows.is_empty() {
                report.segments_without_words.push(id);
                continue;
            }
            let label = segments.row(i)[0];
            if !csd::finite_in_f32(label) {
                report.segments_with_non_finite_label.push(id);
                continue;
            }
            let kept = &word_rows[..word_rows.len().min(max_words)];
            if kept
                .iter()
                .any(|&j| !w.row(j).iter().all(|&x| csd::finite_in_f32(x)))
            {
                report.segments_with_non_finite_words.push(id);
                continue;
            }
            let mean_aligned = |frames: &Entry| -> Vec<f32> {
                let mut sum = vec![0.0; frames.width];
                for &j in &word_rows {
                    let aligned = average_over(frames, w.intervals[j]);
                    sum.iter_mut().zip(aligned).for_each(|(s, x)| *s += x);
                }
                sum.into_iter()
                    .map(|s| (s / word_rows.len() as f64) as f32)
                    .collect()
            };
            let mut text = vec![0.0f32; (max_words - kept.len()) * w.width];
            text.extend(kept.iter().flat_map(|&j| w.row(j).iter().map(|&x| x as f32)));
            splits[split as usize].push(Sample {
                id,
                text,
                audio: mean_aligned(a),
                video: mean_aligned(v),
                label: label as f32,
                terms: Vec::new(),
            });
        }
    }
    let [mut train, mut valid, mut test] = splits;
    for (split, samples) in [
        (SplitName::Train, &train),
        (SplitName::Valid, &valid),
        (SplitName::Test, &test),
    ] {
        if samples.is_empty() {
            let fold = folds::videos(split);
            return Err(DataError::EmptySplit {
                split: split.name(),
                detail: format!(
                    "none of the standard {} fold's {} videos ({}, …) has a labelled segment with words in {}",
                    split.name(),
                    fold.len(),
                    fold[..3].join(", "),
                    labels.path.display()
                ),
            });
        }
    }
    standardise(&mut train, &mut valid, &mut test, audio_of);
    standardise(&mut train, &mut valid, &mut test, video_of);
    let dataset = Dataset {
        name: files
            .labels
            .parent()
            .map_or_else(|| "CMU-MOSI".into(), |p| p.display().to_string()),
        text_len: max_words,
        text_width: words.width,
        audio_width: audio.width,
        video_width: visual.width,
        train,
        valid,
        test,
    };
    Ok((dataset, report))
}

/// The overlap-weighted average of `frames` over `[start, end)`, feature by feature, with
/// non-finite values left out (module docs, steps 2 and 3).
pub fn average_over(frames: &Entry, [start, end]: [f64; 2]) -> Vec<f64> {
    let mut sum = vec![0.0; frames.width];
    let mut weight = vec![0.0; frames.width];
    // Frames are in time order: skip those that end before the word starts.
    let first = frames.intervals.partition_point(|f| f[1] <= start);
    for (i, f) in frames.intervals.iter().enumerate().skip(first) {
        if f[0] >= end {
            break;
        }
        let overlap = end.min(f[1]) - start.max(f[0]);
        if overlap <= 0.0 {
            continue;
        }
        for (k, &x) in frames.row(i).iter().enumerate() {
            if csd::finite_in_f32(x) {
                sum[k] += overlap * x;
                weight[k] += overlap;
            }
        }
    }
    sum.iter()
        .zip(&weight)
        .map(|(s, w)| if *w > 0.0 { s / w } else { 0.0 })
        .collect()
}

fn audio_of(s: &mut Sample) -> &mut Vec<f32> {
    &mut s.audio
}

fn video_of(s: &mut Sample) -> &mut Vec<f32> {
    &mut s.video
}

/// Standardises one vector modality of every split with the training split's statistics.
fn standardise(
    train: &mut [Sample],
    valid: &mut [Sample],
    test: &mut [Sample],
    select: fn(&mut Sample) -> &mut Vec<f32>,
) {
    let width = select(&mut train[0]).len();
    let n = train.len() as f64;
    let mut mean = vec![0.0f64; width];
    let mut square = vec![0.0f64; width];
    for s in train.iter_mut() {
        for (k, &x) in select(s).iter().enumerate() {
            mean[k] += f64::from(x) / n;
            square[k] += f64::from(x).powi(2) / n;
        }
    }
    let sd: Vec<f64> = mean
        .iter()
        .zip(&square)
        .map(|(m, q)| (q - m * m).max(0.0).sqrt())
        .collect();
    for s in train.iter_mut().chain(valid.iter_mut()).chain(test.iter_mut()) {
        for (k, x) in select(s).iter_mut().enumerate() {
            let scale = if sd[k] > 1e-8 { sd[k] } else { 1.0 };
            *x = ((f64::from(*x) - mean[k]) / scale) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    #[test]
    fn interval_average_weights_by_overlap_and_skips_non_finite_values() {
        // Three 0.1 s frames; the word [0.05, 0.2) covers half of the first and the whole second.
        let frames = Entry {
            features: vec![1.0, f64::NAN, 4.0, 10.0, 100.0, 20.0],
            width: 2,
            intervals: vec![[0.0, 0.1], [0.1, 0.2], [0.2, 0.3]],
        };
        let avg = average_over(&frames, [0.05, 0.2]);
        // Feature 0: (0.05·1 + 0.1·4) / 0.15 = 3; feature 1: the NaN is left out → 10.
        assert!(
            (avg[0] - 3.0).abs() < 1e-12 && (avg[1] - 10.0).abs() < 1e-12,
            "{avg:?}"
        );
        let inf = Entry {
            features: vec![f64::NEG_INFINITY, 2.0],
            width: 1,
            intervals: vec![[0.0, 1.0], [1.0, 2.0]],
        };
        assert_eq!(
            average_over(&inf, [0.0, 1.0]),
            vec![0.0],
            "no finite value over the word"
        );
        assert_eq!(average_over(&inf, [0.5, 2.0]), vec![2.0]);
        // Finite in f64 but ∞ in f32: left out like ∞ (it would make the feature NaN after
        // standardisation), while f32::MAX itself is kept.
        let huge = Entry {
            features: vec![1e300, 2.0, f64::from(f32::MAX)],
            width: 1,
            intervals: vec![[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]],
        };
        assert_eq!(average_over(&huge, [0.5, 2.0]), vec![2.0]);
        assert_eq!(average_over(&huge, [2.0, 3.0]), vec![f64::from(f32::MAX)]);
        assert_eq!(
            average_over(&inf, [5.0, 6.0]),
            vec![0.0],
            "no frame over the word"
        );
    }

    #[test]
    fn loads_the_fixture_with_standard_folds_and_word_alignment() {
        let files = MosiFiles::in_dir(&fixtures().join("mosi"));
        let (data, report) = load(&files, 6).unwrap();
        data.validate().unwrap();
        assert!(report.videos_outside_folds.is_empty());
        assert!(data
            .train
            .iter()
            .all(|s| folds::fold_of(s.id.split('[').next().unwrap()) == Some(SplitName::Train)));
        assert!(data.valid.iter().all(|s| s.id.starts_with("WKA5OygbEKI[")));
        assert!(data.test.iter().all(|s| s.id.starts_with("tmZoasNr4rU[")));
        assert_eq!(
            (data.text_width, data.audio_width, data.video_width, data.text_len),
            (16, 8, 6, 6)
        );

        // Recompute one segment by hand from the raw sequences.
        let words = csd::read(&files.words).unwrap();
        let labels = csd::read(&files.labels).unwrap();
        let sample = &data.train[0];
        let (video, index) = sample.id.trim_end_matches(']').split_once('[').unwrap();
        let index: usize = index.parse().unwrap();
        let segment = labels.entries[video].intervals[index];
        assert_eq!(
            sample.label as f64,
            labels.entries[video].row(index)[0] as f32 as f64
        );
        let w = &words.entries[video];
        let inside: Vec<usize> = (0..w.intervals.len())
            .filter(|&j| {
                let m = 0.5 * (w.intervals[j][0] + w.intervals[j][1]);
                m >= segment[0] && m < segment[1] && w.row(j).iter().any(|&x| x != 0.0)
            })
            .collect();
        let kept = inside.len().min(6);
        let last_word = &sample.text[(6 - 1) * 16..];
        let expected: Vec<f32> = w.row(inside[kept - 1]).iter().map(|&x| x as f32).collect();
        assert_eq!(last_word, expected.as_slice());
        assert!(
            sample.text[..(6 - kept) * 16].iter().all(|&x| x == 0.0),
            "padding comes first"
        );

        // Standardised with training statistics: mean 0 and sd 1 on train, features finite.
        for k in 0..data.audio_width {
            let xs: Vec<f64> = data.train.iter().map(|s| f64::from(s.audio[k])).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
                "audio feature {k}: {mean} {var}"
            );
        }
        assert!(data
            .test
            .iter()
            .all(|s| s.audio.iter().chain(&s.video).all(|x| x.is_finite())));
    }

    /// Non-finite labels and word vectors leave their segment out, and both they and the
    /// feature files' non-finite values are reported; what is kept is finite.
    #[test]
    fn non_finite_labels_and_words_are_reported_and_left_out() {
        let files = MosiFiles::in_dir(&fixtures().join("mosi"));
        let [mut words, audio, visual, mut labels] =
            [&files.words, &files.audio, &files.visual, &files.labels].map(|p| csd::read(p).unwrap());
        let (clean, clean_report) = assemble(&words, &audio, &visual, &labels, &files, 6).unwrap();
        // The fixture's COVAREP has NaN and ±∞ (module docs of the fixture script).
        assert_eq!(clean_report.non_finite_features.len(), 1);
        assert_eq!(clean_report.non_finite_features[0].0, files.audio);
        assert_eq!(clean_report.non_finite_features[0].1, audio.non_finite);
        assert!(audio.non_finite > 0 && visual.non_finite == 0);
        let first = clean.train[0].id.clone();
        let second = clean.train[1].id.clone();
        let (video, index) = first.trim_end_matches(']').split_once('[').unwrap();
        labels.entries.get_mut(video).unwrap().features[index.parse::<usize>().unwrap()] = f64::NAN;
        // A value beyond f32 in the first kept word of the second segment.
        let (video, index) = second.trim_end_matches(']').split_once('[').unwrap();
        let segment = labels.entries[video].intervals[index.parse::<usize>().unwrap()];
        let entry = words.entries.get_mut(video).unwrap();
        let word = (0..entry.intervals.len())
            .find(|&j| {
                let m = 0.5 * (entry.intervals[j][0] + entry.intervals[j][1]);
                m >= segment[0] && m < segment[1] && entry.row(j).iter().any(|&x| x != 0.0)
            })
            .unwrap();
        entry.features[word * entry.width] = 1e39;
        let (data, report) = assemble(&words, &audio, &visual, &labels, &files, 6).unwrap();
        assert_eq!(report.segments_with_non_finite_label, vec![first]);
        assert_eq!(report.segments_with_non_finite_words, vec![second]);
        assert_eq!(data.train.len(), clean.train.len() - 2);
        assert!(report
            .lines()
            .iter()
            .any(|l| l.starts_with("1 segments with a non-finite label")));
        assert!(data
            .train
            .iter()
            .all(|s| s.label.is_finite() && s.text.iter().all(|x| x.is_finite())));
    }

    #[test]
    fn mismatched_videos_and_empty_folds_are_named() {
        let dir = fixtures();
        let mut files = MosiFiles::in_dir(&dir.join("mosi"));
        files.audio = dir.join("broken/covarep_missing_video.csd");
        let error = load(&files, 6).unwrap_err().to_string();
        assert!(
            error.contains("video `8d-gEyoeBzc`")
                && error.contains("no `COVAREP` features")
                && error.contains("covarep_missing_video.csd"),
            "{error}"
        );
        let mut files = MosiFiles::in_dir(&dir.join("mosi"));
        files.labels = dir.join("broken/labels_other_videos.csd");
        let error = load(&files, 6).unwrap_err().to_string();
        assert!(
            error.starts_with("the train split is empty") && error.contains("labels_other_videos.csd"),
            "{error}"
        );
    }
}
