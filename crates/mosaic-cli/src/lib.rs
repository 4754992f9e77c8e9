//! The pieces of the `mosaic` command: the TFN/LMF reference sentiment model, its training
//! loop and metrics, checkpoints, the `reproduce` experiment, and the safe writing of output
//! folders. The binary (`src/main.rs`) parses the command line and calls them.

pub mod args;
pub mod checkpoint;
pub mod metrics;
pub mod model;
pub mod mpk;
pub mod output;
pub mod progress;
pub mod reproduce;
pub mod train;
