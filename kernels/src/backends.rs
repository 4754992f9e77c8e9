//! The backends this build includes, and how each implements [`FusionBackend`].
//!
//! Each backend is a cargo feature of this crate (the `mosaic` crate's features of the same
//! names enable them). The types exist only in builds with their feature, so they are named
//! here, not linked:
//!
//! | feature | type | device |
//! |---|---|---|
//! | `flex` | `Flex`: pure-Rust CPU backend (SIMD + gemm) | `FlexDevice` |
//! | `ndarray` | `NdArray`: CPU backend on the ndarray crate (f32) | `NdArrayDevice` |
//! | `wgpu` | `Wgpu`: Vulkan / Metal / DX12 / WebGPU, a plain `CubeBackend` (f32) | `WgpuDevice` |
//! | `cuda` | `Cuda`: NVIDIA GPUs, a plain `CubeBackend` (f32) | `CudaDevice` |
//!
//! [`for_each_backend!`](crate::for_each_backend) is the one list of them that code
//! generic over the backend (run-time dispatch, per-backend test suites) expands from.
//!
//! NdArray keeps the trait's GEMM formulations (`tensor_fusion`, `low_rank`).

use crate::FusionBackend;
#[cfg(feature = "flex")]
use crate::{cpu, tensor_fusion::CHUNK_ELEMENTS, LowRankFusionGrads, TensorFusionGrads};
#[cfg(feature = "flex")]
use burn::tensor::Tensor;

#[cfg(feature = "flex")]
pub use burn::backend::{flex::FlexDevice, Flex};

/// The ndarray CPU backend (f32).
#[cfg(feature = "ndarray")]
pub type NdArray = burn::backend::NdArray<f32>;
#[cfg(feature = "ndarray")]
pub use burn::backend::ndarray::NdArrayDevice;

/// The wgpu backend (f32), a plain `CubeBackend`.
#[cfg(feature = "wgpu")]
pub type Wgpu = burn::backend::Wgpu<f32, i32>;
#[cfg(feature = "wgpu")]
pub use burn::backend::wgpu::WgpuDevice;

/// The CUDA backend (f32), a plain `CubeBackend`.
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda<f32, i32>;
#[cfg(feature = "cuda")]
pub use burn::backend::cuda::CudaDevice;

/// Expands `callback!(name, test, Type; args…)` once for each backend this build includes,
/// in the order flex, ndarray, wgpu, cuda: `name` is the backend's feature (`flex`), `test`
/// the name of its per-backend tests (`on_flex`), `Type` its type
/// (`mosaic_kernels::backends::Flex`). `callback` must be a macro in scope at the call.
///
/// The features are those of `mosaic-kernels`, whichever crate expands the macro.
///
/// ```
/// macro_rules! name { ($name:ident, $test:ident, $backend:ty; $names:ident) => {
///     $names.push(stringify!($name));
/// } }
/// let mut names = Vec::new();
/// mosaic_kernels::for_each_backend!(name!(names));
/// assert_eq!(names.contains(&"flex"), cfg!(feature = "flex"));
/// ```
#[macro_export]
macro_rules! for_each_backend {
    ($callback:ident!($($args:tt)*)) => {
        $crate::__if_flex! { $callback!(flex, on_flex, $crate::backends::Flex; $($args)*); }
        $crate::__if_ndarray! { $callback!(ndarray, on_ndarray, $crate::backends::NdArray; $($args)*); }
        $crate::__if_wgpu! { $callback!(wgpu, on_wgpu, $crate::backends::Wgpu; $($args)*); }
        $crate::__if_cuda! { $callback!(cuda, on_cuda, $crate::backends::Cuda; $($args)*); }
    };
}

