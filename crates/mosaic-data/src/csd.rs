//! Reader of CMU-MultimodalSDK computational sequences (`.csd`, HDF5).
//!
//! Layout (the SDK's `computational_sequence` writer): one top-level group named after the
//! sequence (`glove_vectors`, `COVAREP`, …) holding
//!
//! - `data/<id>/features`: `[frames, width]` floats (f32 or f64),
//! - `data/<id>/intervals`: `[frames, 2]` start and end times in seconds,
//! - `metadata/<key>`: JSON strings (not needed to load the data; not read).
//!
//! Contiguous and chunked (gzip) datasets are both read, by the pure-Rust `hdf5-reader`.
//!
//! # Hostile files
//!
//! What a file declares is checked before anything is allocated for it: a dataset's
//! declared size (elements × element size) must be at most [`MAX_DATASET_BYTES`] and fit in
//! the file (stored bytes for an unfiltered dataset; at most [`MAX_COMPRESSION_RATIO`] times
//! the file's length for a compressed one), and a chunked dataset may not have more chunks
//! than the file has bytes. Decoded chunks are capped at [`MAX_CHUNK_BYTES`]. A file that
//! breaks a rule is a [`DataError::Layout`] naming the dataset; a file the HDF5 decoder cannot
//! parse is a [`DataError::Hdf5`], never a panic or an abort. Interval times must be finite;
//! feature values may be anything (NaN and ±∞ are counted in [`Sequence::non_finite`] and
//! handled by the loader).

use crate::{DataError, Result};
use hdf5_reader::messages::HdfMessage;
use hdf5_reader::{Dataset, Datatype, Hdf5File, OpenOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The frames of one id (a video).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `[frames, width]` row-major.
    pub features: Vec<f64>,
    /// Columns of `features`.
    pub width: usize,
    /// `[start, end]` of each frame, seconds.
    pub intervals: Vec<[f64; 2]>,
}

impl Entry {
    /// Frame `i`'s features.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.features[i * self.width..(i + 1) * self.width]
    }
}

/// A whole computational sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    /// The top-level group's name.
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Feature width (the same for every id).
    pub width: usize,
    /// Frames per id, by id.
    pub entries: BTreeMap<String, Entry>,
    /// Feature values that are NaN, ±∞, or finite but beyond f32's range (which mosaic
    /// computes in): how the loader treats them is its rule (e.g.
    /// [`mosi`](crate::mosi), step 3).
    pub non_finite: usize,
}

/// The most bytes one dataset may declare (1 GiB); the reader's peak memory is about four
/// times a dataset's size (decoded, then widened to f64).
pub const MAX_DATASET_BYTES: u64 = 1 << 30;
/// The most decoded bytes one chunk of a chunked dataset may declare (64 MiB).
pub const MAX_CHUNK_BYTES: usize = 64 << 20;
/// The most decoded bytes a compressed dataset may declare per byte of file: DEFLATE's
/// largest compression ratio.
pub const MAX_COMPRESSION_RATIO: u64 = 1032;

/// Whether `x` is finite in f32, the precision mosaic computes in.
pub fn finite_in_f32(x: f64) -> bool {
    x.is_finite() && x.abs() <= f64::from(f32::MAX)
}

