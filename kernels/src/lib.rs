//! Fused multimodal fusion operations for burn backends.
//!
//! The fusion layers of the `mosaic` crate never compute tensor fusion or low-rank fusion
//! with plain tensor code themselves: they call the two operations of [`FusionBackend`].
//! Each backend either keeps the provided composite implementation (built from ordinary
//! burn tensor operations, see [`composite`]) or overrides it with a fused one.
//!
//! | backend | implementation |
//! |---|---|
//! | `Flex`, `NdArray` | composite |
//! | `CubeBackend` (wgpu, cuda; burn's `fusion` feature off) | composite |
//! | `Autodiff<B>` | composite, differentiated by burn's autodiff |
//!
//! Because every op is a trait method with a default body, adding a fused kernel for one
//! backend is a matter of overriding the method in that backend's `impl` block.

mod backends;
pub mod composite;

use burn::tensor::{backend::Backend, Tensor};

/// A burn backend that can run mosaic's fusion operations.
///
/// Notation (used by every method): `B` batch size, `M` number of modalities, `d_m` the width
/// of modality `m`, `ẑ_m = [1; z_m]` (the constant 1 is prepended, index 0),
/// `P = Π_m (d_m + 1)`, `O` output width, `R` rank.
///
/// Like burn's own tensor operations, these methods assume consistent shapes and may panic
/// otherwise: the `mosaic` layers validate every input first and return errors that name the
/// modality and the expected and actual shapes.
pub trait FusionBackend: Backend {
    /// Tensor fusion (Zadeh et al. 2017): `h = vec(ẑ_1 ⊗ ẑ_2 ⊗ … ⊗ ẑ_M) · W + b`.
    ///
    /// The outer product is flattened row-major in modality order, so the entry at
    /// `(i_1, …, i_M)` has index `((i_1 (d_2+1) + i_2)(d_3+1) + i_3)…`.
    ///
    /// Shapes: `inputs[m]`: `[B, d_m]`; `weight`: `[P, O]`; `bias`: `[O]`; output `[B, O]`.
    fn tensor_fusion(
        inputs: &[Tensor<Self, 2>],
        weight: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, 2> {
        composite::tensor_fusion(inputs, weight, bias)
    }

    /// Low-rank multimodal fusion (Liu et al. 2018):
    /// `h = b + Σ_i w_i · Π_m (ẑ_m · W_m^(i))`.
    ///
    /// Shapes: `inputs[m]`: `[B, d_m]`; `factors[m]`: `[R, d_m + 1, O]`;
    /// `rank_weights`: `[1, R]`; `bias`: `[1, O]`; output `[B, O]`.
    fn low_rank_fusion(
        inputs: &[Tensor<Self, 2>],
        factors: &[Tensor<Self, 3>],
        rank_weights: Tensor<Self, 2>,
        bias: Tensor<Self, 2>,
    ) -> Tensor<Self, 2> {
        composite::low_rank_fusion(inputs, factors, rank_weights, bias)
    }
}
