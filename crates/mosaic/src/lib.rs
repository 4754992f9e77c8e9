//! # mosaic
//!
//! Multimodal representation learning on [burn](https://burn.dev): the fusion layers and
//! unimodal sub-networks of the classic multimodal models (TFN, LMF, bilinear pooling,
//! early fusion), written once and generic over `B: burn::tensor::backend::Backend`, with
//! weights interchangeable with the reference PyTorch code.
//!
//! - [`fusion`]: concatenation, element-wise sum / product, MLP fusion, bilinear pooling,
//!   tensor fusion (any number of modalities, optional interaction-order selection) and
//!   low-rank fusion, all behind the [`fusion::Fusion`] trait.
//! - [`subnet`]: the MLP sub-network (audio / visual vectors) and the LSTM sub-network
//!   (text sequences) of the TFN / LMF reference models.
//! - [`models`]: whole models built from them: the TFN / LMF reference sentiment model.
//! - [`autoencoder`]: joint representations learned without labels: unimodal, bimodal
//!   (Ngiam et al. 2011) and shallow bimodal autoencoders, and their training.
//! - [`coordinated`]: coordinated representations, one space per modality tied by a
//!   constraint: cosine, ranking (VSE, VSE++) and contrastive (InfoNCE) losses, linear CCA
//!   and deep CCA, and two-tower training.
//! - [`graph`]: graph node embeddings by neighbourhood aggregation: GCN and GraphSAGE
//!   layers on a sparse aggregation op, node classifiers and their training.
//! - [`analysis`]: tools to look inside any layer: linear probes, cross-modal retrieval,
//!   linear CKA, the modality share of hidden units.
//! - [`train`]: its training loop (Adam, L1 loss, early stopping) and the papers' metrics.
//! - [`data`] (the `mosaic-data` crate): the datasets, and [`rng`], the one seeded random
//!   generator.
//! - [`interop`]: safetensors weights in the reference PyTorch layouts.
//! - [`backend`]: the backends this build was compiled with, and how to pick one.
//!
//! Every public entry point validates its input and returns [`Result`]; errors name the
//! layer, the modality and the expected and actual shapes.
//!
//! ```
//! use burn::tensor::Tensor;
//! use mosaic::backend::{Cpu, CpuDevice};
//! use mosaic::fusion::{Fusion, TensorFusionConfig};
//!
//! let device = CpuDevice::default();
//! // Text, audio and video vectors of widths 4, 3 and 5, fused into 8 features.
//! let tfn = TensorFusionConfig::new(vec![4, 3, 5], 8).init::<Cpu>(&device)?;
//! let inputs = [4, 3, 5].map(|d| Tensor::<Cpu, 2>::ones([2, d], &device));
//! let fused = tfn.forward(&inputs)?;
//! assert_eq!(fused.dims(), [2, 8]);
//!
//! // A width that does not match the configuration is an error, not a panic.
//! let wrong = [Tensor::ones([2, 4], &device), Tensor::ones([2, 7], &device), Tensor::ones([2, 5], &device)];
//! let err = tfn.forward(&wrong).unwrap_err();
//! assert_eq!(err.to_string(), "TensorFusion: modality 1 has shape [2, 7], expected [2, 3] ([batch, d_1], batch from modality 0)");
//! # Ok::<(), mosaic::MosaicError>(())
//! ```

pub mod analysis;
pub mod autoencoder;
pub mod backend;
mod batches;
pub mod coordinated;
mod error;
pub mod fusion;
pub mod graph;
pub mod interop;
mod linalg;
pub mod models;
pub mod subnet;
pub mod train;
mod validate;

#[cfg(test)]
extern crate self as mosaic;
#[cfg(test)]
pub(crate) mod test_util;

pub use error::{MosaicError, Result};
pub use mosaic_data as data;
pub use mosaic_data::rng;
pub use mosaic_kernels::{AggregationBackend, AutodiffFusionBackend, FusionBackend};