/// Checks what dataset `d` (`what`, in `file` of `file_len` bytes) declares, before it is read
/// (module docs, "Hostile files").
fn check_declared(file: &Hdf5File, d: &Dataset, file_len: u64, path: &Path, what: &str) -> Result<()> {
    let shape = d.shape().to_vec();
    let refuse = |why: String| DataError::layout(path, format!("`{what}` declares shape {shape:?}: {why}"));
    let element = d.raw_element_size().map_err(|e| refuse(e.to_string()))? as u64;
    let declared = d
        .num_elements()
        .ok()
        .and_then(|n| n.checked_mul(element))
        .ok_or_else(|| refuse("its size overflows".into()))?;
    let header = file
        .get_or_parse_header(d.address())
        .map_err(|e| refuse(e.to_string()))?;
    let compressed = header
        .messages
        .iter()
        .any(|m| matches!(m, HdfMessage::FilterPipeline(p) if !p.filters.is_empty()));
    let (room, of) = if compressed {
        (
            file_len.saturating_mul(MAX_COMPRESSION_RATIO),
            format!("{MAX_COMPRESSION_RATIO} times the file's {file_len} bytes (the most a compressed dataset can expand)"),
        )
    } else {
        (file_len, format!("the file's {file_len} bytes"))
    };
    if declared > MAX_DATASET_BYTES {
        return Err(refuse(format!(
            "{declared} bytes, more than the limit of {MAX_DATASET_BYTES} bytes per dataset"
        )));
    }
    if declared > room {
        return Err(refuse(format!("{declared} bytes, more than {of}")));
    }
    if let Some(chunk) = d.chunks() {
        let chunks = shape
            .iter()
            .zip(&chunk)
            .try_fold(1u64, |n, (&s, &c)| n.checked_mul(s.div_ceil(u64::from(c.max(1)))));
        if chunks.is_none_or(|n| n > file_len) {
            return Err(refuse(format!(
                "chunks of {chunk:?} make more chunks than the file has bytes"
            )));
        }
    }
    Ok(())
}

const EXPECTED: &str =
    "expected a computational sequence: one top-level group holding `data/<id>/features` [frames, width] and `data/<id>/intervals` [frames, 2]";

/// Reads the computational sequence at `path`.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::Hdf5`] when it is not HDF5,
/// [`DataError::Layout`] when its groups or datasets are not a computational sequence's
/// (the message names the id and dataset), including ids whose widths differ.
pub fn read(path: &Path) -> Result<Sequence> {
    let file_len = std::fs::metadata(path)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    // The decoder has no known panic on malformed input; should one exist, it is this
    // file's error, not the caller's crash.
    std::panic::catch_unwind(|| read_sequence(path, file_len)).unwrap_or_else(|_| {
        Err(DataError::Hdf5 {
            path: path.to_path_buf(),
            message: "the HDF5 decoder failed on malformed data".into(),
        })
    })
}

