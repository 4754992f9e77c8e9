//! Canonical correlation analysis (Hotelling 1936), the strongest linear coordination: find
//! `k` pairs of directions, one in each view, along which the two views' projections are as
//! correlated as possible and uncorrelated with the other pairs.
//!
//! For views `X`: `[n, p]` and `Y`: `[n, q]` (row `i` of each describe one example), with
//! ridge terms `r_x`, `r_y`:
//!
//! ```text
//! Σ_xx = cov(X) + r_x I     Σ_yy = cov(Y) + r_y I     Σ_xy = cov(X, Y)      (cov: divided by n − 1)
//! T = Σ_xx^{-1/2} Σ_xy Σ_yy^{-1/2} = U D Vᵀ                                  (SVD)
//! A = Σ_xx^{-1/2} U_k     B = Σ_yy^{-1/2} V_k                                ([p, k], [q, k])
//! ```
//!
//! The canonical correlations are `D`'s first `k` values (largest first, in `[0, 1]`), and
//! `(X − x̄) A`, `(Y − ȳ) B` the projections. `Aᵀ Σ_xx A = I`: each canonical variable has unit
//! variance. Everything is computed on the host in f64 (the covariances by blocked GEMMs,
//! the inverse square roots and the SVD through symmetric eigendecompositions), in a fixed
//! order; [`Cca::project_tensor`] applies the fitted projection on any backend.
//!
//! ```
//! use mosaic::analysis::Matrix;
//! use mosaic::coordinated::cca::{Cca, CcaOptions};
//!
//! // y's first column is x's first column plus noise; the second views' other columns are
//! // unrelated: one strong canonical correlation, then a weak one.
//! let x = Matrix::new(6, 2, vec![1., 0., 2., 1., 3., 0., 4., 1., 5., 0., 6., 1.])?;
//! let y = Matrix::new(6, 2, vec![1.1, 3., 1.9, 1., 3.2, 4., 3.9, 1., 5.1, 5., 6.0, 9.])?;
//! let cca = Cca::fit(&x, &y, &CcaOptions::new(2))?;
//! assert!(cca.correlations()[0] > 0.99 && cca.correlations()[1] < cca.correlations()[0]);
//! assert_eq!(cca.project(0, &x)?.cols(), 2);
//! # Ok::<(), mosaic::MosaicError>(())
//! ```

use crate::analysis::{same_rows, Matrix};
use crate::linalg::{cross_covariance, matmul, symmetric_eigen, transpose};
use crate::validate::{check_input, Dim};
use crate::{MosaicError, Result};
use burn::tensor::{backend::Backend, Tensor, TensorData};

const WHAT: &str = "CCA";

/// Eigenvalues of a covariance below this share of its largest count as zero (its rank).
const RANK_TOLERANCE: f64 = 1e-10;

/// Settings of [`Cca::fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CcaOptions {
    /// The number of canonical pairs `k` (at most the rank of either view).
    pub components: usize,
    /// The ridge term added to each view's covariance, `(r_x, r_y)`: 0 for textbook CCA, a
    /// small positive value when a view has nearly dependent columns or few examples.
    pub regularisation: (f64, f64),
}

impl CcaOptions {
    /// `components` pairs, no regularisation.
    pub fn new(components: usize) -> CcaOptions {
        CcaOptions {
            components,
            regularisation: (0.0, 0.0),
        }
    }

    /// The same, with ridge terms `r_x`, `r_y`.
    #[must_use]
    pub fn with_regularisation(self, r_x: f64, r_y: f64) -> CcaOptions {
        CcaOptions {
            regularisation: (r_x, r_y),
            ..self
        }
    }
}

/// A fitted CCA: the canonical correlations and each view's projection.
#[derive(Debug, Clone)]
pub struct Cca {
    correlations: Vec<f64>,
    /// Per view: the column means and the projection (`[width, k]` row-major).
    views: [(Vec<f64>, Vec<f64>); 2],
}

