//! Tensor fusion without the outer product: the last modality is contracted separately.
//!
//! With `Q = Π_{m<M} (d_m + 1)` (all modalities but the last, `M`) and `L = d_M + 1`, the
//! row-major weight `W: [P, O]` *is* a `[Q, L·O]` matrix, with no copy. Then
//!
//! ```text
//! Z' = vec(ẑ_1 ⊗ … ⊗ ẑ_{M-1})          [B, Q]      (the partial outer product)
//! Y  = Z' · W_view                      [B, L·O]    (one large GEMM, viewed as [B, L, O])
//! h[b, o] = Σ_k ẑ_M[b, k] · Y[b, k, o]  [B, O]      (a batched vector-matrix product)
//! ```
//!
//! costs the same `2·B·P·O` FLOPs as `vec(Z) · W` but holds `[B, Q]` and `[B, L·O]` instead
//! of `[B, P]`, and the batch is processed in chunks whose intermediates stay under
//! [`CHUNK_ELEMENTS`], so memory does not grow with the batch beyond the output itself.
//!
//! The backward pass has the same structure. With `G[b, (k, o)] = ẑ_M[b, k] · ∂h[b, o]`:
//!
//! ```text
//! ∂W_view = Z'ᵀ · G                     [Q, L·O]    (GEMM, accumulated over chunks)
//! ∂Z'     = G · W_viewᵀ                 [B, Q]      (GEMM)
//! ∂ẑ_M    = Y · ∂h                      [B, L]      (batched matrix-vector product)
//! ∂ẑ_m    = contraction of ∂Z' with the other modalities' ẑ (see `outer_product_grads`)
//! ∂b      = Σ_b ∂h
//! ```
//!
//! These functions are written with burn tensor operations, so they run on every backend:
//! they are the CPU implementation and the backward pass of every fused backend.

use burn::tensor::{backend::Backend, Tensor};

use crate::composite::{drop_constant, flat_outer_product, prepend_one};

/// Upper bound on the elements of one chunk's `[c, Q]` and `[c, L·O]` intermediates
/// (32 MiB each in f32). A chunk holds at least one batch row.
pub const CHUNK_ELEMENTS: usize = 1 << 23;

/// Gradients of tensor fusion with respect to each of its inputs.
#[derive(Debug, Clone)]
pub struct TensorFusionGrads<B: Backend> {
    /// `∂L/∂z_m`, `[B, d_m]` for each modality.
    pub inputs: Vec<Tensor<B, 2>>,
    /// `∂L/∂W`, `[P, O]`.
    pub weight: Tensor<B, 2>,
    /// `∂L/∂b`, `[O]`.
    pub bias: Tensor<B, 1>,
}

/// The split of tensor fusion's shapes used by this formulation (also by the flex path,
/// `crate::cpu::tensor_fusion`).
#[derive(Debug, Clone)]
pub(crate) struct Split {
    /// Width of the partial outer product, `Q = Π_{m<M} (d_m + 1)`.
    pub(crate) q: usize,
    /// `L = d_M + 1`.
    pub(crate) last: usize,
    pub(crate) out: usize,
    /// Row ranges of the batch's chunks, equal in length but for the last.
    pub(crate) chunks: Vec<std::ops::Range<usize>>,
}

impl Split {
    pub(crate) fn new<B: Backend>(
        inputs: &[Tensor<B, 2>],
        weight: &Tensor<B, 2>,
        chunk_elements: usize,
    ) -> Self {
        let [batch, d_last] = inputs.last().expect("tensor fusion needs a modality").dims();
        let [p, out] = weight.dims();
        let last = d_last + 1;
        let q = p / last;
        let per_row = q.max(last * out).max(1);
        let max_rows = (chunk_elements / per_row).max(1);
        // Equal chunks, so that a batch just above `max_rows` is not split into a large and a tiny GEMM.
        let rows = batch.div_ceil(batch.div_ceil(max_rows).max(1)).max(1);
        let chunks = (0..batch)
            .step_by(rows)
            .map(|start| start..(start + rows).min(batch))
            .collect();
        Split { q, last, out, chunks }
    }