fn read_sequence(path: &Path, file_len: u64) -> Result<Sequence> {
    let hdf5 = |e: hdf5_reader::error::Error| DataError::Hdf5 {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let options = OpenOptions::default()
        .with_max_read_bytes(usize::try_from(MAX_DATASET_BYTES).unwrap_or(usize::MAX))
        .with_max_chunk_bytes(MAX_CHUNK_BYTES);
    let file = Hdf5File::open_with_options(path, options).map_err(hdf5)?;
    let root = file.root_group().map_err(hdf5)?;
    let (groups, _) = root.member_names().map_err(hdf5)?;
    let [name] = groups.as_slice() else {
        return Err(DataError::layout(
            path,
            format!("{EXPECTED}; found top-level groups {groups:?}"),
        ));
    };
    let sequence = root.group(name).map_err(hdf5)?;
    let data = sequence
        .group("data")
        .map_err(|_| DataError::layout(path, format!("{EXPECTED}; group `{name}` has no `data` group")))?;
    let (ids, _) = data.member_names().map_err(hdf5)?;
    let mut entries = BTreeMap::new();
    let mut width = None;
    let mut non_finite = 0;
    for id in ids {
        let group = data.group(&id).map_err(hdf5)?;
        let read = |dataset: &str| -> Result<(Vec<f64>, Vec<u64>)> {
            let what = format!("{name}/data/{id}/{dataset}");
            let d = group
                .dataset(dataset)
                .map_err(|_| DataError::layout(path, format!("{EXPECTED}; `{what}` is missing")))?;
            if let Datatype::FloatingPoint { .. } = d.dtype() {
                check_declared(&file, &d, file_len, path, &what)?;
            }
            let values = match d.dtype() {
                Datatype::FloatingPoint { size: 4, .. } => d
                    .read_array::<f32>()
                    .map(|a| a.iter().map(|&x| f64::from(x)).collect()),
                Datatype::FloatingPoint { size: 8, .. } => {
                    d.read_array::<f64>().map(|a| a.iter().copied().collect())
                }
                other => {
                    return Err(DataError::layout(
                        path,
                        format!("`{what}` has type {other:?}, expected floats"),
                    ))
                }
            }
            .map_err(hdf5)?;
            Ok((values, d.shape().to_vec()))
        };
        let (features, shape) = read("features")?;
        let (times, time_shape) = read("intervals")?;
        let [frames, w] = shape[..] else {
            return Err(DataError::layout(
                path,
                format!("`{name}/data/{id}/features` has shape {shape:?}, expected [frames, width]"),
            ));
        };
        if time_shape[..] != [frames, 2] {
            return Err(DataError::layout(
                path,
                format!("`{name}/data/{id}/intervals` has shape {time_shape:?}, expected [{frames}, 2] (one [start, end] per feature row)"),
            ));
        }
        let w = w as usize;
        if *width.get_or_insert(w) != w {
            return Err(DataError::layout(
                path,
                format!(
                    "`{id}` has {w} features per frame, other ids {}",
                    width.unwrap_or(0)
                ),
            ));
        }
        if let Some(frame) = times.iter().position(|t| !t.is_finite()) {
            return Err(DataError::layout(
                path,
                format!(
                    "`{name}/data/{id}/intervals` has a non-finite time in frame {} (times must be finite seconds)",
                    frame / 2
                ),
            ));
        }
        non_finite += features.iter().filter(|&&x| !finite_in_f32(x)).count();
        let intervals = times.chunks(2).map(|c| [c[0], c[1]]).collect();
        entries.insert(
            id,
            Entry {
                features,
                width: w,
                intervals,
            },
        );
    }
    let width =
        width.ok_or_else(|| DataError::layout(path, format!("{EXPECTED}; `{name}/data` is empty")))?;
    Ok(Sequence {
        name: name.clone(),
        path: path.to_path_buf(),
        width,
        entries,
        non_finite,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    #[test]
    fn reads_contiguous_and_gzip_chunked_sequences() {
        let words = read(&fixture("mosi/CMU_MOSI_TimestampedWordVectors.csd")).unwrap();
        assert_eq!(
            (words.name.as_str(), words.width, words.entries.len()),
            ("glove_vectors", 16, 6)
        );
        let audio = read(&fixture("mosi/CMU_MOSI_COVAREP.csd")).unwrap();
        assert_eq!((audio.name.as_str(), audio.width), ("COVAREP", 8));
        // The fixture script puts NaN in every 7th frame of column 2 and +inf in every 13th
        // frame (from the 5th) of column 5, at 100 frames per second.
        let entry = &audio.entries["2iD-tVS8NPw"];
        assert!(entry.row(0)[2].is_nan() && entry.row(7)[2].is_nan() && entry.row(1)[2].is_finite());
        assert_eq!(entry.row(5)[5], f64::INFINITY);
        assert_eq!(entry.row(3)[2], f64::NEG_INFINITY);
        assert!((entry.intervals[1][0] - 0.01).abs() < 1e-12 && (entry.intervals[1][1] - 0.02).abs() < 1e-12);
    }

    #[test]
    fn bad_files_name_the_file_and_the_expected_layout() {
        let missing = read(&fixture("mosi/nope.csd")).unwrap_err().to_string();
        assert!(
            missing.contains("nope.csd") && missing.contains("No such file"),
            "{missing}"
        );
        let not_hdf5 = read(&fixture("broken/not_hdf5.csd")).unwrap_err().to_string();
        assert!(
            not_hdf5.contains("not_hdf5.csd: not a readable HDF5 file"),
            "{not_hdf5}"
        );
        // 4.7 KB that declare 64 GiB: refused before anything is allocated.
        let huge = read(&fixture("broken/huge_declared.csd"))
            .unwrap_err()
            .to_string();
        assert!(
            huge.contains("huge_declared.csd: `COVAREP/data/huge/features` declares shape [268435456, 64]: 68719476736 bytes, more than the limit"),
            "{huge}"
        );
        let layout = read(&fixture("broken/not_a_sequence.csd"))
            .unwrap_err()
            .to_string();
        assert!(
            layout.contains("not_a_sequence.csd") && layout.contains("group `something` has no `data` group"),
            "{layout}"
        );
    }
}
