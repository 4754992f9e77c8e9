//! Supervised fusion of modality vectors (CMU 11-777, "Multimodal Representations").
//!
//! Every layer takes one `[batch, d_m]` tensor per modality, in the order the layer was
//! configured with, and returns `[batch, output_dim]`:
//!
//! | layer | formula | output width |
//! |---|---|---|
//! | [`Concat`] | `[z_1; …; z_M]` | `Σ d_m` |
//! | [`Elementwise`] (sum) | `Σ_m P_m z_m` | common width |
//! | [`Elementwise`] (product) | `Π_m P_m z_m` | common width |
//! | [`MlpFusion`] | `MLP([z_1; …; z_M])` | `out` |
//! | [`Bilinear`] | `W vec([1; x] ⊗ [1; y]) + b` | `out` |
//! | [`TensorFusion`] | `W vec([1; z_1] ⊗ … ⊗ [1; z_M]) + b` | `out` |
//! | [`LowRankFusion`] | `b + Σ_i w_i Π_m ([1; z_m] W_m^(i))` | `out` |
//!
//! All of them implement [`Fusion`], so a model can hold any of them behind one type.

mod bilinear;
mod concat;
mod elementwise;
mod low_rank;
mod mlp;
mod tensor_fusion;

pub use crate::validate::MAX_PARAMETER_ELEMENTS;
pub use bilinear::{Bilinear, BilinearConfig};
pub use concat::{Concat, ConcatConfig};
pub use elementwise::{Elementwise, ElementwiseConfig, ElementwiseOp};
pub use low_rank::{LowRankFusion, LowRankFusionConfig};
pub use mlp::{MlpFusion, MlpFusionConfig};
pub use tensor_fusion::{interaction_order, TensorFusion, TensorFusionConfig};

use crate::Result;
use burn::module::{Content, DisplaySettings};
use burn::tensor::{backend::Backend, Tensor};

/// The display settings of every layer and sub-network: one line (`Name {attributes,
/// params: N}`, burn appending the parameter count).
pub(crate) fn one_line() -> Option<DisplaySettings> {
    DisplaySettings::new()
        .with_new_line_after_attribute(false)
        .optional()
}

/// The attributes every fusion layer's `Display` starts with: its modality widths and its
/// output width.
pub(crate) fn widths(content: Content, modality_dims: &[usize], d_output: usize) -> Content {
    content
        .add_debug_attribute("modality_dims", &modality_dims)
        .add("d_output", &d_output)
}

/// A layer that fuses one vector per modality into one vector.
pub trait Fusion<B: Backend> {
    /// Widths `d_m` of the modalities, in the order `forward` expects them.
    fn modality_dims(&self) -> &[usize];

    /// Width of the fused output.
    fn output_dim(&self) -> usize;

    /// Fuses the modality vectors into one.
    ///
    /// # Shapes
    /// - `inputs[m]`: `[batch, d_m]`, `m` in the order of the configuration
    /// - output: `[batch, output_dim]`
    ///
    /// # Errors
    /// [`MosaicError::ModalityCount`](crate::MosaicError::ModalityCount) when the number of
    /// tensors differs from the configuration, [`MosaicError::Shape`](crate::MosaicError::Shape)
    /// when a width or a batch size does not match, and
    /// [`MosaicError::Empty`](crate::MosaicError::Empty) for an empty batch.
    fn forward(&self, inputs: &[Tensor<B, 2>]) -> Result<Tensor<B, 2>>;
}
