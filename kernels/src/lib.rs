//! Fused multimodal fusion operations for burn backends.
//!
//! The fusion layers of the `mosaic` crate never compute tensor fusion or low-rank fusion
//! with plain tensor code themselves: they call the two operations of [`FusionBackend`].
//! Neither op ever builds the `[B, P]` outer product of tensor fusion, forward or backward.
//!
//! | backend | forward | backward |
//! |---|---|---|
//! | `Flex` (f32) | the same formulations on raw memory with AVX-512 GEMMs (`cpu`, with the `flex` feature) | hand-written, same place |
//! | `NdArray`, any other backend | GEMM formulations (`tensor_fusion.rs`, `low_rank.rs`), batch in chunks | the same formulations' hand-written gradients |
//! | `CubeBackend` (wgpu, cuda; burn's `fusion` feature off) | cubecl kernels (`cube`) | the GEMM formulations on the backend's matmul |
//! | `Autodiff<B>` | `B`'s forward, recorded as one graph node | `B`'s [`FusionBackend::tensor_fusion_backward`] / [`FusionBackend::low_rank_fusion_backward`] |
//!
//! [`composite`] keeps the textbook implementation (explicit outer product) as the
//! reference the tests compare against, and the benchmarks' baseline. `docs/kernels.md`
//! describes each algorithm, its memory traffic and its measured speed.
//!
//! The tests live here too (`src/tests/`): one suite per compiled backend
//! ([`for_each_backend!`]), the fused ops against [`composite`], outputs and gradients;
//! `cargo test -p mosaic-kernels --features wgpu` checks the kernels alone.

pub mod aggregate;
mod autodiff;
pub mod backends;
pub mod composite;
#[cfg(feature = "flex")]
mod cpu;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube;
mod low_rank;
mod tensor_fusion;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use aggregate::{Adjacency, AggregationBackend, Csr, CsrError, Reduce};
#[cfg(feature = "flex")]
pub use cpu::release_buffers;
pub use low_rank::LowRankFusionGrads;
pub use tensor_fusion::TensorFusionGrads;

use burn::tensor::{
    backend::{AutodiffBackend, Backend},
    Tensor,
};

/// An autodiff backend whose inner backend runs the fused ops too: the bound of everything
/// that trains (`B::InnerBackend: FusionBackend` follows from it, for evaluation).
///
/// Every backend mosaic supports also aggregates over sparse adjacencies
/// ([`AggregationBackend`]), so the graph layers train on the same bound.
pub trait AutodiffFusionBackend:
    AutodiffBackend<InnerBackend: FusionBackend + AggregationBackend> + FusionBackend + AggregationBackend
{
}

impl<B> AutodiffFusionBackend for B
where
    B: AutodiffBackend + FusionBackend + AggregationBackend,
    B::InnerBackend: FusionBackend + AggregationBackend,
{
}

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
        tensor_fusion::forward(inputs, weight, bias)
    }

    /// Gradients of [`tensor_fusion`](Self::tensor_fusion) with respect to every input and
    /// the weight and bias, given `grad = ∂L/∂h` `[B, O]`. Never builds the `[B, P]` outer
    /// product. Used by `Autodiff<Self>`.
    fn tensor_fusion_backward(
        inputs: &[Tensor<Self, 2>],
        weight: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
    ) -> TensorFusionGrads<Self> {
        tensor_fusion::backward(inputs, weight, grad)
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
        low_rank::forward(inputs, factors, rank_weights, bias)
    }

    /// [`low_rank_fusion`](Self::low_rank_fusion) in a training step: the output, and
    /// projections `P_m = ẑ_m · W_m^(i)` (`[R, B, O]`, per modality, `None` where not kept,
    /// or an empty list) for [`low_rank_fusion_backward`](Self::low_rank_fusion_backward) to
    /// reuse (it computes the others again). By default none are kept; flex keeps them all
    /// while they fit in 64 MiB. Used by `Autodiff<Self>`.
    fn low_rank_fusion_keeping(
        inputs: &[Tensor<Self, 2>],
        factors: &[Tensor<Self, 3>],
        rank_weights: Tensor<Self, 2>,
        bias: Tensor<Self, 2>,
    ) -> (Tensor<Self, 2>, Vec<Option<Tensor<Self, 3>>>) {
        (
            Self::low_rank_fusion(inputs, factors, rank_weights, bias),
            Vec::new(),
        )
    }

    /// Gradients of [`low_rank_fusion`](Self::low_rank_fusion) with respect to every input,
    /// factor, the rank weights and the bias, given `grad = ∂L/∂h` `[B, O]` and the
    /// projections that [`low_rank_fusion_keeping`](Self::low_rank_fusion_keeping) kept
    /// (`kept`). Used by `Autodiff<Self>`.
    fn low_rank_fusion_backward(
        inputs: &[Tensor<Self, 2>],
        factors: &[Tensor<Self, 3>],
        rank_weights: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
        kept: &[Option<Tensor<Self, 3>>],
    ) -> LowRankFusionGrads<Self> {
        debug_assert!(
            kept.iter().all(Option::is_none),
            "the generic backward pass reuses no projections"
        );
        low_rank::backward(inputs, factors, rank_weights, grad)
    }
}
