//! Low-rank fusion on flex (f32): the formulation of [`crate::low_rank`] on raw memory.
//! One GEMM per modality (`ẑ_m · F_m`, `[B, d_m + 1] × [d_m + 1, R·O]`) multiplied into
//! the running product as it is made, then the rank-weighted sum per row. The backward
//! pass recomputes the projections, turns them into the `∂P_m` in place in one pass over
//! the rows ([`projection_grads`]), then needs two GEMMs per modality; the one with the
//! narrow `[B, d_m + 1]` output splits its long inner dimension `R·O` between the threads.
//! Intermediates come from the [`Scratch`] pool.

use burn::backend::Flex;
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::scratch::Scratch;
use super::{
    add_into, column_sums, drop_constant, gemm, gemm_split_k, prepend_one, swap_leading, tensor_of,
    zeroed_output, Dense, Matrix,
};
use crate::low_rank::LowRankFusionGrads;

/// One modality's `ẑ_m` `[B, w]`, `F_m` `[w, R·O]` and width `w = d_m + 1`.
struct Modality {
    hat: Vec<f32>,
    matrix: Scratch,
    width: usize,
}

fn modalities(inputs: &[Tensor<Flex, 2>], factors: &[Tensor<Flex, 3>]) -> Vec<Modality> {
    inputs
        .iter()
        .zip(factors)
        .map(|(z, factor)| {
            let [rank, width, out] = factor.dims();
            let hat = prepend_one(Dense::new(z.clone()).values(), width - 1);
            let factor = Dense::new(factor.clone());
            let mut matrix = Scratch::new(factor.values().len());
            swap_leading(factor.values(), rank, width, out, &mut matrix);
            Modality { hat, matrix, width }
        })
        .collect()
}

/// `P_m = ẑ_m · F_m` into `projection` `[B, R·O]`.
fn project(modality: &Modality, batch: usize, ro: usize, projection: &mut [f32]) {
    let Modality { hat, matrix, width } = modality;
    gemm(
        batch,
        ro,
        *width,
        projection,
        false,
        Matrix::rows(hat, *width),
        Matrix::rows(matrix, ro),
    );
}

/// Forward pass. Shapes as in [`FusionBackend::low_rank_fusion`](crate::FusionBackend::low_rank_fusion).
pub fn forward(
    inputs: &[Tensor<Flex, 2>],
    factors: &[Tensor<Flex, 3>],
    rank_weights: Tensor<Flex, 2>,
    bias: Tensor<Flex, 2>,
) -> Tensor<Flex, 2> {
    let batch = inputs[0].dims()[0];
    let [rank, _, out] = factors[0].dims();
    let ro = rank * out;
    let weights = Dense::new(rank_weights);
    let bias = Dense::new(bias);
    let mut product = Scratch::new(batch * ro);
    let mut projection = Scratch::new(batch * ro);
    for (m, modality) in modalities(inputs, factors).iter().enumerate() {
        if m == 0 {
            project(modality, batch, ro, &mut product);
        } else {
            project(modality, batch, ro, &mut projection);
            product
                .par_iter_mut()
                .zip(&projection[..])
                .for_each(|(p, x)| *p *= x);
        }
    }
    let mut h = vec![0.0; batch * out];
    h.par_chunks_mut(out)
        .zip(product.par_chunks(ro))
        .for_each(|(h_row, p_row)| {
            h_row.copy_from_slice(bias.values());
            for (w, p_r) in weights.values().iter().zip(p_row.chunks_exact(out)) {
                h_row.iter_mut().zip(p_r).for_each(|(h, p)| *h += w * p);
            }
        });
    tensor_of(h, [batch, out])
}

