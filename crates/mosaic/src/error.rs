//! The error type of every public mosaic API.

use std::path::PathBuf;

/// How an error names an input: `modality m` among several, `input` for a network's only one.
fn input_name(modality: Option<usize>) -> String {
    modality.map_or_else(|| "input".to_string(), |m| format!("modality {m}"))
}

/// Result alias used throughout mosaic.
pub type Result<T> = std::result::Result<T, MosaicError>;

/// What went wrong, with enough context to fix it: the layer, the modality (by index, in
/// the order the layer was configured with), and the expected and actual shapes.
#[derive(Debug, thiserror::Error)]
pub enum MosaicError {
    /// A layer was configured with values it cannot work with (rank 0, zero widths, ...).
    #[error("{layer} config: {message}")]
    Config {
        /// The layer whose configuration is invalid.
        layer: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },

    /// The number of modality tensors does not match the configuration.
    #[error("{layer}: expected {expected} modalities, got {actual}")]
    ModalityCount {
        /// The layer that received the inputs.
        layer: &'static str,
        /// Number of modalities the layer was configured with.
        expected: usize,
        /// Number of tensors passed.
        actual: usize,
    },

    /// An input tensor has the wrong shape.
    #[error("{layer}: {} has shape {actual:?}, expected {expected}", input_name(*.modality))]
    Shape {
        /// The layer, sub-network or model that received the input.
        layer: &'static str,
        /// Index of the modality, in configuration order; `None` for the single input of a
        /// unimodal network.
        modality: Option<usize>,
        /// The expected shape, written out (e.g. `[batch, 32]` or `[4, 32]`).
        expected: String,
        /// The actual shape.
        actual: Vec<usize>,
    },

    /// A batch with no samples (or a sequence with no steps).
    #[error("{layer}: {} has shape {actual:?}: {what} must not be empty", input_name(*.modality))]
    Empty {
        /// The layer, sub-network or model that received the input.
        layer: &'static str,
        /// Index of the modality, in configuration order; `None` for the single input of a
        /// unimodal network.
        modality: Option<usize>,
        /// Which dimension is empty ("the batch", "the sequence").
        what: &'static str,
        /// The actual shape.
        actual: Vec<usize>,
    },

    /// A layer's parameter has a shape that disagrees with the layer's configuration (for
    /// example after loading a record written for another configuration).
    #[error("{layer}: parameter `{name}` has shape {actual:?}, expected {expected:?} (from the layer's configuration)")]
    Parameter {
        /// The layer holding the parameter.
        layer: &'static str,
        /// The parameter's field name.
        name: String,
        /// The shape the configuration gives.
        expected: Vec<usize>,
        /// The parameter's shape.
        actual: Vec<usize>,
    },

    /// A weight file lacks a tensor, or holds one of the wrong shape or type.
    #[error("weights: tensor `{key}`: {message}")]
    Weights {
        /// The tensor's name in the weight file.
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },

    /// A weight file could not be parsed.
    #[error("weights file {path}: {message}")]
    WeightsFile {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A dataset could not be read, or is not what was asked for.
    #[error(transparent)]
    Data(#[from] mosaic_data::DataError),

    /// A value handed to a model, the training loop or the metrics that they cannot use (a
    /// setting out of its range, a batch without a modality the model reads, a dataset of
    /// other widths).
    #[error("{what}: {message}")]
    Invalid {
        /// What refused the value (`SentimentModel`, `training`, `Metrics`).
        what: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },

    /// Training stopped on a loss or a validation prediction that is not finite.
    #[error("training diverged in epoch {epoch}: {message}")]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// What was not finite, and what to try.
        message: String,
    },

    /// A backend was asked for that this build does not include, or that has no device here.
    #[error("backend {backend}: {message}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// What is missing.
        message: String,
    },
}

impl MosaicError {
    /// The same error, reported for `layer` (for a layer that delegates to another one).
    pub fn for_layer(mut self, layer: &'static str) -> Self {
        match &mut self {
            Self::Config { layer: l, .. }
            | Self::ModalityCount { layer: l, .. }
            | Self::Shape { layer: l, .. }
            | Self::Empty { layer: l, .. }
            | Self::Parameter { layer: l, .. } => *l = layer,
            Self::Weights { .. }
            | Self::WeightsFile { .. }
            | Self::Io { .. }
            | Self::Backend { .. }
            | Self::Data(_)
            | Self::Invalid { .. }
            | Self::Diverged { .. } => {}
        }
        self
    }

    /// A value `what` cannot use ([`MosaicError::Invalid`]).
    pub fn invalid(what: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            message: message.into(),
        }
    }

    /// A configuration error for `layer`.
    pub fn config(layer: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            layer,
            message: message.into(),
        }
    }
}
