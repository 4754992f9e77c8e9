//! The pieces of the `mosaic` command: checkpoints, the `reproduce` experiments (sentiment,
//! [`av_autoencoder`], [`coordinated`], [`graph`]), the safe
//! writing of output folders, progress display and the command's errors. The models, the
//! training loop and the metrics are the library's ([`mosaic::models`], [`mosaic::train`]);
//! the binary (`src/main.rs`) defines the command line and calls them.

pub mod av_autoencoder;
pub mod checkpoint;
pub mod coordinated;
pub mod error;
pub mod graph;
pub mod mpk;
pub mod output;
pub mod progress;
pub mod reproduce;
