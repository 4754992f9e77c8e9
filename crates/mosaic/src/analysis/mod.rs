//! Tools to look inside representations, reusable on any model's layers (CMU 11-777,
//! "Multimodal Representations": analysing intermediate representations):
//!
//! - [`probe`]: linear probe accuracy (can a linear classifier read the labels off a layer?),
//!   by ridge regression in closed form or by logistic regression;
//! - [`retrieval`]: cross-modal retrieval, mean average precision and recall@k;
//! - [`cka`]: linear centred kernel alignment between two representations of the same
//!   examples;
//! - [`units`]: the share of hidden units driven by one modality only.
//!
//! They work on [`Matrix`]: a layer's codes copied to the host in f64 (one row per example),
//! computed in a fixed order, so their results do not depend on the backend's threads.
//!
//! ```
//! use mosaic::analysis::{cka::linear_cka, Matrix};
//!
//! let x = Matrix::new(4, 2, vec![1.0, 0.0, 0.0, 1.0, 2.0, 1.0, 1.0, 3.0])?;
//! // Scaling a representation does not change what it holds.
//! let scaled = Matrix::new(4, 2, x.values().iter().map(|v| 5.0 * v).collect())?;
//! assert!((linear_cka(&x, &scaled)? - 1.0).abs() < 1e-12);
//! # Ok::<(), mosaic::MosaicError>(())
//! ```

pub mod cka;
mod logistic;
pub mod probe;
pub mod retrieval;
pub mod units;

use crate::{MosaicError, Result};
use burn::tensor::{backend::Backend, Tensor};

/// A row-major `[rows, cols]` matrix of f64: one example per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    values: Vec<f64>,
}

impl Matrix {
    /// `values` as `[rows, cols]`.
    ///
    /// # Errors
    /// A length other than `rows · cols`, or a non-finite value.
    pub fn new(rows: usize, cols: usize, values: Vec<f64>) -> Result<Matrix> {
        if values.len() != rows * cols {
            return Err(MosaicError::invalid(
                "Matrix",
                format!("{} values for [{rows}, {cols}]", values.len()),
            ));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(MosaicError::invalid(
                "Matrix",
                format!(
                    "row {}, column {} holds {}",
                    i / cols.max(1),
                    i % cols.max(1),
                    values[i]
                ),
            ));
        }
        Ok(Matrix { rows, cols, values })
    }

    /// A tensor's values.
    ///
    /// # Errors
    /// Those of [`Matrix::new`].
    pub fn from_tensor<B: Backend>(tensor: Tensor<B, 2>) -> Result<Matrix> {
        let [rows, cols] = tensor.dims();
        Matrix::new(rows, cols, tensor.into_data().iter::<f64>().collect())
    }

    /// `f32` values as `[rows, cols]`.
    ///
    /// # Errors
    /// Those of [`Matrix::new`].
    pub fn from_f32(rows: usize, cols: usize, values: &[f32]) -> Result<Matrix> {
        Matrix::new(rows, cols, values.iter().map(|&v| f64::from(v)).collect())
    }

    /// Rows (examples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// Columns side by side: `[self, other]`, `[rows, cols + other.cols]`.
    ///
    /// # Errors
    /// Different row counts.
    pub fn hcat(&self, other: &Matrix) -> Result<Matrix> {
        same_rows("Matrix::hcat", self, other)?;
        let values = (0..self.rows)
            .flat_map(|i| self.row(i).iter().chain(other.row(i)).copied())
            .collect();
        Matrix::new(self.rows, self.cols + other.cols, values)
    }

    /// Each column minus its mean.
    pub fn centred(&self) -> Matrix {
        let mean = self.column_means();
        let values = self
            .values
            .iter()
            .enumerate()
            .map(|(k, v)| v - mean[k % self.cols])
            .collect();
        Matrix { values, ..*self }
    }

    /// Mean of each column.
    pub fn column_means(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.cols];
        for i in 0..self.rows {
            for (m, v) in mean.iter_mut().zip(self.row(i)) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= self.rows.max(1) as f64);
        mean
    }

    /// Variance of each column about its mean (divided by the number of rows), summed in row
    /// order.
    pub fn column_variances(&self) -> Vec<f64> {
        let centred = self.centred();
        (0..self.cols)
            .map(|j| (0..self.rows).map(|i| centred.row(i)[j].powi(2)).sum::<f64>() / self.rows as f64)
            .collect()
    }

    /// `selfᵀ · other`: `[cols, other.cols]`, summed over rows in order.
    pub(crate) fn t_mul(&self, other: &Matrix) -> Vec<f64> {
        let (p, q) = (self.cols, other.cols);
        let mut out = vec![0.0; p * q];
        for i in 0..self.rows {
            let (a, b) = (self.row(i), other.row(i));
            for (j, &aj) in a.iter().enumerate() {
                let slot = &mut out[j * q..(j + 1) * q];
                for (o, &bk) in slot.iter_mut().zip(b) {
                    *o += aj * bk;
                }
            }
        }
        out
    }
}

/// Checks that two representations describe the same examples.
pub(crate) fn same_rows(what: &'static str, a: &Matrix, b: &Matrix) -> Result<()> {
    if a.rows != b.rows {
        return Err(MosaicError::invalid(
            what,
            format!(
                "the representations have {} and {} rows; expected one row per example in both",
                a.rows, b.rows
            ),
        ));
    }
    if a.rows == 0 {
        return Err(MosaicError::invalid(what, "no examples"));
    }
    Ok(())
}
