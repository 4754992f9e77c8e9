//! The burn backends mosaic is built with, and how to choose one.
//!
//! Each backend is a cargo feature of the `mosaic` crate (`flex`, the default; `ndarray`;
//! `wgpu`; `cuda`), and its type, device and how it runs the fused ops are
//! `mosaic_kernels::backends`' (re-exported here; the types exist only in builds with their
//! feature, so they are named, not linked). The wgpu backend runs on a software Vulkan
//! device (Mesa lavapipe) where there is no GPU.
//!
//! The wgpu and cuda backends are burn's `CubeBackend` without burn's `fusion` wrapper, so
//! that mosaic's own fused kernels (implemented for `CubeBackend`) are the ones that run.
//! Training wraps any of them in [`Autodiff`].

use crate::{AutodiffFusionBackend, MosaicError, Result};
use std::fmt;
use std::str::FromStr;

pub use burn::backend::Autodiff;
pub use mosaic_kernels::backends::*;

/// The default CPU backend.
#[cfg(feature = "flex")]
pub type Cpu = Flex;
/// The default CPU backend's device.
#[cfg(feature = "flex")]
pub type CpuDevice = FlexDevice;

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
        let mut compiled = false;
        macro_rules! check {
            ($name:ident, $test:ident, $backend:ty; $kind:ident, $compiled:ident) => {
                $compiled |= $kind.name() == stringify!($name);
            };
        }
        mosaic_kernels::for_each_backend!(check!(self, compiled));
        compiled
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
        macro_rules! run_on {
            ($name:ident, $test:ident, $backend:ty; $kind:ident, $code:ident) => {
                if $kind.name() == stringify!($name) {
                    return Ok($code.run::<Autodiff<$backend>>(Default::default()));
                }
            };
        }
        mosaic_kernels::for_each_backend!(run_on!(self, code));
        Err(self.not_compiled())
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

    /// The backends the enum names are the kernels crate's backend features (what
    /// `for_each_backend!` and xtask read), in order.
    #[test]
    fn every_backend_is_a_kernels_feature() {
        let manifest = include_str!("../../../kernels/Cargo.toml");
        let features: Vec<&str> = manifest
            .lines()
            .skip_while(|line| line.trim() != "[features]")
            .skip(1)
            .take_while(|line| !line.starts_with('['))
            .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
            .filter(|name| !name.starts_with('#') && !["default", "testing"].contains(name))
            .collect();
        assert_eq!(features, BackendKind::ALL.map(BackendKind::name));
    }

    /// `is_compiled` follows the features this build has.
    #[test]
    fn flex_is_compiled_where_its_feature_is() {
        assert_eq!(BackendKind::Flex.is_compiled(), cfg!(feature = "flex"));
        assert_eq!(BackendKind::Cuda.is_compiled(), cfg!(feature = "cuda"));
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
