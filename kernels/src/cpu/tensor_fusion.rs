//! Tensor fusion on flex (f32): the last-modality contraction of
//! [`crate::tensor_fusion`] on raw memory. Per chunk of batch rows `c`:
//!
//! - forward: `Z'` `[c, Q]` built row by row, `Y = Z' · W_view` (one GEMM), then
//!   `h[b] = b + Σ_k ẑ_M[b, k] · Y[b, k, :]` (rayon over rows);
//! - backward: `G = ẑ_M ⊗ ∂h` `[c, L·O]`, `∂W_view += Z'ᵀ · G`, `∂Z' = G · W_viewᵀ` and `Y`
//!   again (three GEMMs), then per row `∂ẑ_M = Y · ∂h` and each `∂ẑ_m` from `∂Z'`.

use std::ops::Range;

use burn::backend::Flex;
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::{column_sums, gemm, prepend_one, tensor_of, Dense, Matrix};
#[cfg(doc)]
use crate::tensor_fusion::CHUNK_ELEMENTS;
use crate::tensor_fusion::{Split, TensorFusionGrads};

/// Sizes of one call: the generic formulation's [`Split`], the batch and every width.
struct Plan {
    split: Split,
    batch: usize,
    /// `d_m + 1` per modality.
    widths: Vec<usize>,
}

impl Plan {
    fn new(inputs: &[Tensor<Flex, 2>], weight: &Tensor<Flex, 2>, chunk_elements: usize) -> Self {
        Plan {
            split: Split::new(inputs, weight, chunk_elements),
            batch: inputs[0].dims()[0],
            widths: inputs.iter().map(|z| z.dims()[1] + 1).collect(),
        }
    }

    /// `L·O`, the width of `Y` and `G`.
    fn lo(&self) -> usize {
        self.split.last * self.split.out
    }
}

/// `ẑ_m` `[B, d_m + 1]` of every modality.
fn hats(inputs: &[Tensor<Flex, 2>]) -> Vec<Vec<f32>> {
    inputs
        .iter()
        .map(|z| {
            let d = z.dims()[1];
            prepend_one(Dense::new(z.clone()).values(), d)
        })
        .collect()
}

/// Writes `vec(ẑ_1[b] ⊗ … ⊗ ẑ_k[b])` into `row` (`k` = all modalities but the last).
fn outer_row(hats: &[Vec<f32>], widths: &[usize], b: usize, row: &mut [f32]) {
    row[0] = 1.0;
    let mut len = 1;
    for (hat, &w) in hats.iter().zip(widths) {
        let v = &hat[b * w..(b + 1) * w];
        // Expanded in place from the back: block i (read at row[i]) is written only after
        // every block after it, and never over an entry still to be read.
        for i in (0..len).rev() {
            let x = row[i];
            for j in (0..w).rev() {
                row[i * w + j] = x * v[j];
            }
        }
        len *= w;
    }
}

/// `Z'` `[c, Q]` for the batch rows `range`.
fn partial(plan: &Plan, hats: &[Vec<f32>], range: Range<usize>, z: &mut [f32]) {
    let m = plan.widths.len() - 1;
    z.par_chunks_mut(plan.split.q)
        .zip(range)
        .for_each(|(row, b)| outer_row(&hats[..m], &plan.widths[..m], b, row));
}

/// Forward pass, in chunks of at most `chunk_elements` per intermediate (at least one row;
/// [`CHUNK_ELEMENTS`] in the layers). Shapes as in
/// [`FusionBackend::tensor_fusion`](crate::FusionBackend::tensor_fusion).
pub fn forward(
    inputs: &[Tensor<Flex, 2>],
    weight: Tensor<Flex, 2>,
    bias: Option<Tensor<Flex, 1>>,
    chunk_elements: usize,
) -> Tensor<Flex, 2> {
    let plan = Plan::new(inputs, &weight, chunk_elements);
    let (out, lo, last, q) = (plan.split.out, plan.lo(), plan.split.last, plan.split.q);
    let hats = hats(inputs);
    let last_hat = hats.last().expect("tensor fusion needs a modality");
    let weight = Dense::new(weight);
    let bias = bias.map(Dense::new);
    let bias = bias.as_ref().map(Dense::values);
    let mut h = vec![0.0; plan.batch * out];
    let mut z = vec![0.0; plan.split.rows() * q];
    let mut y = vec![0.0; plan.split.rows() * lo];
    for range in plan.split.chunks.iter().cloned() {
        let c = range.len();
        partial(&plan, &hats, range.clone(), &mut z[..c * q]);
        gemm(
            c,
            lo,
            q,
            &mut y,
            false,
            Matrix::rows(&z, q),
            Matrix::rows(weight.values(), lo),
        );
        h[range.start * out..range.end * out]
            .par_chunks_mut(out)
            .zip(y.par_chunks(lo))
            .zip(range)
            .for_each(|((h_row, y_row), b)| {
                match bias {
                    Some(bias) => h_row.copy_from_slice(bias),
                    None => h_row.fill(0.0),
                }
                for (k, y_k) in y_row.chunks_exact(out).enumerate() {
                    let a = last_hat[b * last + k];
                    h_row.iter_mut().zip(y_k).for_each(|(h, y)| *h += a * y);
                }
            });
    }
    tensor_of(h, [plan.batch, out])
}