    /// Rows of the largest chunk (the first).
    pub(crate) fn rows(&self) -> usize {
        self.chunks.first().map_or(0, std::iter::ExactSizeIterator::len)
    }

    /// `W: [P, O]` seen as `[Q, L·O]` (a reshape of contiguous memory).
    fn weight_view<B: Backend>(&self, weight: Tensor<B, 2>) -> Tensor<B, 2> {
        weight.reshape([self.q, self.last * self.out])
    }
}

/// The rows `range` of every modality with its 1 prepended: `ẑ_1 … ẑ_{M-1}` and `ẑ_M`.
fn chunk_hats<B: Backend>(
    inputs: &[Tensor<B, 2>],
    range: std::ops::Range<usize>,
) -> (Vec<Tensor<B, 2>>, Tensor<B, 2>) {
    let mut hats: Vec<Tensor<B, 2>> = inputs
        .iter()
        .map(|z| {
            let width = z.dims()[1];
            prepend_one(z.clone().slice([range.clone(), 0..width]))
        })
        .collect();
    let last = hats.pop().expect("tensor fusion needs a modality");
    (hats, last)
}

/// `Z' = vec(ẑ_1 ⊗ … ⊗ ẑ_{M-1})` `[c, Q]`; a column of ones when there is one modality.
fn partial_outer_product<B: Backend>(rest: &[Tensor<B, 2>], last: &Tensor<B, 2>) -> Tensor<B, 2> {
    if rest.is_empty() {
        Tensor::ones([last.dims()[0], 1], (&last.device(), last.dtype()))
    } else {
        flat_outer_product(rest)
    }
}

/// `Y = Z' · W_view`, viewed as `[c, L, O]`.
fn contract_partial<B: Backend>(
    split: &Split,
    partial: Tensor<B, 2>,
    weight_view: Tensor<B, 2>,
) -> Tensor<B, 3> {
    let rows = partial.dims()[0];
    partial.matmul(weight_view).reshape([rows, split.last, split.out])
}

/// `h[b, o] = Σ_k ẑ_M[b, k] · Y[b, k, o]`: `[c, L]`, `[c, L, O]` -> `[c, O]`.
fn contract_last<B: Backend>(last: Tensor<B, 2>, y: Tensor<B, 3>) -> Tensor<B, 2> {
    let [rows, width] = last.dims();
    let out = y.dims()[2];
    last.reshape([rows, 1, width]).matmul(y).reshape([rows, out])
}

/// Forward pass: `vec(ẑ_1 ⊗ … ⊗ ẑ_M) · W + b` without the `[B, P]` outer product.
///
/// Shapes as in [`FusionBackend::tensor_fusion`](crate::FusionBackend::tensor_fusion).
pub fn forward<B: Backend>(
    inputs: &[Tensor<B, 2>],
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    forward_chunked(inputs, weight, bias, CHUNK_ELEMENTS)
}

/// [`forward`] with chunks of at most `chunk_elements` per intermediate (at least one row).
pub fn forward_chunked<B: Backend>(
    inputs: &[Tensor<B, 2>],
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
    chunk_elements: usize,
) -> Tensor<B, 2> {
    let split = Split::new(inputs, &weight, chunk_elements);
    let weight_view = split.weight_view(weight);
    let chunks: Vec<Tensor<B, 2>> = split
        .chunks
        .iter()
        .cloned()
        .map(|range| {
            let (rest, last) = chunk_hats(inputs, range);
            let partial = partial_outer_product(&rest, &last);
            contract_last(last, contract_partial(&split, partial, weight_view.clone()))
        })
        .collect();
    let out = Tensor::cat(chunks, 0);
    match bias {
        Some(bias) => out + bias.unsqueeze_dim(0),
        None => out,
    }
}

/// Backward pass: the gradients of every input of [`forward`] given `∂L/∂h` `[B, O]`.
pub fn backward<B: Backend>(
    inputs: &[Tensor<B, 2>],
    weight: Tensor<B, 2>,
    grad: Tensor<B, 2>,
) -> TensorFusionGrads<B> {
    backward_chunked(inputs, weight, grad, CHUNK_ELEMENTS)
}

