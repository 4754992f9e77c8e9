//! Sparse aggregation on host memory (row-major `[_, F]` slices), for the CPU backends.
//!
//! Every output row is written by one closure call that reads its entries in CSR order;
//! rayon spreads fixed blocks of [`ROWS_PER_TASK`] rows over its threads. No sum is ever
//! split between threads, so the results are bit-identical for any number of threads.

use std::ops::{Add, Mul};

use rayon::prelude::*;

use super::{Csr, Side};

/// Rows per rayon task: fixed, so the partition never depends on the pool.
pub const ROWS_PER_TASK: usize = 64;

/// The float types the host path computes in.
pub trait HostFloat:
    Copy + Send + Sync + PartialOrd + Add<Output = Self> + Mul<Output = Self> + 'static
{
    /// 0.
    const ZERO: Self;
    /// `v` in this type.
    fn from_f64(v: f64) -> Self;
    /// `v` in this type.
    fn from_f32(v: f32) -> Self;
}

impl HostFloat for f32 {
    const ZERO: Self = 0.0;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl HostFloat for f64 {
    const ZERO: Self = 0.0;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn from_f32(v: f32) -> Self {
        v as f64
    }
}

/// Calls `row(i, out_row)` for every `features`-wide row of `out`, in parallel by blocks.
fn by_rows<T: Send>(out: &mut [T], features: usize, row: impl Fn(usize, &mut [T]) + Sync) {
    if features == 0 {
        return;
    }
    out.par_chunks_mut(ROWS_PER_TASK * features)
        .enumerate()
        .for_each(|(task, block)| {
            for (r, out_row) in block.chunks_mut(features).enumerate() {
                row(task * ROWS_PER_TASK + r, out_row);
            }
        });
}

/// Row `j` of a row-major `[_, F]` matrix.
fn row_of<T>(values: &[T], j: usize, features: usize) -> &[T] {
    &values[j * features..(j + 1) * features]
}

/// `out[i] = Σ_{k ∈ row i} a_k x[col_k]`: `x` `[cols, F]`, `out` `[rows, F]`.
pub fn sum<T: HostFloat>(csr: &Csr, x: &[T], features: usize, out: &mut [T]) {
    let col = csr.col();
    let weight = csr.weight();
    by_rows(out, features, |i, out_row| {
        out_row.fill(T::ZERO);
        for k in csr.range(i) {
            let source = row_of(x, col[k] as usize, features);
            match weight {
                Some(weight) => {
                    let a = T::from_f32(weight[k]);
                    for (o, &v) in out_row.iter_mut().zip(source) {
                        *o = *o + a * v;
                    }
                }
                None => {
                    for (o, &v) in out_row.iter_mut().zip(source) {
                        *o = *o + v;
                    }
                }
            }
        }
    });
}

/// For every row `i` and feature `f`, the first entry `k` of row `i` whose value
/// `x[col_k, f]` is the row's maximum (`[rows, F]`; 0 for rows without entries, which no
/// column refers to).
pub fn argmax<T: HostFloat>(csr: &Csr, x: &[T], features: usize) -> Vec<u32> {
    let col = csr.col();
    let mut arg = vec![0u32; csr.rows() * features];
    by_rows(&mut arg, features, |i, arg_row| {
        let range = csr.range(i);
        if range.is_empty() {
            return;
        }
        arg_row.fill(range.start as u32);
        let mut best = row_of(x, col[range.start] as usize, features).to_vec();
        for (k, &c) in col.iter().enumerate().take(range.end).skip(range.start + 1) {
            let source = row_of(x, c as usize, features);
            let k = k as u32;
            // Branch-free selects, so that the loop vectorises.
            for ((a, b), &v) in arg_row.iter_mut().zip(best.iter_mut()).zip(source) {
                let greater = v > *b;
                *b = if greater { v } else { *b };
                *a = if greater { k } else { *a };
            }
        }
    });
    arg
}

/// `out[i, f] = max_{k ∈ row i} x[col_k, f]` (0 for a row without entries): the values at
/// [`argmax`]'s entries, without keeping the entries.
pub fn max<T: HostFloat>(csr: &Csr, x: &[T], features: usize, out: &mut [T]) {
    let col = csr.col();
    by_rows(out, features, |i, out_row| {
        let range = csr.range(i);
        if range.is_empty() {
            out_row.fill(T::ZERO);
            return;
        }
        out_row.copy_from_slice(row_of(x, col[range.start] as usize, features));
        for &c in &col[range.start + 1..range.end] {
            for (o, &v) in out_row.iter_mut().zip(row_of(x, c as usize, features)) {
                *o = if v > *o { v } else { *o };
            }
        }
    });
}

/// The gradient of [`max`] with respect to `x` `[cols, F]`, given `grad` `[rows, F]`:
/// each `grad[i, f]` goes to the source of row `i`'s [`argmax`] entry. Computed by rows of
/// `Aᵀ` (`backward`), so each row of `out` has one writer.
pub fn max_backward<T: HostFloat>(
    forward: &Side,
    backward: &Side,
    x: &[T],
    grad: &[T],
    features: usize,
    out: &mut [T],
) {
    let arg = argmax(forward.csr(), x, features);
    let transposed = backward.csr();
    let (targets, entries) = (transposed.col(), backward.partner());
    by_rows(out, features, |j, out_row| {
        out_row.fill(T::ZERO);
        for kt in transposed.range(j) {
            let i = targets[kt] as usize;
            let entry = entries[kt];
            let grads = row_of(grad, i, features);
            for ((o, &a), &g) in out_row.iter_mut().zip(row_of(&arg, i, features)).zip(grads) {
                if a == entry {
                    *o = *o + g;
                }
            }
        }
    });
}