/// The whitened cross-covariance of two views and its singular value decomposition: what CCA
/// and deep CCA share.
pub(super) struct Whitened {
    /// Per view: `Σ^{-1/2}` (`[w, w]`) and its width.
    pub inverse_roots: [(Vec<f64>, usize); 2],
    /// Per view: the rank of its covariance (without the ridge term).
    pub ranks: [usize; 2],
    /// `T`'s singular values, largest first (`min(p, q)` of them).
    pub singular_values: Vec<f64>,
    /// `U`: `[p, min(p, q)]`, `V`: `[q, min(p, q)]` row-major (on the side computed from
    /// `T v`, a column is left zero where `σ` is below `1e-7 σ₁`, the precision of the route
    /// through `T Tᵀ`).
    pub u: Vec<f64>,
    /// See `u`.
    pub v: Vec<f64>,
}

impl Whitened {
    /// The two views, their ridge terms: `Σ_xx^{-1/2}`, `Σ_yy^{-1/2}`, and `T`'s SVD.
    pub fn new(x: &Matrix, y: &Matrix, regularisation: (f64, f64)) -> Whitened {
        let (p, q) = (x.cols(), y.cols());
        let root = |m: &Matrix, r: f64| {
            let w = m.cols();
            let mut cov = cross_covariance(m, m);
            (0..w).for_each(|i| cov[i * w + i] += r);
            let eigen = symmetric_eigen(&cov, w);
            let largest = eigen.values.first().copied().unwrap_or(0.0);
            let floor = RANK_TOLERANCE * largest.max(f64::MIN_POSITIVE);
            let rank = eigen.values.iter().filter(|&&l| l - r > floor).count();
            let inverse_root = eigen.apply(|l| if l > floor { 1.0 / l.sqrt() } else { 0.0 });
            (inverse_root, rank)
        };
        let ((wx, rank_x), (wy, rank_y)) = (root(x, regularisation.0), root(y, regularisation.1));
        let t = matmul(&matmul(&wx, &cross_covariance(x, y), p, p, q), &wy, p, q, q);
        let k = p.min(q);
        // T's SVD from the eigendecomposition of the smaller of T Tᵀ and Tᵀ T: its unit
        // eigenvectors are one side's singular vectors; the other side's is T v / σ.
        let (small, large, t_small) = if p <= q {
            (p, q, t.clone())
        } else {
            (q, p, transpose(&t, p, q))
        };
        let t_large = transpose(&t_small, small, large);
        let eigen = symmetric_eigen(&matmul(&t_small, &t_large, small, large, small), small);
        let singular_values: Vec<f64> = eigen.values.iter().map(|l| l.max(0.0).sqrt().min(1.0)).collect();
        let partner = matmul(&t_large, &eigen.vectors, large, small, small);
        let mut other = vec![0.0; large * k];
        let floor = 1e-7 * singular_values.first().copied().unwrap_or(0.0);
        for (j, &sigma) in singular_values.iter().enumerate() {
            // T v_j has norm σ_j: scaled by its own norm, the partner has unit length even
            // where σ_j carries the rounding of T Tᵀ.
            let norm = (0..large)
                .map(|i| partner[i * small + j].powi(2))
                .sum::<f64>()
                .sqrt();
            if sigma > floor && norm > 0.0 {
                for i in 0..large {
                    other[i * k + j] = partner[i * small + j] / norm;
                }
            }
        }
        let (u, v) = if p <= q {
            (eigen.vectors, other)
        } else {
            (other, eigen.vectors)
        };
        Whitened {
            inverse_roots: [(wx, p), (wy, q)],
            ranks: [rank_x, rank_y],
            singular_values,
            u,
            v,
        }
    }
}

