//! The error type of the `mosaic` command's pieces.

use mosaic::data::DataError;
use mosaic::MosaicError;
use std::path::{Path, PathBuf};

/// What went wrong in a command: a library error, or a file or folder that mosaic refuses,
/// cannot read or cannot write (named by its path).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the model, the training loop or the metrics.
    #[error(transparent)]
    Mosaic(#[from] MosaicError),

    /// From a dataset.
    #[error(transparent)]
    Data(#[from] DataError),

    /// A file or folder mosaic will not use as it is (a checkpoint written for another
    /// model, an output folder holding a user's files, a results file of other settings).
    #[error("{}: {message}", path.display())]
    File {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong with it, and what to do.
        message: String,
    },

    /// A report's plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] mosaic_plot::PlotError),

    /// The system refused to read or write a file or folder.
    #[error("{}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// [`Error::File`].
    pub fn file(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::File {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    /// A function for `map_err` that turns an I/O error on `path` into [`Error::Io`].
    pub fn io(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        move |source| Error::Io { path, source }
    }

    /// The message and its causes, `: `-separated, each cause once (a cause whose text the
    /// message already holds is not repeated).
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text = format!("{text}: {cause_text}");
            }
            source = cause.source();
        }
        text
    }
}

/// Result alias of the command's pieces.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_the_path_and_each_cause_once() {
        let denied = || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let error = Error::io("results/reproduce.csv")(denied());
        assert_eq!(error.chain(), "results/reproduce.csv: permission denied");
        // A library error that already holds its cause does not repeat it.
        let error = Error::from(MosaicError::Io {
            path: "w.safetensors".into(),
            source: denied(),
        });
        assert_eq!(error.chain(), "w.safetensors: permission denied");
    }
}
