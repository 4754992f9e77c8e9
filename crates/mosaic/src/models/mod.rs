//! Whole models built from the [`fusion`](crate::fusion) layers and the
//! [`subnet`](crate::subnet) sub-networks.
//!
//! - [`sentiment`]: the TFN / LMF reference architecture for multimodal sentiment
//!   regression (text LSTM, audio and video MLPs, any fusion layer, a bounded regression
//!   head), trained by [`crate::train`].

pub mod sentiment;

pub use sentiment::{
    Batch, FusionKind, FusionLayer, ModelConfig, SentimentModel, MAX_INPUT_WIDTH, MAX_WIDTH,
};
