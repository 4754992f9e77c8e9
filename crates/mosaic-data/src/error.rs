//! Errors of dataset loading: each names the file and what was expected.

use std::path::PathBuf;

/// Result of the data crate.
pub type Result<T> = std::result::Result<T, DataError>;

/// What went wrong while loading a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file is not HDF5, or its HDF5 structures could not be decoded.
    #[error("{}: not a readable HDF5 file ({message})", path.display())]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// An HDF5 file whose layout is not a computational sequence, or a dataset of the wrong shape.
    #[error("{}: {message}", path.display())]
    Layout {
        /// The file.
        path: PathBuf,
        /// What was expected and what was found.
        message: String,
    },
    /// Modalities or labels that do not cover the same segments.
    #[error("{message}")]
    Mismatch {
        /// Which segment or video is missing where.
        message: String,
    },
    /// A split without samples.
    #[error("the {split} split is empty: {detail}")]
    EmptySplit {
        /// `train`, `valid` or `test`.
        split: &'static str,
        /// Why.
        detail: String,
    },
    /// A dataset name or option that is not known.
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    pub(crate) fn layout(path: &std::path::Path, message: impl Into<String>) -> Self {
        DataError::Layout {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
