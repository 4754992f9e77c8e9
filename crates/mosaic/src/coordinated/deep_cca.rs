//! Deep CCA (Andrew, Arora, Bilmes & Livescu, ICML 2013): two networks trained so that their
//! outputs are as correlated as CCA can make them. The objective is the total canonical
//! correlation of a batch, the trace norm of the whitened cross-covariance, and its gradient
//! goes through the whitening in closed form.
//!
//! For outputs `H₁`: `[m, o₁]`, `H₂`: `[m, o₂]` of a batch of `m` pairs, centred (`H̄`), with
//! ridge term `r`:
//!
//! ```text
//! Σ₁₁ = H̄₁ᵀH̄₁/(m−1) + r I     Σ₂₂ = H̄₂ᵀH̄₂/(m−1) + r I     Σ₁₂ = H̄₁ᵀH̄₂/(m−1)
//! T = Σ₁₁^{-1/2} Σ₁₂ Σ₂₂^{-1/2} = U D Vᵀ          corr(H₁, H₂) = ‖T‖_tr = Σ_j D_jj
//!
//! ∇₁₂ = Σ₁₁^{-1/2} U Vᵀ Σ₂₂^{-1/2}                ∇₁₁ = −½ Σ₁₁^{-1/2} U D Uᵀ Σ₁₁^{-1/2}
//! ∂corr/∂H₁ = (2 H̄₁ ∇₁₁ + H̄₂ ∇₁₂ᵀ) / (m−1)       (and symmetrically for H₂)
//! ```
//!
//! The published implementations differentiate an eigendecomposition with autograd, which
//! gives NaN when eigenvalues coincide, and they compute in f32. mosaic instead copies the
//! batch's outputs (small: `m × o`) to the host, computes the correlation and the closed-form
//! gradient above in f64 ([`total_correlation`]: symmetric eigendecompositions only, no
//! derivative of one), and hands the gradient back to the backend through a surrogate whose
//! value is `−corr` and whose gradient is `−∂corr/∂H` ([`deep_cca_loss`]). Eigenvalues of
//! the (ridged) covariances below `1e-10` of the largest are treated as zero. A batch
//! needs more pairs than output units (`m > o`), or the covariances are singular; several
//! times `o` gives a stabler estimate.

use super::cca::Whitened;
use crate::analysis::{same_rows, Matrix};
use crate::linalg::{matmul, transpose};
use crate::{MosaicError, Result};
use burn::tensor::{backend::Backend, Tensor, TensorData};

const WHAT: &str = "deep CCA";

/// The total correlation of two batches of outputs and its gradient.
#[derive(Debug, Clone)]
pub struct TotalCorrelation {
    /// `corr(H₁, H₂) = Σ_j D_jj`.
    pub value: f64,
    /// The canonical correlations `D_jj`, largest first.
    pub correlations: Vec<f64>,
    /// `∂corr/∂H₁` (`[m, o₁]`) and `∂corr/∂H₂` (`[m, o₂]`).
    pub gradients: [Matrix; 2],
}

/// The deep CCA loss of a batch: a tensor to backpropagate and the correlation it stands for.
#[derive(Debug, Clone)]
pub struct DeepCcaLoss<B: Backend> {
    /// `[1]`, value `−corr(H₁, H₂)`, gradient `−∂corr/∂H` for each view.
    pub loss: Tensor<B, 1>,
    /// The total correlation, in f64.
    pub correlation: TotalCorrelation,
}