/// Backward pass: the gradients of every input of [`forward`] given `∂L/∂h` `[B, O]`, in
/// chunks as in [`forward`].
pub fn backward(
    inputs: &[Tensor<Flex, 2>],
    weight: Tensor<Flex, 2>,
    grad: Tensor<Flex, 2>,
    chunk_elements: usize,
) -> TensorFusionGrads<Flex> {
    let plan = Plan::new(inputs, &weight, chunk_elements);
    let (out, lo, last, q) = (plan.split.out, plan.lo(), plan.split.last, plan.split.q);
    let hats = hats(inputs);
    let last_hat = hats.last().expect("tensor fusion needs a modality");
    let weight = Dense::new(weight);
    let grad = Dense::new(grad);
    let dh = grad.values();
    // ∂ẑ of every modality side by side, [B, S].
    let hat_width: usize = plan.widths.iter().sum();
    let mut hat_grads = vec![0.0; plan.batch * hat_width];
    let mut weight_grad = vec![0.0; q * lo];
    let rows = plan.split.rows();
    let (mut z, mut partial_grad) = (vec![0.0; rows * q], vec![0.0; rows * q]);
    // G, then (once both GEMMs that read G are done) Y in the same buffer.
    let mut g = vec![0.0; rows * lo];
    for (i, range) in plan.split.chunks.iter().cloned().enumerate() {
        let c = range.len();
        partial(&plan, &hats, range.clone(), &mut z[..c * q]);
        // G[b, (k, o)] = ẑ_M[b, k] · ∂h[b, o]
        g[..c * lo]
            .par_chunks_mut(lo)
            .zip(range.clone())
            .for_each(|(g_row, b)| {
                let dh_row = &dh[b * out..(b + 1) * out];
                for (k, g_k) in g_row.chunks_exact_mut(out).enumerate() {
                    let a = last_hat[b * last + k];
                    g_k.iter_mut().zip(dh_row).for_each(|(g, d)| *g = a * d);
                }
            });
        let (z_m, w_m) = (Matrix::rows(&z, q), Matrix::rows(weight.values(), lo));
        gemm(
            q,
            lo,
            c,
            &mut weight_grad,
            i > 0,
            z_m.transposed(),
            Matrix::rows(&g, lo),
        );
        gemm(
            c,
            q,
            lo,
            &mut partial_grad,
            false,
            Matrix::rows(&g, lo),
            w_m.transposed(),
        );
        let y = &mut g;
        gemm(c, lo, q, y, false, z_m, w_m);
        hat_grads[range.start * hat_width..range.end * hat_width]
            .par_chunks_mut(hat_width)
            .zip(range)
            .enumerate()
            .for_each(|(row, (grads, b))| {
                let (rest, last_grad) = grads.split_at_mut(hat_width - last);
                // ∂ẑ_M[b, k] = Σ_o Y[b, k, o] · ∂h[b, o]
                let dh_row = &dh[b * out..(b + 1) * out];
                for (k, y_k) in y[row * lo..(row + 1) * lo].chunks_exact(out).enumerate() {
                    last_grad[k] = y_k.iter().zip(dh_row).map(|(y, d)| y * d).sum();
                }
                let m = plan.widths.len() - 1;
                partial_product_grads(
                    &hats[..m],
                    &plan.widths[..m],
                    b,
                    &partial_grad[row * q..(row + 1) * q],
                    rest,
                );
            });
    }
    let mut offset = 0;
    let input_grads = plan
        .widths
        .iter()
        .map(|&w| {
            // ∂z_m: modality m's columns without the constant's.
            let grads: Vec<f32> = hat_grads
                .chunks_exact(hat_width)
                .flat_map(|row| row[offset + 1..offset + w].iter().copied())
                .collect();
            offset += w;
            tensor_of(grads, [plan.batch, w - 1])
        })
        .collect();
    TensorFusionGrads {
        inputs: input_grads,
        weight: tensor_of(weight_grad, [q * last, out]),
        bias: tensor_of(column_sums(dh, out), [out]),
    }
}

/// `∂ẑ_m[b, i] = Σ_{q : i_m(q) = i} ∂Z'[b, q] · Π_{n≠m} ẑ_n[b, i_n(q)]` for every modality
/// of `Z' = vec(ẑ_1 ⊗ … ⊗ ẑ_k)`, written side by side into `out`; `q` walks the multi-index
/// in row-major order.
fn partial_product_grads(hats: &[Vec<f32>], widths: &[usize], b: usize, grad: &[f32], out: &mut [f32]) {
    out.fill(0.0);
    let k = widths.len();
    if k == 0 {
        return;
    }
    let offsets: Vec<usize> = widths
        .iter()
        .scan(0, |acc, w| Some(std::mem::replace(acc, *acc + w)))
        .collect();
    let mut index = vec![0; k];
    let mut values: Vec<f32> = (0..k).map(|m| hats[m][b * widths[m]]).collect();
    for &dz in grad {
        for m in 0..k {
            let others: f32 = (0..k).filter(|&n| n != m).map(|n| values[n]).product();
            out[offsets[m] + index[m]] += dz * others;
        }
        // Next multi-index (the last modality varies fastest).
        for m in (0..k).rev() {
            index[m] += 1;
            if index[m] < widths[m] {
                values[m] = hats[m][b * widths[m] + index[m]];
                break;
            }
            index[m] = 0;
            values[m] = hats[m][b * widths[m]];
        }
    }
}
