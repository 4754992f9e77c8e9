//! Low-rank fusion on flex (f32): the formulation of [`crate::low_rank`] on raw memory.
//! One GEMM per modality (`ẑ_m · F_m`, `[B, d_m + 1] × [d_m + 1, R·O]`) multiplied into
//! the running product as it is made, then the rank-weighted sum per row; the backward
//! pass recomputes the projections, forms each `∂P_m` in one buffer (a pass per other
//! modality, no prefix or suffix products kept) and needs two GEMMs per modality.

use burn::backend::Flex;
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::{column_sums, drop_constant, gemm, prepend_one, tensor_of, Dense, Matrix};
use crate::low_rank::LowRankFusionGrads;

/// `[a, b, O]` -> `[b, a, O]`: `W_m: [R, d+1, O]` to `F_m: [d+1, R·O]` and back.
fn swap_leading(values: &[f32], a: usize, b: usize, out: usize) -> Vec<f32> {
    let mut swapped = vec![0.0; values.len()];
    for i in 0..a {
        for j in 0..b {
            let src = &values[(i * b + j) * out..(i * b + j + 1) * out];
            swapped[(j * a + i) * out..(j * a + i + 1) * out].copy_from_slice(src);
        }
    }
    swapped
}

/// One modality's `ẑ_m` `[B, w]`, `F_m` `[w, R·O]` and width `w = d_m + 1`.
struct Modality {
    hat: Vec<f32>,
    matrix: Vec<f32>,
    width: usize,
}

fn modalities(inputs: &[Tensor<Flex, 2>], factors: &[Tensor<Flex, 3>]) -> Vec<Modality> {
    inputs
        .iter()
        .zip(factors)
        .map(|(z, factor)| {
            let [rank, width, out] = factor.dims();
            let hat = prepend_one(Dense::new(z.clone()).values(), width - 1);
            let matrix = swap_leading(Dense::new(factor.clone()).values(), rank, width, out);
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
    let mut product = vec![0.0; batch * ro];
    let mut projection = vec![0.0; batch * ro];
    for (m, modality) in modalities(inputs, factors).iter().enumerate() {
        if m == 0 {
            project(modality, batch, ro, &mut product);
        } else {
            project(modality, batch, ro, &mut projection);
            product.par_iter_mut().zip(&projection).for_each(|(p, x)| *p *= x);
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
    let projections: Vec<Vec<f32>> = modalities
        .iter()
        .map(|modality| {
            let mut projection = vec![0.0; batch * ro];
            project(modality, batch, ro, &mut projection);
            projection
        })
        .collect();

    // ∂w_r = Σ_{b,o} ∂h[b, o] · Π_m P_m[b, r, o]
    let rank_weights_grad = dh
        .par_chunks(out)
        .enumerate()
        .map(|(b, dh_row)| {
            let mut row = vec![0.0f32; rank];
            for (r, acc) in row.iter_mut().enumerate() {
                let start = b * ro + r * out;
                let mut product = dh_row.to_vec();
                for projection in &projections {
                    product
                        .iter_mut()
                        .zip(&projection[start..start + out])
                        .for_each(|(x, p)| *x *= p);
                }
                *acc = product.iter().sum();
            }
            row
        })
        .reduce(
            || vec![0.0; rank],
            |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
        );

    let mut input_grads = Vec::with_capacity(modalities.len());
    let mut factor_grads = Vec::with_capacity(modalities.len());
    let mut projection_grad = vec![0.0; batch * ro];
    for (m, modality) in modalities.iter().enumerate() {
        // ∂P_m[b, r, o] = ∂h[b, o] · w_r · Π_{n≠m} P_n[b, r, o], one pass per factor.
        projection_grad
            .par_chunks_mut(ro)
            .zip(dh.par_chunks(out))
            .for_each(|(row, dh_row)| {
                for (row_r, w) in row.chunks_exact_mut(out).zip(weights) {
                    row_r.iter_mut().zip(dh_row).for_each(|(x, d)| *x = d * w);
                }
            });
        for (_, projection) in projections.iter().enumerate().filter(|&(n, _)| n != m) {
            projection_grad
                .par_iter_mut()
                .zip(projection)
                .for_each(|(g, p)| *g *= p);
        }
        let width = modality.width;
        let (hat, matrix, dp) = (
            Matrix::rows(&modality.hat, width),
            Matrix::rows(&modality.matrix, ro),
            Matrix::rows(&projection_grad, ro),
        );
        let mut matrix_grad = vec![0.0; width * ro];
        gemm(width, ro, batch, &mut matrix_grad, false, hat.transposed(), dp);
        factor_grads.push(tensor_of(
            swap_leading(&matrix_grad, width, rank, out),
            [rank, width, out],
        ));
        let mut hat_grad = vec![0.0; batch * width];
        gemm(batch, width, ro, &mut hat_grad, false, dp, matrix.transposed());
        input_grads.push(tensor_of(drop_constant(&hat_grad, width), [batch, width - 1]));
    }
    LowRankFusionGrads {
        inputs: input_grads,
        factors: factor_grads,
        rank_weights: tensor_of(rank_weights_grad, [1, rank]),
        bias: tensor_of(column_sums(dh, out), [1, out]),
    }
}