/// [`backward`] with chunks of at most `chunk_elements` per intermediate (at least one row).
pub fn backward_chunked<B: Backend>(
    inputs: &[Tensor<B, 2>],
    weight: Tensor<B, 2>,
    grad: Tensor<B, 2>,
    chunk_elements: usize,
) -> TensorFusionGrads<B> {
    let split = Split::new(inputs, &weight, chunk_elements);
    let out = grad.dims()[1];
    let weight_view = split.weight_view(weight);
    let mut weight_grad: Option<Tensor<B, 2>> = None;
    let mut input_grads: Vec<Vec<Tensor<B, 2>>> = vec![Vec::new(); inputs.len()];
    for range in split.chunks.clone() {
        let rows = range.len();
        let grad_rows = grad.clone().slice([range.clone(), 0..out]);
        let (rest, last) = chunk_hats(inputs, range);
        let partial = partial_outer_product(&rest, &last);
        // G[b, (k, o)] = ẑ_M[b, k] · ∂h[b, o]
        let g = (last.clone().reshape([rows, split.last, 1]) * grad_rows.clone().reshape([rows, 1, out]))
            .reshape([rows, split.last * out]);
        let chunk_weight_grad = partial.clone().transpose().matmul(g.clone());
        weight_grad = Some(match weight_grad {
            Some(acc) => acc + chunk_weight_grad,
            None => chunk_weight_grad,
        });
        // ∂ẑ_M = Y · ∂h, with Y recomputed for this chunk.
        let y = contract_partial(&split, partial, weight_view.clone());
        let last_grad = y
            .matmul(grad_rows.reshape([rows, out, 1]))
            .reshape([rows, split.last]);
        let partial_grad = g.matmul(weight_view.clone().transpose());
        let grads = outer_product_grads(&rest, partial_grad)
            .into_iter()
            .chain([last_grad]);
        for (acc, hat_grad) in input_grads.iter_mut().zip(grads) {
            acc.push(drop_constant(hat_grad));
        }
    }
    let p = split.q * split.last;
    TensorFusionGrads {
        inputs: input_grads
            .into_iter()
            .map(|chunks| Tensor::cat(chunks, 0))
            .collect(),
        weight: weight_grad
            .expect("a batch has at least one chunk")
            .reshape([p, out]),
        bias: grad.sum_dim(0).reshape([out]),
    }
}

/// Gradients of `Z = vec(ẑ_1 ⊗ … ⊗ ẑ_k)` `[c, Q]` with respect to each `ẑ_m` `[c, d_m + 1]`,
/// given `∂Z`.
///
/// Seeing `∂Z` as `[c, pre, d_m + 1, post]`, where `pre` and `post` index the modalities
/// before and after `m`: `∂ẑ_m[b, i] = Σ_{p,s} ∂Z[b, p, i, s] · before[b, p] · after[b, s]`,
/// two batched matrix products. Only `[c, Q]`-sized tensors are formed.
fn outer_product_grads<B: Backend>(hats: &[Tensor<B, 2>], grad: Tensor<B, 2>) -> Vec<Tensor<B, 2>> {
    let rows = grad.dims()[0];
    let widths: Vec<usize> = hats.iter().map(|z| z.dims()[1]).collect();
    (0..hats.len())
        .map(|m| {
            let pre: usize = widths[..m].iter().product();
            let post: usize = widths[m + 1..].iter().product();
            // Contract the modalities before m: [c, pre, w·post] -> [c, w·post].
            let g = if m > 0 {
                let before = flat_outer_product(&hats[..m]);
                before
                    .reshape([rows, 1, pre])
                    .matmul(grad.clone().reshape([rows, pre, widths[m] * post]))
            } else {
                grad.clone().reshape([rows, 1, widths[m] * post])
            };
            // Then those after m: [c, w, post] -> [c, w].
            let g = g.reshape([rows, widths[m], post]);
            if m + 1 < hats.len() {
                let after = flat_outer_product(&hats[m + 1..]);
                g.matmul(after.reshape([rows, post, 1]))
                    .reshape([rows, widths[m]])
            } else {
                g.reshape([rows, widths[m]])
            }
        })
        .collect()
}
