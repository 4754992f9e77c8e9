//! Which backends implement [`FusionBackend`](crate::FusionBackend), and how.
//!
//! NdArray keeps the trait's GEMM formulations (`tensor_fusion`, `low_rank`).

use crate::FusionBackend;
#[cfg(feature = "flex")]
use crate::{cpu, tensor_fusion::CHUNK_ELEMENTS, LowRankFusionGrads, TensorFusionGrads};
#[cfg(feature = "flex")]
use burn::tensor::Tensor;

// `Autodiff<B>` is implemented in `autodiff.rs`.

/// Flex: the raw-memory implementations of [`crate::cpu`] for f32, the generic GEMM
/// formulations for other dtypes.
#[cfg(feature = "flex")]
impl FusionBackend for burn::backend::Flex {
    fn tensor_fusion(
        inputs: &[Tensor<Self, 2>],
        weight: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, 2> {
        if cpu::all_f32(inputs) && cpu::all_f32([&weight]) {
            cpu::tensor_fusion::forward(inputs, weight, bias, CHUNK_ELEMENTS)
        } else {
            crate::tensor_fusion::forward(inputs, weight, bias)
        }
    }

    fn tensor_fusion_backward(
        inputs: &[Tensor<Self, 2>],
        weight: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
    ) -> TensorFusionGrads<Self> {
        if cpu::all_f32(inputs) && cpu::all_f32([&weight, &grad]) {
            cpu::tensor_fusion::backward(inputs, weight, grad, CHUNK_ELEMENTS)
        } else {
            crate::tensor_fusion::backward(inputs, weight, grad)
        }
    }

    fn low_rank_fusion(
        inputs: &[Tensor<Self, 2>],
        factors: &[Tensor<Self, 3>],
        rank_weights: Tensor<Self, 2>,
        bias: Tensor<Self, 2>,
    ) -> Tensor<Self, 2> {
        if cpu::all_f32(inputs) && cpu::all_f32(factors) && cpu::all_f32([&rank_weights, &bias]) {
            cpu::low_rank::forward(inputs, factors, rank_weights, bias, cpu::low_rank::BLOCK_ROWS)
        } else {
            crate::low_rank::forward(inputs, factors, rank_weights, bias)
        }
    }

    fn low_rank_fusion_backward(
        inputs: &[Tensor<Self, 2>],
        factors: &[Tensor<Self, 3>],
        rank_weights: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
    ) -> LowRankFusionGrads<Self> {
        if cpu::all_f32(inputs) && cpu::all_f32(factors) && cpu::all_f32([&rank_weights, &grad]) {
            cpu::low_rank::backward(inputs, factors, rank_weights, grad, cpu::low_rank::BLOCK_ROWS)
        } else {
            crate::low_rank::backward(inputs, factors, rank_weights, grad)
        }
    }
}

#[cfg(feature = "ndarray")]
impl FusionBackend for burn::backend::NdArray<f32> {}

#[cfg(feature = "ndarray")]
impl FusionBackend for burn::backend::NdArray<f64> {}

/// wgpu and cuda (plain `CubeBackend`: burn's `fusion` feature is off, see
/// docs/architecture.md): the forward passes are cubecl kernels, the backward passes the
/// GEMM formulations on the backend's matmul.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl<R, F, I, BT> FusionBackend for burn_cubecl::CubeBackend<R, F, I, BT>
where
    R: burn_cubecl::CubeRuntime,
    F: burn_cubecl::FloatElement,
    I: burn_cubecl::IntElement,
    BT: burn_cubecl::BoolElement,
{
    fn tensor_fusion(
        inputs: &[burn::tensor::Tensor<Self, 2>],
        weight: burn::tensor::Tensor<Self, 2>,
        bias: Option<burn::tensor::Tensor<Self, 1>>,
    ) -> burn::tensor::Tensor<Self, 2> {
        crate::cube::tensor_fusion::forward(inputs, weight, bias)
    }

    fn low_rank_fusion(
        inputs: &[burn::tensor::Tensor<Self, 2>],
        factors: &[burn::tensor::Tensor<Self, 3>],
        rank_weights: burn::tensor::Tensor<Self, 2>,
        bias: burn::tensor::Tensor<Self, 2>,
    ) -> burn::tensor::Tensor<Self, 2> {
        crate::cube::low_rank::forward(inputs, factors, rank_weights, bias)
    }
}