impl Cca {
    /// Fits `options.components` canonical pairs of `x`: `[n, p]` and `y`: `[n, q]`.
    ///
    /// # Errors
    /// [`MosaicError::Invalid`] naming the view: different row counts, fewer than two rows, a
    /// constant column, a rank below `components`, `components` of 0, or a ridge term that
    /// is negative or not finite. (A [`Matrix`] holds only finite values.)
    pub fn fit(x: &Matrix, y: &Matrix, options: &CcaOptions) -> Result<Cca> {
        let CcaOptions {
            components: k,
            regularisation: (r_x, r_y),
        } = *options;
        same_rows(WHAT, x, y)?;
        if x.rows() < 2 {
            return Err(MosaicError::invalid(
                WHAT,
                "one example: covariances need at least two",
            ));
        }
        if k == 0 || ![r_x, r_y].iter().all(|r| r.is_finite() && *r >= 0.0) {
            return Err(MosaicError::invalid(
                WHAT,
                format!("components {k}, regularisation ({r_x}, {r_y}): expected at least one component and finite ridge terms ≥ 0"),
            ));
        }
        for (view, m) in [x, y].into_iter().enumerate() {
            if m.cols() == 0 {
                return Err(MosaicError::invalid(WHAT, format!("view {view} has no columns")));
            }
            if m.values().iter().any(|v| v.abs() > 1e150) {
                return Err(MosaicError::invalid(
                    WHAT,
                    format!(
                        "view {view} holds values beyond ±1e150: its covariances would overflow; rescale it"
                    ),
                ));
            }
            if let Some(j) = m.column_variances().iter().position(|&v| v == 0.0) {
                return Err(MosaicError::invalid(
                    WHAT,
                    format!(
                        "view {view}, column {j} is constant: it cannot correlate with anything; drop it"
                    ),
                ));
            }
        }
        let whitened = Whitened::new(x, y, options.regularisation);
        for (view, &rank) in whitened.ranks.iter().enumerate() {
            if rank < k {
                return Err(MosaicError::invalid(
                    WHAT,
                    format!(
                        "view {view} has rank {rank} (of {} columns, {} examples), below the {k} components requested",
                        [x, y][view].cols(),
                        x.rows()
                    ),
                ));
            }
        }
        let project = |(root, w): &(Vec<f64>, usize), vectors: &[f64], m: &Matrix| {
            let r = whitened.singular_values.len();
            let first_k: Vec<f64> = (0..*w).flat_map(|i| vectors[i * r..i * r + k].to_vec()).collect();
            (m.column_means(), matmul(root, &first_k, *w, *w, k))
        };
        Ok(Cca {
            correlations: whitened.singular_values[..k].to_vec(),
            views: [
                project(&whitened.inverse_roots[0], &whitened.u, x),
                project(&whitened.inverse_roots[1], &whitened.v, y),
            ],
        })
    }

    /// The canonical correlations on the training data, largest first: `[k]`.
    pub fn correlations(&self) -> &[f64] {
        &self.correlations
    }

    /// The number of canonical pairs `k`.
    pub fn components(&self) -> usize {
        self.correlations.len()
    }

    fn view(&self, view: usize) -> Result<&(Vec<f64>, Vec<f64>)> {
        self.views
            .get(view)
            .ok_or_else(|| MosaicError::invalid(WHAT, format!("view {view}: CCA has views 0 and 1")))
    }

    /// `view`'s projection matrix (`A` for view 0, `B` for view 1): `[width, k]`.
    ///
    /// # Errors
    /// A view other than 0 or 1.
    pub fn weights(&self, view: usize) -> Result<Matrix> {
        let (mean, weights) = self.view(view)?;
        Matrix::new(mean.len(), self.components(), weights.clone())
    }

    /// The canonical variables of `data` seen as `view`: `(data − mean) W`, `[n, k]`.
    ///
    /// # Errors
    /// A view other than 0 or 1, or `data` of another width.
    pub fn project(&self, view: usize, data: &Matrix) -> Result<Matrix> {
        let (mean, weights) = self.view(view)?;
        check_input(
            WHAT,
            Some(view),
            &[data.rows(), data.cols()],
            &[Dim::Is(data.rows()), Dim::Is(mean.len())],
            " ([n, width of the view CCA was fitted on])",
        )?;
        let centred: Vec<f64> = data
            .values()
            .iter()
            .enumerate()
            .map(|(i, v)| v - mean[i % mean.len()])
            .collect();
        Matrix::new(
            data.rows(),
            self.components(),
            matmul(&centred, weights, data.rows(), mean.len(), self.components()),
        )
    }