/// `corr(H₁, H₂)` and its gradient with respect to both (see the module's formulas).
///
/// # Errors
/// [`MosaicError::Invalid`]: different row counts, a batch no larger than either output
/// width, or a ridge term that is negative or not finite.
pub fn total_correlation(h1: &Matrix, h2: &Matrix, regulariser: f64) -> Result<TotalCorrelation> {
    same_rows(WHAT, h1, h2)?;
    let (m, o1, o2) = (h1.rows(), h1.cols(), h2.cols());
    if o1 == 0 || o2 == 0 {
        return Err(MosaicError::invalid(
            WHAT,
            format!("outputs of width {o1} and {o2}: both need at least one unit"),
        ));
    }
    if m <= o1.max(o2) {
        return Err(MosaicError::invalid(
            WHAT,
            format!(
                "a batch of {m} pairs for outputs of width {o1} and {o2}: the covariances need more pairs than output units (use a batch of several times {})",
                o1.max(o2)
            ),
        ));
    }
    if !(regulariser.is_finite() && regulariser >= 0.0) {
        return Err(MosaicError::invalid(
            WHAT,
            format!("regulariser {regulariser}: expected a finite value ≥ 0 (1e-4 in the paper)"),
        ));
    }
    let whitened = Whitened::new(h1, h2, (regulariser, regulariser));
    let [(w1, _), (w2, _)] = &whitened.inverse_roots;
    let k = whitened.singular_values.len();
    // U Vᵀ over the non-zero singular values (zero columns of U or V drop out).
    let uv = matmul(&whitened.u, &transpose(&whitened.v, o2, k), o1, k, o2);
    let grad_12 = matmul(&matmul(w1, &uv, o1, o1, o2), w2, o1, o2, o2);
    // U D Uᵀ and V D Vᵀ, then ∇₁₁ = −½ W₁ U D Uᵀ W₁ (grad_11 holds it without the −½).
    let scaled_u: Vec<f64> = (0..o1 * k)
        .map(|i| whitened.u[i] * whitened.singular_values[i % k])
        .collect();
    let scaled_v: Vec<f64> = (0..o2 * k)
        .map(|i| whitened.v[i] * whitened.singular_values[i % k])
        .collect();
    let udu = matmul(&scaled_u, &transpose(&whitened.u, o1, k), o1, k, o1);
    let vdv = matmul(&scaled_v, &transpose(&whitened.v, o2, k), o2, k, o2);
    let grad_11 = matmul(&matmul(w1, &udu, o1, o1, o1), w1, o1, o1, o1);
    let grad_22 = matmul(&matmul(w2, &vdv, o2, o2, o2), w2, o2, o2, o2);
    let (c1, c2) = (h1.centred(), h2.centred());
    let scale = 1.0 / (m as f64 - 1.0);
    // ∂corr/∂H₁ = (2 H̄₁ ∇₁₁ + H̄₂ ∇₁₂ᵀ)/(m−1) with ∇₁₁ = −½ grad_11: (−H̄₁ grad_11 + H̄₂ ∇₁₂ᵀ)/(m−1).
    let gradient = |own: &Matrix, own_grad: &[f64], other: &Matrix, cross: &[f64]| {
        let o = own.cols();
        let a = matmul(own.values(), own_grad, m, o, o);
        let b = matmul(other.values(), cross, m, other.cols(), o);
        Matrix::new(m, o, a.iter().zip(&b).map(|(a, b)| (b - a) * scale).collect())
    };
    let g1 = gradient(&c1, &grad_11, &c2, &transpose(&grad_12, o1, o2))?;
    let g2 = gradient(&c2, &grad_22, &c1, &grad_12)?;
    Ok(TotalCorrelation {
        value: whitened.singular_values.iter().sum(),
        correlations: whitened.singular_values,
        gradients: [g1, g2],
    })
}