/// Backward pass: the gradients of every input of [`forward`] given `∂L/∂h` `[B, O]`.
pub fn backward(
    inputs: &[Tensor<Flex, 2>],
    factors: &[Tensor<Flex, 3>],
    rank_weights: Tensor<Flex, 2>,
    grad: Tensor<Flex, 2>,
) -> LowRankFusionGrads<Flex> {
    let batch = inputs[0].dims()[0];
    let [rank, _, out] = factors[0].dims();
    let ro = rank * out;
    let weights = Dense::new(rank_weights);
    let weights = weights.values();
    let grad = Dense::new(grad);
    let dh = grad.values();
    let modalities = modalities(inputs, factors);
    let mut projections: Vec<Scratch> = modalities
        .iter()
        .map(|modality| {
            let mut projection = Scratch::new(batch * ro);
            project(modality, batch, ro, &mut projection);
            projection
        })
        .collect();
    let rank_weights_grad = projection_grads(&mut projections, dh, weights, out);

    let mut input_grads = Vec::with_capacity(modalities.len());
    let mut factor_grads = Vec::with_capacity(modalities.len());
    for (modality, projection_grad) in modalities.iter().zip(&projections) {
        let width = modality.width;
        let (hat, matrix, dp) = (
            Matrix::rows(&modality.hat, width),
            Matrix::rows(&modality.matrix, ro),
            Matrix::rows(projection_grad, ro),
        );
        let mut matrix_grad = Scratch::new(width * ro);
        gemm(width, ro, batch, &mut matrix_grad, false, hat.transposed(), dp);
        let mut factor_grad = zeroed_output(width * ro);
        swap_leading(&matrix_grad, width, rank, out, &mut factor_grad);
        factor_grads.push(tensor_of(factor_grad, [rank, width, out]));
        let mut hat_grad = Scratch::new(batch * width);
        gemm_split_k(batch, width, ro, &mut hat_grad, dp, matrix.transposed());
        input_grads.push(tensor_of(drop_constant(&hat_grad, width), [batch, width - 1]));
    }
    LowRankFusionGrads {
        inputs: input_grads,
        factors: factor_grads,
        rank_weights: tensor_of(rank_weights_grad, [1, rank]),
        bias: tensor_of(column_sums(dh, out), [1, out]),
    }
}

/// Turns every projection `P_m` `[B, R·O]` into `∂P_m[b, r, o] = ∂h[b, o] · w_r ·
/// Π_{n≠m} P_n[b, r, o]` in place, and returns `∂w_r = Σ_{b,o} ∂h[b, o] · Π_m P_m[b, r, o]`.
///
/// One pass over the rows (rayon): per `(b, r)` the `M` vectors of width `O` are read once,
/// the products of the projections before `m` are formed on the way forward and those after
/// `m` on the way back (no division, so zeros are exact), and each `∂P_m` is written over
/// `P_m`.
fn projection_grads(projections: &mut [Scratch], dh: &[f32], weights: &[f32], out: usize) -> Vec<f32> {
    let (modalities, rank) = (projections.len(), weights.len());
    let ro = rank * out;
    let mut rows: Vec<Vec<&mut [f32]>> = Vec::new();
    for projection in projections.iter_mut() {
        for (b, row) in projection.chunks_exact_mut(ro).enumerate() {
            if b == rows.len() {
                rows.push(Vec::with_capacity(modalities));
            }
            rows[b].push(row);
        }
    }
    let rank_sums = rows
        .into_par_iter()
        .zip(dh.par_chunks(out))
        .fold(
            || {
                (
                    vec![0.0f32; ro],
                    vec![0.0f32; modalities * out],
                    vec![0.0f32; out],
                )
            },
            |(mut rank_sums, mut original, mut running), (mut row, dh_row)| {
                for (r, &w) in weights.iter().enumerate() {
                    let columns = r * out..(r + 1) * out;
                    // Forward: P_m <- ∂h · Π_{n<m} P_n, running <- ∂h · Π_{n≤m} P_n.
                    running.copy_from_slice(dh_row);
                    for (p, kept) in row.iter_mut().zip(original.chunks_exact_mut(out)) {
                        let columns = p[columns.clone()].iter_mut().zip(kept).zip(running.iter_mut());
                        for ((p, kept), x) in columns {
                            (*kept, *p) = (*p, *x);
                            *x *= *kept;
                        }
                    }
                    let sums = &mut rank_sums[columns.clone()];
                    sums.iter_mut().zip(&running).for_each(|(s, x)| *s += x);
                    // Backward: P_m <- P_m · w · Π_{n>m} P_n.
                    running.fill(w);
                    for (p, kept) in row.iter_mut().zip(original.chunks_exact(out)).rev() {
                        let columns = p[columns.clone()].iter_mut().zip(kept).zip(running.iter_mut());
                        for ((p, kept), x) in columns {
                            *p *= *x;
                            *x *= kept;
                        }
                    }
                }
                (rank_sums, original, running)
            },
        )
        .map(|(rank_sums, _, _)| rank_sums)
        .reduce(|| vec![0.0; ro], add_into);
    rank_sums
        .chunks_exact(out)
        .map(|sums| sums.iter().sum())
        .collect()
}