    /// [`Cca::project`] on a backend, in f32: `x`: `[n, width]` → `[n, k]`.
    ///
    /// # Errors
    /// A view other than 0 or 1, or `x` of another width or empty.
    pub fn project_tensor<B: Backend>(&self, view: usize, x: Tensor<B, 2>) -> Result<Tensor<B, 2>> {
        let (mean, weights) = self.view(view)?;
        let w = mean.len();
        check_input(
            WHAT,
            Some(view),
            &x.dims(),
            &[Dim::NonEmpty("n", "the batch"), Dim::Is(w)],
            " ([n, width of the view CCA was fitted on])",
        )?;
        let device = x.device();
        let as_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let mean = Tensor::<B, 2>::from_data(TensorData::new(as_f32(mean), [1, w]), &device);
        let weights =
            Tensor::<B, 2>::from_data(TensorData::new(as_f32(weights), [w, self.components()]), &device);
        Ok((x - mean).matmul(weights))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::SplitMix64;
    use crate::test_util::*;

    /// The statsmodels fixture (`scripts/make_cca_fixture.py`): two views and their
    /// canonical correlations.
    fn fixture() -> (Matrix, Matrix, Vec<f64>) {
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/cca.json")).unwrap();
        let floats = |key: &str| -> Vec<f64> {
            json[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let n = json["n"].as_u64().unwrap() as usize;
        let cols = |key: &str| json[key].as_u64().unwrap() as usize;
        (
            Matrix::new(n, cols("x_cols"), floats("x")).unwrap(),
            Matrix::new(n, cols("y_cols"), floats("y")).unwrap(),
            floats("correlations"),
        )
    }

    /// Pearson correlation of two columns.
    fn pearson(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let (va, vb): (f64, f64) = (
            a.iter().map(|x| (x - ma).powi(2)).sum(),
            b.iter().map(|y| (y - mb).powi(2)).sum(),
        );
        cov / (va * vb).sqrt()
    }

    fn column(m: &Matrix, j: usize) -> Vec<f64> {
        (0..m.rows()).map(|i| m.row(i)[j]).collect()
    }

    #[test]
    fn matches_statsmodels() {
        let (x, y, expected) = fixture();
        let cca = Cca::fit(&x, &y, &CcaOptions::new(3)).unwrap();
        assert_close("canonical correlations", cca.correlations(), &expected, 1e-5);
        // The projections realise them: paired canonical variables correlate by D_jj, and
        // different ones not at all; each has unit variance.
        let (px, py) = (cca.project(0, &x).unwrap(), cca.project(1, &y).unwrap());
        for (j, &correlation) in expected.iter().enumerate() {
            assert!((pearson(&column(&px, j), &column(&py, j)) - correlation).abs() < 1e-9);
            let variance = column(&px, j).iter().map(|v| v * v).sum::<f64>() / 59.0;
            assert!((variance - 1.0).abs() < 1e-9, "variance {variance}");
            for l in 0..3 {
                if l != j {
                    assert!(pearson(&column(&px, j), &column(&py, l)).abs() < 1e-9);
                    assert!(pearson(&column(&px, j), &column(&px, l)).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn correlations_are_sorted_in_the_unit_interval_and_invariant_to_linear_maps() {
        let (x, y, _) = fixture();
        let base = Cca::fit(&x, &y, &CcaOptions::new(3)).unwrap();
        let c = base.correlations();
        assert!(
            c.windows(2).all(|w| w[0] >= w[1]) && c.iter().all(|v| (0.0..=1.0).contains(v)),
            "{c:?}"
        );
        // Invertible maps of either view (a random 5×5, and a 3×3 with a shift) leave the
        // correlations unchanged.
        let mut rng = SplitMix64::new(4);
        let map: Vec<f64> = (0..25)
            .map(|k| f64::from(rng.signed_unit()) + if k % 6 == 0 { 2.0 } else { 0.0 })
            .collect();
        let mapped_x = Matrix::new(60, 5, matmul(x.values(), &map, 60, 5, 5)).unwrap();
        let shear = [1.0, 0.5, 0.0, 0.0, 2.0, -1.0, 0.3, 0.0, 1.0];
        let mapped_y = Matrix::new(
            60,
            3,
            matmul(y.values(), &shear, 60, 3, 3)
                .iter()
                .map(|v| v + 7.0)
                .collect(),
        )
        .unwrap();
        let mapped = Cca::fit(&mapped_x, &mapped_y, &CcaOptions::new(3)).unwrap();
        assert_close("after invertible maps", mapped.correlations(), c, 1e-9);
        // Swapping the views gives the same correlations (the other side of T's SVD).
        let swapped = Cca::fit(&y, &x, &CcaOptions::new(3)).unwrap();
        assert_close("views swapped", swapped.correlations(), c, 1e-9);
        // A ridge term can only lower them.
        let ridge = Cca::fit(&x, &y, &CcaOptions::new(3).with_regularisation(0.5, 0.5)).unwrap();
        assert!(ridge.correlations().iter().zip(c).all(|(r, c)| r < c));
    }

    fn tensor_case<B: TestBackend>(device: &B::Device) {
        let (x, y, _) = fixture();
        let cca = Cca::fit(&x, &y, &CcaOptions::new(2)).unwrap();
        for (view, m) in [&x, &y].into_iter().enumerate() {
            let values: Vec<f32> = m.values().iter().map(|&v| v as f32).collect();
            let t = Tensor::<B, 2>::from_data(TensorData::new(values, [m.rows(), m.cols()]), device);
            let got = to_f64(cca.project_tensor(view, t).unwrap());
            assert_close(
                &format!("view {view}"),
                &got,
                cca.project(view, m).unwrap().values(),
                1e-4,
            );
        }
    }
    for_each_backend!(projects_on_every_backend, tensor_case);

    #[test]
    fn bad_input_is_named() {
        let (x, y, _) = fixture();
        let err =
            |a: &Matrix, b: &Matrix, options: CcaOptions| Cca::fit(a, b, &options).unwrap_err().to_string();
        let short = Matrix::new(59, 3, y.values()[..177].to_vec()).unwrap();
        assert_eq!(
            err(&x, &short, CcaOptions::new(1)),
            "CCA: the representations have 60 and 59 rows; expected one row per example in both"
        );
        let mut constant = y.values().to_vec();
        (0..60).for_each(|i| constant[i * 3 + 2] = 4.0);
        assert_eq!(
            err(&x, &Matrix::new(60, 3, constant).unwrap(), CcaOptions::new(1)),
            "CCA: view 1, column 2 is constant: it cannot correlate with anything; drop it"
        );
        // Column 3 of x copies column 0 plus column 1: rank 4 of 5.
        let mut dependent = x.values().to_vec();
        (0..60).for_each(|i| dependent[i * 5 + 3] = dependent[i * 5] + dependent[i * 5 + 1]);
        let dependent = Matrix::new(60, 5, dependent).unwrap();
        assert_eq!(
            err(&dependent, &x, CcaOptions::new(5)),
            "CCA: view 0 has rank 4 (of 5 columns, 60 examples), below the 5 components requested"
        );
        // Rank 4 is enough for 3 components (the dependent column adds nothing).
        let fitted = Cca::fit(&dependent, &y, &CcaOptions::new(3)).unwrap();
        assert!(fitted.correlations().iter().all(|c| c.is_finite()));
        assert!(err(&x, &y, CcaOptions::new(0)).contains("expected at least one component"));
        assert!(
            err(&x, &y, CcaOptions::new(1).with_regularisation(-1.0, 0.0)).contains("regularisation (-1, 0)")
        );
        let cca = Cca::fit(&x, &y, &CcaOptions::new(2)).unwrap();
        assert_eq!(
            cca.project(1, &x).unwrap_err().to_string(),
            "CCA: modality 1 has shape [60, 5], expected [60, 3] ([n, width of the view CCA was fitted on])"
        );
        assert!(cca
            .project(2, &x)
            .unwrap_err()
            .to_string()
            .contains("view 2: CCA has views 0 and 1"));
        let empty = Matrix::new(60, 0, Vec::new()).unwrap();
        assert_eq!(err(&empty, &y, CcaOptions::new(1)), "CCA: view 0 has no columns");
        let huge = Matrix::new(60, 3, y.values().iter().map(|v| v * 1e160).collect()).unwrap();
        assert!(err(&x, &huge, CcaOptions::new(1)).starts_with("CCA: view 1 holds values beyond ±1e150"));
        // Non-finite values never reach CCA: a Matrix refuses them.
        assert!(Matrix::new(1, 2, vec![0.0, f64::NAN]).is_err());
    }
}