/// The deep CCA loss of two views' outputs: `−corr(H₁, H₂)`, computed in f64 on the host
/// ([`total_correlation`]) and returned as `Σ H₁ ⊙ G₁ + Σ H₂ ⊙ G₂ + c` with `G = −∂corr/∂H`
/// held constant and `c` making the value `−corr`: backpropagating it gives the exact
/// gradient.
///
/// # Shapes
/// - `h1`: `[m, o₁]`, `h2`: `[m, o₂]`, `m > max(o₁, o₂)`
/// - `loss`: `[1]`
///
/// # Errors
/// Those of [`total_correlation`], and non-finite outputs (named by view, row and column).
pub fn deep_cca_loss<B: Backend>(
    h1: Tensor<B, 2>,
    h2: Tensor<B, 2>,
    regulariser: f64,
) -> Result<DeepCcaLoss<B>> {
    let host = |h: &Tensor<B, 2>, view: usize| {
        Matrix::from_tensor(h.clone()).map_err(|e| MosaicError::invalid(WHAT, format!("view {view}: {e}")))
    };
    let (m1, m2) = (host(&h1, 0)?, host(&h2, 1)?);
    let correlation = total_correlation(&m1, &m2, regulariser)?;
    let device = h1.device();
    let mut constant = -correlation.value;
    let mut surrogate = |h: Tensor<B, 2>, values: &Matrix, grad: &Matrix| {
        let minus: Vec<f64> = grad.values().iter().map(|g| -g).collect();
        constant -= values
            .values()
            .iter()
            .zip(&minus)
            .map(|(h, g)| h * g)
            .sum::<f64>();
        let g = Tensor::<B, 2>::from_data(
            TensorData::new(
                minus.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
                [grad.rows(), grad.cols()],
            ),
            &device,
        );
        (h * g).sum()
    };
    let s1 = surrogate(h1, &m1, &correlation.gradients[0]);
    let s2 = surrogate(h2, &m2, &correlation.gradients[1]);
    Ok(DeepCcaLoss {
        loss: s1 + s2 + constant,
        correlation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::SplitMix64;
    use crate::test_util::*;

    /// Two correlated views of `m` examples: a shared latent, mixed and noised.
    fn views(m: usize, o1: usize, o2: usize, seed: u64) -> (Matrix, Matrix) {
        let mut rng = SplitMix64::new(seed);
        let mut draw = |n: usize| (0..n).map(|_| f64::from(rng.signed_unit())).collect::<Vec<_>>();
        let latent = draw(m * 2);
        let (mix1, mix2, n1, n2) = (draw(2 * o1), draw(2 * o2), draw(m * o1), draw(m * o2));
        let view = |mix: &[f64], noise: &[f64], o: usize| {
            let mut v = matmul(&latent, mix, m, 2, o);
            v.iter_mut().zip(noise).for_each(|(v, n)| *v += 0.5 * n);
            Matrix::new(m, o, v).unwrap()
        };
        (view(&mix1, &n1, o1), view(&mix2, &n2, o2))
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Both shapes of T (o₁ < o₂, o₁ > o₂, square), with and without the ridge term.
        for (m, o1, o2, r) in [(12, 2, 3, 1e-3), (15, 4, 2, 0.0), (20, 3, 3, 1e-2)] {
            let (h1, h2) = views(m, o1, o2, 5 + m as u64);
            let analytic = total_correlation(&h1, &h2, r).unwrap();
            let eps = 1e-6;
            for (view, h) in [&h1, &h2].into_iter().enumerate() {
                for index in [0, 7, h.values().len() - 1] {
                    let shifted = |step: f64| {
                        let mut values = h.values().to_vec();
                        values[index] += step;
                        let moved = Matrix::new(h.rows(), h.cols(), values).unwrap();
                        let (a, b) = if view == 0 { (&moved, &h2) } else { (&h1, &moved) };
                        total_correlation(a, b, r).unwrap().value
                    };
                    let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
                    let got = analytic.gradients[view].values()[index];
                    assert!(
                        (got - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                        "m {m}, o {o1}/{o2}, r {r}: view {view} value {index}: analytic {got}, numeric {numeric}"
                    );
                }
            }
        }
    }

    #[test]
    fn correlation_is_cca_on_the_batch() {
        // Without a ridge term, the total correlation is the sum of linear CCA's correlations.
        let (h1, h2) = views(40, 3, 4, 3);
        let total = total_correlation(&h1, &h2, 0.0).unwrap();
        let cca = super::super::cca::Cca::fit(&h1, &h2, &super::super::cca::CcaOptions::new(3)).unwrap();
        assert!((total.value - cca.correlations().iter().sum::<f64>()).abs() < 1e-12);
        // Perfectly correlated views (one a linear map of the other): every correlation is 1.
        let mapped = Matrix::new(
            40,
            3,
            matmul(
                h1.values(),
                &[2.0, 0.5, 0.0, -1.0, 1.0, 0.3, 0.0, 0.2, 1.5],
                40,
                3,
                3,
            ),
        )
        .unwrap();
        let perfect = total_correlation(&h1, &mapped, 0.0).unwrap();
        assert!(
            perfect.correlations.iter().all(|c| (c - 1.0).abs() < 1e-9),
            "{:?}",
            perfect.correlations
        );
    }

    fn surrogate_case<B: TestBackend>(device: &B::Device) {
        let (h1, h2) = views(16, 3, 2, 9);
        let tensor = |h: &Matrix| {
            let values: Vec<f32> = h.values().iter().map(|&v| v as f32).collect();
            Tensor::<B, 2>::from_data(TensorData::new(values, [h.rows(), h.cols()]), device).require_grad()
        };
        let (t1, t2) = (tensor(&h1), tensor(&h2));
        let out = deep_cca_loss(t1.clone(), t2.clone(), 1e-3).unwrap();
        let grads = out.loss.clone().backward();
        // The f64 reference on the f32-rounded outputs the backend saw.
        let rounded = |h: &Matrix| {
            Matrix::new(
                h.rows(),
                h.cols(),
                h.values().iter().map(|&v| f64::from(v as f32)).collect(),
            )
            .unwrap()
        };
        let reference = total_correlation(&rounded(&h1), &rounded(&h2), 1e-3).unwrap();
        assert_close("loss", &to_f64(out.loss), &[-reference.value], 1e-5);
        for (view, t) in [t1, t2].iter().enumerate() {
            let expected: Vec<f64> = reference.gradients[view].values().iter().map(|g| -g).collect();
            assert_close(
                &format!("view {view} gradient"),
                &to_f64(t.grad(&grads).unwrap()),
                &expected,
                1e-6,
            );
        }
    }
    for_each_backend!(surrogate_gives_the_exact_gradient, surrogate_case);

    #[test]
    fn bad_input_is_named() {
        let (h1, h2) = views(4, 4, 2, 1);
        assert_eq!(
            total_correlation(&h1, &h2, 1e-4).unwrap_err().to_string(),
            "deep CCA: a batch of 4 pairs for outputs of width 4 and 2: the covariances need more pairs than output units (use a batch of several times 4)"
        );
        let (h1, h2) = views(10, 2, 2, 1);
        assert!(total_correlation(&h1, &h2, -1.0)
            .unwrap_err()
            .to_string()
            .contains("regulariser -1"));
        let none = Matrix::new(10, 0, Vec::new()).unwrap();
        assert_eq!(
            total_correlation(&none, &h2, 0.0).unwrap_err().to_string(),
            "deep CCA: outputs of width 0 and 2: both need at least one unit"
        );
        let short = Matrix::new(9, 2, vec![0.0; 18]).unwrap();
        assert!(total_correlation(&h1, &short, 0.0)
            .unwrap_err()
            .to_string()
            .contains("10 and 9 rows"));
        let device = Default::default();
        let nan =
            Tensor::<Reference, 2>::from_floats([[0.0, f64::NAN as f32], [1.0, 2.0], [3.0, 1.0]], &device);
        let err = deep_cca_loss(Tensor::zeros([3, 2], &device), nan, 0.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "deep CCA: view 1: Matrix: row 0, column 1 holds NaN"
        );
    }
}
