//! Test helpers shared by this crate's tests and the `mosaic` crate's (feature `testing`):
//! the per-backend test generator, deterministic data, and a tolerance check that names
//! the first offending value. Not part of the library's API.

use burn::tensor::{backend::Backend, ops::FloatElem, Tensor, TensorData};
use mosaic_data::rng::{SplitMix64, GOLDEN_GAMMA};

/// `backend_tests!(name, case)` makes a module `name` with one test per compiled backend
/// ([`for_each_backend!`](crate::for_each_backend): `on_flex`, `on_ndarray`, `on_wgpu`,
/// `on_cuda`), each calling the generic function `case::<Autodiff<Backend>>(&device)` of
/// the enclosing module. `cargo test on_wgpu` runs one backend's tests. The CUDA tests
/// accept TF32 rounding ([`TF32_TOLERANCE`]).
#[macro_export]
macro_rules! backend_tests {
    ($name:ident, $case:ident) => {
        mod $name {
            use $crate::__backend_test;
            $crate::for_each_backend!(__backend_test!($case));
        }
    };
}

/// One test of [`backend_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __backend_test {
    ($backend:ident, $test:ident, $type:ty; $case:ident) => {
        #[test]
        fn $test() {
            if stringify!($backend) == "cuda" {
                $crate::testing::TOLERANCE_FLOOR.set($crate::testing::TF32_TOLERANCE);
            }
            super::$case::<burn::backend::Autodiff<$type>>(&Default::default());
        }
    };
}

/// `n` deterministic values, uniform in [-1, 1) (`SplitMix64`): the same on every backend.
pub fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed.wrapping_mul(GOLDEN_GAMMA).wrapping_add(1));
    (0..n).map(|_| rng.signed_unit()).collect()
}

/// A tensor of deterministic values.
pub fn tensor<B: Backend, const D: usize>(seed: u64, shape: [usize; D], device: &B::Device) -> Tensor<B, D> {
    tensor_of(&values(seed, shape.iter().product()), shape, device)
}

/// A tensor from explicit values, converted to the backend's float type.
pub fn tensor_of<B: Backend, const D: usize>(
    values: &[f32],
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), shape).convert::<FloatElem<B>>(),
        device,
    )
}

/// Deterministic `[batch, d_m]` inputs, one per modality.
pub fn modality_inputs<B: Backend>(
    seed: u64,
    dims: &[usize],
    batch: usize,
    device: &B::Device,
) -> Vec<Tensor<B, 2>> {
    dims.iter()
        .enumerate()
        .map(|(m, &d)| tensor(seed + m as u64, [batch, d], device))
        .collect()
}

/// The values of a tensor as f64.
pub fn to_f64<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f64> {
    tensor.into_data().iter::<f64>().collect()
}

const LOSS_SEED: u64 = 0xC0FFEE;

/// The fixed random `c` of the test loss `Σ c ⊙ output`, i.e. `∂loss/∂output`.
pub fn loss_weights<B: Backend>(shape: [usize; 2], device: &B::Device) -> Tensor<B, 2> {
    tensor(LOSS_SEED, shape, device)
}

/// The CUDA tests' tolerance: burn's CUDA matmul (cubek-matmul) multiplies f32 matrices in
/// TF32 (10-bit mantissa, relative rounding 2⁻¹¹ per operand) on GPUs with tensor cores, so
/// a sum of products there is off by ~10⁻³ of the size of its terms.
pub const TF32_TOLERANCE: f64 = 3e-3;

thread_local! {
    /// The tolerance [`assert_close`] adds on this test's thread relative to the largest
    /// expected magnitude (set by the `on_cuda` tests to [`TF32_TOLERANCE`]).
    pub static TOLERANCE_FLOOR: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// Asserts `|a - e| <= tol (1 + |e|)` element-wise, naming the first offending index. Under
/// a [`TOLERANCE_FLOOR`] `f` (TF32), `|a - e| <= f (1 + max |e|)` is also accepted: TF32's
/// error scales with the terms of a sum, not with the sum.
///
/// # Panics
/// When the lengths differ or a value is off by more than the tolerance.
pub fn assert_close(label: &str, actual: &[f64], expected: &[f64], tol: f64) {
    let floor = TOLERANCE_FLOOR.get();
    let scale = expected.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    assert_eq!(actual.len(), expected.len(), "{label}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let allowed = (tol * (1.0 + e.abs())).max(floor * (1.0 + scale));
        assert!(
            (a - e).abs() <= allowed,
            "{label}[{i}]: got {a}, expected {e} (tolerance {tol}, TF32 floor {floor} × (1 + {scale}))"
        );
    }
}

/// What every per-backend test runs on.
pub use crate::AutodiffFusionBackend as TestBackend;