/// Its tokens in builds with the `flex` feature, nothing otherwise (for [`for_each_backend!`]).
#[cfg(feature = "flex")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_flex { ($($code:tt)*) => { $($code)* }; }
/// Its tokens in builds with the `flex` feature, nothing otherwise (for [`for_each_backend!`]).
#[cfg(not(feature = "flex"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_flex {
    ($($code:tt)*) => {};
}
/// Its tokens in builds with the `ndarray` feature, nothing otherwise.
#[cfg(feature = "ndarray")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_ndarray { ($($code:tt)*) => { $($code)* }; }
/// Its tokens in builds with the `ndarray` feature, nothing otherwise.
#[cfg(not(feature = "ndarray"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_ndarray {
    ($($code:tt)*) => {};
}
/// Its tokens in builds with the `wgpu` feature, nothing otherwise.
#[cfg(feature = "wgpu")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_wgpu { ($($code:tt)*) => { $($code)* }; }
/// Its tokens in builds with the `wgpu` feature, nothing otherwise.
#[cfg(not(feature = "wgpu"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_wgpu {
    ($($code:tt)*) => {};
}
/// Its tokens in builds with the `cuda` feature, nothing otherwise.
#[cfg(feature = "cuda")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_cuda { ($($code:tt)*) => { $($code)* }; }
/// Its tokens in builds with the `cuda` feature, nothing otherwise.
#[cfg(not(feature = "cuda"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_cuda {
    ($($code:tt)*) => {};
}

// `Autodiff<B>` is implemented in `autodiff.rs`.

/// Flex: the raw-memory implementations of `cpu` for f32, the generic GEMM
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

    /// Keeps the projections, within a memory limit
    /// ([`keep_projections`](cpu::low_rank::keep_projections)).
    fn low_rank_fusion_keeping(
        inputs: &[Tensor<Self, 2>],
        factors: &[Tensor<Self, 3>],
        rank_weights: Tensor<Self, 2>,
        bias: Tensor<Self, 2>,
    ) -> (Tensor<Self, 2>, Vec<Option<Tensor<Self, 3>>>) {
        if cpu::all_f32(inputs) && cpu::all_f32(factors) && cpu::all_f32([&rank_weights, &bias]) {
            let keep = cpu::low_rank::keep_projections(inputs, factors);
            cpu::low_rank::forward_keeping(
                inputs,
                factors,
                rank_weights,
                bias,
                cpu::low_rank::BLOCK_ROWS,
                &keep,
            )
        } else {
            (
                crate::low_rank::forward(inputs, factors, rank_weights, bias),
                Vec::new(),
            )
        }
    }

    fn low_rank_fusion_backward(
        inputs: &[Tensor<Self, 2>],
        factors: &[Tensor<Self, 3>],
        rank_weights: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
        kept: &[Option<Tensor<Self, 3>>],
    ) -> LowRankFusionGrads<Self> {
        if cpu::all_f32(inputs) && cpu::all_f32(factors) && cpu::all_f32([&rank_weights, &grad]) {
            cpu::low_rank::backward(
                inputs,
                factors,
                rank_weights,
                grad,
                kept,
                cpu::low_rank::BLOCK_ROWS,
            )
        } else {
            crate::low_rank::backward(inputs, factors, rank_weights, grad)
        }
    }
}

#[cfg(feature = "ndarray")]
impl FusionBackend for burn::backend::NdArray<f32> {}

#[cfg(feature = "ndarray")]
impl FusionBackend for burn::backend::NdArray<f64> {}

/// NdArray aggregates through [`crate::aggregate::host`] on copies of its values.
#[cfg(feature = "ndarray")]
impl crate::aggregate::AggregationBackend for burn::backend::NdArray<f32> {
    type DeviceSide = ();
    fn upload_side(_side: &crate::aggregate::Side, _device: &Self::Device) -> Self::DeviceSide {}
}

/// NdArray aggregates through [`crate::aggregate::host`] on copies of its values, in f64.
#[cfg(feature = "ndarray")]
impl crate::aggregate::AggregationBackend for burn::backend::NdArray<f64> {
    type DeviceSide = ();
    fn upload_side(_side: &crate::aggregate::Side, _device: &Self::Device) -> Self::DeviceSide {}
}

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
