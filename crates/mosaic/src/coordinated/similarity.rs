//! Cosine similarity between two views' embeddings, and the weakest coordination: the cosine
//! loss, which pulls each pair together and nothing apart.
//!
//! ```text
//! â_i = a_i / max(‖a_i‖, ε)          b̂_j = b_j / max(‖b_j‖, ε)          ε = 1e-12
//! S_ij = â_i · b̂_j                                    (cosine_similarities: [n, m])
//! L_cos = (1/n) Σ_i (1 − S_ii)                         (cosine_loss)
//! ```
//!
//! Shapes: `a`: `[n, d]`, `b`: `[m, d]` (`m = n` for the loss: row `i` of each is a pair).

use super::check_views;
use crate::{MosaicError, Result};
use burn::tensor::{backend::Backend, Int, Tensor};

/// Rows of `x` scaled to unit length (`ε = 1e-12` keeps a zero row at zero).
fn normalised<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// The cosine similarity of every row of `a` with every row of `b`: `S = â b̂ᵀ`.
///
/// # Shapes
/// - `a`: `[n, d]`, `b`: `[m, d]`
/// - output: `[n, m]`
///
/// # Errors
/// [`MosaicError::Shape`] when the widths differ or either view is empty.
pub fn cosine_similarities<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Result<Tensor<B, 2>> {
    check_views("cosine_similarities", &a.dims(), &b.dims(), false)?;
    Ok(normalised(a).matmul(normalised(b).transpose()))
}

/// The cosine loss `(1/n) Σ_i (1 − cos(a_i, b_i))`: 0 when every pair points the same way,
/// 2 when every pair is opposed. It never pushes non-pairs apart, so on its own it can
/// collapse every embedding onto one direction (see the coordinated experiment).
///
/// # Shapes
/// - `a`, `b`: `[n, d]`, row `i` of each a pair
/// - output: `[1]`
///
/// # Errors
/// [`MosaicError::Shape`] when the shapes differ or the batch is empty.
pub fn cosine_loss<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Result<Tensor<B, 1>> {
    check_views("cosine_loss", &a.dims(), &b.dims(), true)?;
    let cos = (normalised(a) * normalised(b)).sum_dim(1);
    Ok((cos.neg() + 1.0).mean())
}

/// The diagonal of the square `s` (`[n, n]`) as a column: `[n, 1]`, `S_ii` (a gather: `O(n)`
/// work, its gradient to the diagonal only).
pub(super) fn diagonal<B: Backend>(s: Tensor<B, 2>) -> Tensor<B, 2> {
    let n = s.dims()[0];
    let index = Tensor::<B, 1, Int>::arange(0..n as i64, &s.device()).reshape([n, 1]);
    s.gather(1, index)
}

/// Checks a square similarity matrix of at least two pairs (a pair needs a negative).
pub(super) fn check_square(what: &'static str, dims: [usize; 2]) -> Result<usize> {
    let [n, m] = dims;
    if n != m || n < 2 {
        return Err(MosaicError::Shape {
            layer: what,
            modality: None,
            expected:
                "[n, n] with n ≥ 2 (similarities of n pairs: S_ij = sim(a_i, b_j), pairs on the diagonal)"
                    .into(),
            actual: dims.to_vec(),
        });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// Three pairs in 2-D whose cosines are known by hand.
    fn pairs<B: Backend>(device: &B::Device) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let a = Tensor::from_floats([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]], device);
        let b = Tensor::from_floats([[2.0, 0.0], [1.0, 1.0], [-3.0, -4.0]], device);
        (a, b)
    }

    fn by_hand<B: TestBackend>(device: &B::Device) {
        let (a, b) = pairs::<B>(device);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        // â = (1,0), (0,1), (.6,.8); b̂ = (1,0), (h,h), (−.6,−.8).
        let expected = [1.0, h, -0.6, 0.0, h, -0.8, 0.6, 1.4 * h, -1.0];
        let s = cosine_similarities(a.clone(), b.clone()).unwrap();
        assert_close("similarities", &to_f64(s), &expected, 1e-6);
        let loss = cosine_loss(a, b).unwrap();
        assert_close(
            "cosine loss",
            &to_f64(loss),
            &[(0.0 + (1.0 - h) + 2.0) / 3.0],
            1e-6,
        );
    }
    for_each_backend!(similarities_and_loss_by_hand, by_hand);

    #[test]
    fn bad_shapes_are_named() {
        let device = Default::default();
        let a = Tensor::<Reference, 2>::zeros([3, 2], &device);
        let err = cosine_loss(a.clone(), Tensor::zeros([4, 2], &device)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cosine_loss: modality 1 has shape [4, 2], expected [3, 2] ([n, d], as modality 0: row i of each is a pair)"
        );
        let err = cosine_similarities(a, Tensor::zeros([4, 3], &device)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cosine_similarities: modality 1 has shape [4, 3], expected [m, 2] ([m, d], d as modality 0)"
        );
        assert_eq!(
            check_square("loss", [3, 2]).unwrap_err().to_string(),
            "loss: input has shape [3, 2], expected [n, n] with n ≥ 2 (similarities of n pairs: S_ij = sim(a_i, b_j), pairs on the diagonal)"
        );
    }
}
