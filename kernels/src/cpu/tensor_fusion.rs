//! Tensor fusion on flex (f32): the last-modality contraction of
//! [`crate::tensor_fusion`] on raw memory. Per chunk of batch rows `c`:
//!
//! - forward: `Z'` `[c, Q]` built row by row; `h[b] = b + Σ_k ẑ_M[b, k] · Y[b, k, :]` with
//!   `Y = Z' · W_view` computed and contracted block by block (`contract_partial`), so
//!   `Y` `[c, L·O]` is never whole;
//! - backward: `G = ẑ_M ⊗ ∂h` `[c, L·O]` and `∂W_view += Z'ᵀ · G` (one GEMM); `∂Z'` and
//!   `∂ẑ_M` both from `E = ∂h · Wᵀ` (one GEMM, by blocks: `Chunk::contract_weight`);
//!   each `∂ẑ_m` from `∂Z'` by walking the multi-index. A training step is three GEMMs
//!   of the forward's size.
//!
//! Intermediates come from the `Scratch` pool.

use std::ops::Range;

use burn::backend::Flex;
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::scratch::Scratch;
use super::{
    add_assign, column_sums, fold_parts, gemm, gemm_serial, prepend_one, tensor_of, zeroed_output, Dense,
    Matrix, PARTS,
};
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
fn hats(inputs: &[Tensor<Flex, 2>]) -> Vec<Scratch> {
    inputs
        .iter()
        .map(|z| {
            let d = z.dims()[1];
            prepend_one(Dense::new(z.clone()).values(), d)
        })
        .collect()
}

