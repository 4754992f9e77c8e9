//! Unimodal sub-networks of the TFN / LMF reference models: they turn each modality's raw
//! features into the vector `z_m` that a [fusion layer](crate::fusion) consumes.

mod lstm;
mod mlp;

pub use lstm::{LstmSubnet, LstmSubnetConfig};
pub use mlp::{MlpSubnet, MlpSubnetConfig};
