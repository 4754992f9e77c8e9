//! Linear centred kernel alignment (Kornblith et al., "Similarity of Neural Network
//! Representations Revisited", ICML 2019):
//!
//! ```text
//! CKA(X, Y) = ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F · ‖Yᵀ Y‖_F)       X, Y column-centred
//! ```
//!
//! for `X`: `[n, p]` and `Y`: `[n, q]`, two representations of the same `n` examples (`p`
//! and `q` may differ). It lies in [0, 1], is 1 for `Y = X`, and is unchanged by orthogonal
//! maps and isotropic scaling of either side, but not by arbitrary invertible maps.

use super::{same_rows, Matrix};
use crate::{MosaicError, Result};

const WHAT: &str = "linear CKA";

fn frobenius_sq(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum()
}

/// Linear CKA between `x` and `y`.
///
/// # Errors
/// Different numbers of rows, no rows, or a representation that is constant over the
/// examples (CKA is undefined for it).
pub fn linear_cka(x: &Matrix, y: &Matrix) -> Result<f64> {
    same_rows(WHAT, x, y)?;
    let (x, y) = (x.centred(), y.centred());
    let xx = frobenius_sq(&x.t_mul(&x)).sqrt();
    let yy = frobenius_sq(&y.t_mul(&y)).sqrt();
    if xx == 0.0 || yy == 0.0 {
        return Err(MosaicError::invalid(
            WHAT,
            "a representation is the same for every example",
        ));
    }
    Ok(frobenius_sq(&y.t_mul(&x)) / (xx * yy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn random(rows: usize, cols: usize, seed: u64) -> Matrix {
        let mut rng = SplitMix64::new(seed);
        Matrix::new(
            rows,
            cols,
            (0..rows * cols).map(|_| f64::from(rng.normal())).collect(),
        )
        .unwrap()
    }

    /// `x · m` for an `[x.cols, cols]` matrix `m`.
    fn times(x: &Matrix, m: &[f64], cols: usize) -> Matrix {
        let values = (0..x.rows())
            .flat_map(|i| {
                (0..cols).map(move |j| {
                    x.row(i)
                        .iter()
                        .enumerate()
                        .map(|(k, v)| v * m[k * cols + j])
                        .sum::<f64>()
                })
            })
            .collect();
        Matrix::new(x.rows(), cols, values).unwrap()
    }

    /// A random orthogonal `[d, d]` matrix: Gram–Schmidt on random columns.
    fn orthogonal(d: usize, seed: u64) -> Vec<f64> {
        let r = random(d, d, seed);
        let mut q: Vec<Vec<f64>> = Vec::new();
        for j in 0..d {
            let mut v: Vec<f64> = (0..d).map(|i| r.row(i)[j]).collect();
            for u in &q {
                let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, a)| *x -= dot * a);
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            q.push(v.into_iter().map(|x| x / norm).collect());
        }
        (0..d * d).map(|k| q[k % d][k / d]).collect()
    }

    #[test]
    fn a_representation_aligns_fully_with_itself() {
        let x = random(50, 6, 1);
        assert!((linear_cka(&x, &x).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn invariant_to_orthogonal_maps_and_isotropic_scaling() {
        let (x, y) = (random(60, 5, 2), random(60, 3, 3));
        let base = linear_cka(&x, &y).unwrap();
        let q = orthogonal(5, 4);
        // Q is orthogonal: QᵀQ = I.
        let qtq = times(
            &Matrix::new(5, 5, (0..25).map(|k| q[(k % 5) * 5 + k / 5]).collect()).unwrap(),
            &q,
            5,
        );
        for (k, v) in qtq.values().iter().enumerate() {
            assert!((v - f64::from(u8::from(k % 6 == 0))).abs() < 1e-12);
        }
        let rotated = times(&x, &q, 5);
        let scaled = Matrix::new(60, 3, y.values().iter().map(|v| -7.5 * v).collect()).unwrap();
        assert!((linear_cka(&rotated, &scaled).unwrap() - base).abs() < 1e-12);
        // Not so for a stretch of one axis: an invertible map CKA does see.
        let stretch: Vec<f64> = (0..25)
            .map(|k| {
                if k == 0 {
                    30.0
                } else if k % 6 == 0 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let stretched = times(&x, &stretch, 5);
        assert!((linear_cka(&stretched, &y).unwrap() - base).abs() > 1e-3);
    }

    #[test]
    fn matches_a_hand_computed_value() {
        // X = [1, 2, 3]ᵀ, Y = [1, 3, 2]ᵀ: centred (-1, 0, 1) and (-1, 1, 0); YᵀX = 1, XᵀX = YᵀY = 2.
        let x = Matrix::new(3, 1, vec![1.0, 2.0, 3.0]).unwrap();
        let y = Matrix::new(3, 1, vec![1.0, 3.0, 2.0]).unwrap();
        assert!((linear_cka(&x, &y).unwrap() - 0.25).abs() < 1e-15);
        let value = linear_cka(&random(40, 4, 5), &random(40, 7, 6)).unwrap();
        assert!((0.0..=1.0).contains(&value));
    }

    #[test]
    fn bad_input_is_named() {
        let err = linear_cka(&random(4, 2, 1), &random(5, 2, 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linear CKA: the representations have 4 and 5 rows; expected one row per example in both"
        );
        let constant = Matrix::new(3, 1, vec![2.0; 3]).unwrap();
        assert!(linear_cka(&constant, &random(3, 1, 1))
            .unwrap_err()
            .to_string()
            .contains("the same for every example"));
    }
}