/// Writes `vec(ẑ_1[b] ⊗ … ⊗ ẑ_k[b])` into `row` (`k` = all modalities but the last).
fn outer_row(hats: &[Scratch], widths: &[usize], b: usize, row: &mut [f32]) {
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
fn partial(plan: &Plan, hats: &[Scratch], range: Range<usize>, z: &mut [f32]) {
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
    let (out, last, q) = (plan.split.out, plan.split.last, plan.split.q);
    let hats = hats(inputs);
    let last_hat = hats.last().expect("tensor fusion needs a modality");
    let weight = Dense::new(weight);
    let bias = bias.map(Dense::new);
    let bias = bias.as_ref().map(Dense::values);
    let mut h = vec![0.0; plan.batch * out];
    let mut z = Scratch::new(plan.split.rows() * q);
    for range in plan.split.chunks.iter().cloned() {
        let c = range.len();
        partial(&plan, &hats, range.clone(), &mut z[..c * q]);
        let chunk = &mut h[range.start * out..range.end * out];
        match bias {
            Some(bias) => chunk
                .chunks_exact_mut(out)
                .for_each(|row| row.copy_from_slice(bias)),
            None => chunk.fill(0.0),
        }
        let last_rows = &last_hat[range.start * last..range.end * last];
        let sum = contract_partial(&plan, &z[..c * q], weight.values(), last_rows);
        chunk.iter_mut().zip(&sum).for_each(|(h, s)| *h += s);
    }
    tensor_of(h, [plan.batch, out])
}

/// `Σ_k ẑ_M[b, k] · Y[b, k, :]` `[c, O]` with `Y = Z' · W_view`, given `Z'` `[c, Q]` and
/// `ẑ_M` `[c, L]`. `Y` is never whole: each part ([`fold_parts`]) takes blocks of `k` (columns
/// `k·O … (k + n)·O` of `W_view`, a strided view), computes that `[c, n·O]` block of `Y`
/// (at most [`BLOCK_ELEMENTS`]) and adds it into its own `[c, O]` sum while it is in cache;
/// the parts' sums are added in part order.
fn contract_partial(plan: &Plan, partial: &[f32], weight: &[f32], last_hat: &[f32]) -> Vec<f32> {
    let (last, out, q, lo) = (plan.split.last, plan.split.out, plan.split.q, plan.lo());
    let c = partial.len() / q;
    let blocks = even_blocks(last, BLOCK_ELEMENTS / (c * out));
    let widest = blocks.iter().map(Range::len).max().unwrap_or(0);
    let mut total = vec![0.0; c * out];
    fold_parts(
        blocks,
        || (vec![0.0; c * out], Scratch::new(c * widest * out)),
        |(mut sum, mut y), block| {
            let n = block.len() * out;
            let weight_block = Matrix {
                values: &weight[block.start * out..],
                row_stride: lo,
                col_stride: 1,
            };
            gemm_serial(c, n, q, &mut y, false, Matrix::rows(partial, q), weight_block);
            let rows = sum.chunks_exact_mut(out).zip(y.chunks_exact(n));
            for ((sum_row, y_row), hat) in rows.zip(last_hat.chunks_exact(last)) {
                for (y_k, a) in y_row.chunks_exact(out).zip(&hat[block.clone()]) {
                    sum_row.iter_mut().zip(y_k).for_each(|(s, y)| *s += a * y);
                }
            }
            (sum, y)
        },
        |(sum, _)| add_assign(&mut total, &sum),
    );
    total
}

/// `0..len` in contiguous blocks of at most `max_len` (at least 1), of sizes that differ by
/// at most one, in a multiple of [`PARTS`] where the range allows: every part gets the same
/// work. The blocks depend on the sizes only, never on the number of threads.
fn even_blocks(len: usize, max_len: usize) -> Vec<Range<usize>> {
    let count = len
        .div_ceil(max_len.max(1))
        .max(1)
        .next_multiple_of(PARTS)
        .min(len.max(1));
    (0..count)
        .map(|i| i * len / count..(i + 1) * len / count)
        .collect()
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
    let mut weight_grad = zeroed_output(q * lo);
    let rows = plan.split.rows();
    let mut z = Scratch::new(rows * q);
    let mut g = Scratch::new(rows * lo);
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
        gemm(
            q,
            lo,
            c,
            &mut weight_grad,
            i > 0,
            Matrix::rows(&z, q).transposed(),
            Matrix::rows(&g, lo),
        );
        let chunk = Chunk {
            rows: c,
            partial_t: transpose(&z[..c * q], c, q),
            last_t: transpose(&last_hat[range.start * last..range.end * last], c, last),
            dh: &dh[range.start * out..range.end * out],
        };
        let (partial_grad_t, last_grad_t) = chunk.contract_weight(&plan, weight.values());
        let partial_grad = transpose(&partial_grad_t, q, c);
        let m = plan.widths.len() - 1;
        hat_grads[range.start * hat_width..range.end * hat_width]
            .par_chunks_mut(hat_width)
            .zip(range)
            .enumerate()
            .for_each(|(row, (grads, b))| {
                let (rest, last_grad) = grads.split_at_mut(hat_width - last);
                for (k, grad) in last_grad.iter_mut().enumerate() {
                    *grad = last_grad_t[k * c + row];
                }
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

/// Elements of one thread's block of `E` in [`Chunk::contract_weight`] (1 MiB in f32).
const BLOCK_ELEMENTS: usize = 1 << 18;

/// One chunk of `c` batch rows, transposed so that the contractions with `E` run along the
/// batch (contiguous, vectorised).
struct Chunk<'a> {
    rows: usize,
    /// `Z'ᵀ` `[Q, c]`.
    partial_t: Scratch,
    /// `ẑ_Mᵀ` `[L, c]`.
    last_t: Scratch,
    /// `∂h` of the chunk, `[c, O]`.
    dh: &'a [f32],
}

impl Chunk<'_> {
    /// `∂Z'ᵀ` `[Q, c]` and `∂ẑ_Mᵀ` `[L, c]` from `E = ∂h · Wᵀ` `[c, P]`, seen as `[c, Q, L]`:
    ///
    /// ```text
    /// ∂Z'[b, q]  = Σ_k E[b, q, k] · ẑ_M[b, k]
    /// ∂ẑ_M[b, k] = Σ_q E[b, q, k] · Z'[b, q]
    /// ```
    ///
    /// One GEMM of `2·c·P·O` FLOPs where `G · W_viewᵀ` and `Y = Z' · W_view` took two. `E`
    /// is never whole: each part takes blocks of `Q` (`Eᵀ` of a block is
    /// `W[block] · ∂hᵀ`, at most [`BLOCK_ELEMENTS`]), contracts it while it is in cache and
    /// keeps its own `∂ẑ_Mᵀ`; the parts' sums are added in part order ([`fold_parts`]).
    fn contract_weight(&self, plan: &Plan, weight: &[f32]) -> (Scratch, Vec<f32>) {
        let (c, last, out, q) = (self.rows, plan.split.last, plan.split.out, plan.split.q);
        let blocks = even_blocks(q, BLOCK_ELEMENTS / (last * c));
        let widest = blocks.iter().map(Range::len).max().unwrap_or(0);
        let mut partial_grad_t = Scratch::zeroed(q * c);
        // Each block's rows of ∂Z'ᵀ, written by the thread that takes the block.
        let mut block_grads = Vec::with_capacity(blocks.len());
        let mut rest = &mut partial_grad_t[..];
        for block in &blocks {
            let (head, tail) = rest.split_at_mut(block.len() * c);
            block_grads.push((block.start, head));
            rest = tail;
        }
        let mut last_grad_t = vec![0.0; last * c];
        fold_parts(
            block_grads,
            || (vec![0.0; last * c], Scratch::new(widest * last * c)),
            |(mut last_grad_t, mut e_t), (q0, block_grad)| {
                let n = block_grad.len() / c;
                // Eᵀ[(q, k), b] = Σ_o W[(q, k), o] · ∂h[b, o]
                gemm_serial(
                    n * last,
                    c,
                    out,
                    &mut e_t,
                    false,
                    Matrix::rows(&weight[q0 * last * out..(q0 + n) * last * out], out),
                    Matrix::rows(self.dh, out).transposed(),
                );
                for (j, grad_q) in block_grad.chunks_exact_mut(c).enumerate() {
                    let partial_q = &self.partial_t[(q0 + j) * c..(q0 + j + 1) * c];
                    let e_q = &e_t[j * last * c..(j + 1) * last * c];
                    for ((e_k, hat_k), last_grad_k) in e_q
                        .chunks_exact(c)
                        .zip(self.last_t.chunks_exact(c))
                        .zip(last_grad_t.chunks_exact_mut(c))
                    {
                        let columns = grad_q.iter_mut().zip(last_grad_k).zip(e_k).zip(hat_k);
                        for ((((g, l), e), hat), z) in columns.zip(partial_q) {
                            *g += e * hat;
                            *l += e * z;
                        }
                    }
                }
                (last_grad_t, e_t)
            },
            |(part, _)| add_assign(&mut last_grad_t, &part),
        );
        (partial_grad_t, last_grad_t)
    }
}

/// `[rows, cols]` -> `[cols, rows]`, in a pooled buffer.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Scratch {
    let mut out = Scratch::new(values.len());
    for (i, row) in values.chunks_exact(cols).enumerate() {
        for (j, x) in row.iter().enumerate() {
            out[j * rows + i] = *x;
        }
    }
    out
}

/// `∂ẑ_m[b, i] = Σ_{q : i_m(q) = i} ∂Z'[b, q] · Π_{n≠m} ẑ_n[b, i_n(q)]` for every modality
/// of `Z' = vec(ẑ_1 ⊗ … ⊗ ẑ_k)`, written side by side into `out`; `q` walks the multi-index
/// in row-major order.
fn partial_product_grads(hats: &[Scratch], widths: &[usize], b: usize, grad: &[f32], out: &mut [f32]) {
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

#[cfg(test)]
mod tests {
    use super::{even_blocks, PARTS};

    #[test]
    fn even_blocks_cover_the_range_in_balanced_blocks() {
        for (len, max_len) in [(129, 8), (1089, 15), (7, 100), (1, 1), (5, 1), (1000, 0)] {
            let blocks = even_blocks(len, max_len);
            // Contiguous, in order, covering 0..len.
            assert_eq!(blocks.first().unwrap().start, 0);
            assert_eq!(blocks.last().unwrap().end, len);
            assert!(blocks.windows(2).all(|w| w[0].end == w[1].start));
            let sizes: Vec<usize> = blocks.iter().map(std::iter::ExactSizeIterator::len).collect();
            let (small, large) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
            assert!(large - small <= 1, "{len}/{max_len}: sizes {sizes:?}");
            assert!(large <= max_len.max(1), "{len}/{max_len}: sizes {sizes:?}");
            // A multiple of the part count where the range allows (else one element per block).
            let count = blocks.len();
            assert!(
                count.is_multiple_of(PARTS) || count == len,
                "{len}/{max_len}: {count} blocks"
            );
        }
    }

    #[test]
    fn even_blocks_do_not_depend_on_the_thread_count() {
        let on = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| even_blocks(1089, 15))
        };
        assert_eq!(on(1), on(3));
    }
}
