//! Which backends implement [`FusionBackend`](crate::FusionBackend), and how.

use crate::FusionBackend;

/// Autodiff of any fusion backend: the composite path, differentiated by burn.
impl<B: FusionBackend, C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy> FusionBackend
    for burn::backend::Autodiff<B, C>
{
}

#[cfg(feature = "flex")]
impl FusionBackend for burn::backend::Flex {}

#[cfg(feature = "ndarray")]
impl FusionBackend for burn::backend::NdArray<f32> {}

#[cfg(feature = "ndarray")]
impl FusionBackend for burn::backend::NdArray<f64> {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl<R, F, I, BT> FusionBackend for burn_cubecl::CubeBackend<R, F, I, BT>
where
    R: burn_cubecl::CubeRuntime,
    F: burn_cubecl::FloatElement,
    I: burn_cubecl::IntElement,
    BT: burn_cubecl::BoolElement,
{
}
