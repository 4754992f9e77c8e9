//! The burn backends mosaic is built with, and how to choose one.
//!
//! Each backend is a cargo feature of the `mosaic` crate:
//!
//! The types exist only in builds with their feature (the links of the docs.rs build, with
//! the default features, would break for the others), so they are named here, not linked.
//!
//! | feature | backend | device |
//! |---|---|---|
//! | `flex` (default) | `Flex`: pure-Rust CPU backend (SIMD + gemm) | `FlexDevice` |
//! | `ndarray` | `NdArray`: CPU backend on the ndarray crate | `NdArrayDevice` |
//! | `wgpu` | `Wgpu`: Vulkan / Metal / DX12 / WebGPU through wgpu; runs on a software Vulkan device (Mesa lavapipe) where there is no GPU | `WgpuDevice` |
//! | `cuda` | `Cuda`: NVIDIA GPUs | `CudaDevice` |
//!
//! The wgpu and cuda backends are burn's `CubeBackend` without burn's `fusion` wrapper, so
//! that mosaic's own fused kernels (implemented for `CubeBackend`) are the ones that run.
//! Training wraps any of them in [`Autodiff`].

use crate::{AutodiffFusionBackend, MosaicError, Result};
use std::fmt;
use std::str::FromStr;

pub use burn::backend::Autodiff;

#[cfg(feature = "flex")]
pub use burn::backend::flex::FlexDevice;
#[cfg(feature = "flex")]
pub use burn::backend::Flex;
/// The default CPU backend.
#[cfg(feature = "flex")]
pub type Cpu = burn::backend::Flex;
/// The default CPU backend's device.
#[cfg(feature = "flex")]
pub type CpuDevice = burn::backend::flex::FlexDevice;

#[cfg(feature = "ndarray")]
pub use burn::backend::ndarray::NdArrayDevice;
/// The ndarray CPU backend (f32).
#[cfg(feature = "ndarray")]
pub type NdArray = burn::backend::NdArray<f32>;

#[cfg(feature = "wgpu")]
pub use burn::backend::wgpu::WgpuDevice;
/// The wgpu backend (f32), a plain `CubeBackend`.
#[cfg(feature = "wgpu")]
pub type Wgpu = burn::backend::Wgpu<f32, i32>;

#[cfg(feature = "cuda")]
pub use burn::backend::cuda::CudaDevice;
/// The CUDA backend (f32), a plain `CubeBackend`.
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda<f32, i32>;

/// A backend named at run time (command line, configuration file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// `Flex`.
    Flex,
    /// `NdArray`.
    NdArray,
    /// `Wgpu`.
    Wgpu,
    /// `Cuda`.
    Cuda,
}

impl BackendKind {
    /// Every backend, in the order they are documented.
    pub const ALL: [BackendKind; 4] = [Self::Flex, Self::NdArray, Self::Wgpu, Self::Cuda];

    /// The backend's name, as accepted by [`FromStr`] and used as its cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::NdArray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        }
    }

    /// Whether this build includes the backend (its cargo feature was enabled).
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Flex => cfg!(feature = "flex"),
            Self::NdArray => cfg!(feature = "ndarray"),
            Self::Wgpu => cfg!(feature = "wgpu"),
            Self::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backend, or an error when this build does not include it.
    ///
    /// # Errors
    /// [`MosaicError::Backend`] naming the cargo feature to enable.
    pub fn require_compiled(self) -> Result<Self> {
        if self.is_compiled() {
            Ok(self)
        } else {
            Err(self.not_compiled())
        }
    }

    fn not_compiled(self) -> MosaicError {
        MosaicError::Backend {
            backend: self.name().into(),
            message: format!(
                "not compiled into this build; rebuild with `--features {}`",
                self.name()
            ),
        }
    }

    /// Runs `code` on this backend, wrapped in [`Autodiff`], on its default device: the one
    /// place that turns a backend's name into its type.
    ///
    /// # Errors
    /// [`MosaicError::Backend`] when this build does not include the backend.
    ///
    /// ```
    /// use mosaic::backend::{BackendKind, OnBackend};
    /// use mosaic::AutodiffFusionBackend;
    ///
    /// struct Name;
    /// impl OnBackend for Name {
    ///     type Output = String;
    ///     fn run<B: AutodiffFusionBackend>(self, _device: B::Device) -> String {
    ///         B::name(&Default::default())
    ///     }
    /// }
    /// assert!(BackendKind::Flex.run(Name)?.contains("flex"));
    /// # Ok::<(), mosaic::MosaicError>(())
    /// ```
    pub fn run<C: OnBackend>(self, code: C) -> Result<C::Output> {
        match self {
            #[cfg(feature = "flex")]
            Self::Flex => Ok(code.run::<Autodiff<Flex>>(Default::default())),
            #[cfg(feature = "ndarray")]
            Self::NdArray => Ok(code.run::<Autodiff<NdArray>>(Default::default())),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Ok(code.run::<Autodiff<Wgpu>>(Default::default())),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(code.run::<Autodiff<Cuda>>(Default::default())),
            #[allow(unreachable_patterns)]
            _ => Err(self.not_compiled()),
        }
    }
}

/// Code generic over the backend, for [`BackendKind::run`] to call with the backend a name
/// picks at run time.
pub trait OnBackend {
    /// What the code returns.
    type Output;

    /// The code, on the autodiff backend `B` and `device`.
    fn run<B: AutodiffFusionBackend>(self, device: B::Device) -> Self::Output;
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = MosaicError;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| MosaicError::Backend {
                backend: name.into(),
                message: format!(
                    "unknown backend; expected one of {}",
                    Self::ALL.map(Self::name).join(", ")
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.name().parse::<BackendKind>().unwrap(), kind);
        }
    }

    #[test]
    fn unknown_backend_lists_the_known_ones() {
        let err = "metal".parse::<BackendKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "backend metal: unknown backend; expected one of flex, ndarray, wgpu, cuda"
        );
    }
}
