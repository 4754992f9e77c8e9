//! Low-rank fusion as GEMMs and element-wise products, with a hand-written backward pass.
//!
//! Each factor `W_m: [R, d_m + 1, O]` is seen as `F_m: [d_m + 1, R·O]`, so that one GEMM gives
//! every rank's projection of a modality:
//!
//! ```text
//! P_m = ẑ_m · F_m                                   [B, R, O]   (2·B·(d_m+1)·R·O FLOPs)
//! h[b, o] = b_o + Σ_r w_r · Π_m P_m[b, r, o]        [B, O]
//! ```
//!
//! Backward, with `∂h` `[B, O]`, `Π` the product over all modalities and `Π_{≠m}` over all but
//! `m` (prefix and suffix products, no division):
//!
//! ```text
//! ∂w_r        = Σ_{b,o} ∂h[b, o] · Π_m P_m[b, r, o]
//! ∂b          = Σ_b ∂h
//! ∂P_m[b,r,o] = ∂h[b, o] · w_r · Π_{≠m} P_n[b, r, o]
//! ∂F_m        = ẑ_mᵀ · ∂P_m                          [d_m + 1, R·O]
//! ∂ẑ_m        = ∂P_m · F_mᵀ                          [B, d_m + 1]
//! ```
//!
//! The projections are recomputed in the backward pass rather than kept from the forward
//! pass, so a training step holds them only while its backward pass runs.

use burn::tensor::{backend::Backend, Tensor};

use crate::composite::{drop_constant, prepend_one};

/// Gradients of low-rank fusion with respect to each of its inputs.
#[derive(Debug, Clone)]
pub struct LowRankFusionGrads<B: Backend> {
    /// `∂L/∂z_m`, `[B, d_m]` for each modality.
    pub inputs: Vec<Tensor<B, 2>>,
    /// `∂L/∂W_m`, `[R, d_m + 1, O]` for each modality.
    pub factors: Vec<Tensor<B, 3>>,
    /// `∂L/∂w`, `[1, R]`.
    pub rank_weights: Tensor<B, 2>,
    /// `∂L/∂b`, `[1, O]`.
    pub bias: Tensor<B, 2>,
}

/// `W_m: [R, d+1, O]` as `F_m: [d+1, R·O]`.
fn factor_matrix<B: Backend>(factor: Tensor<B, 3>) -> Tensor<B, 2> {
    let [rank, width, out] = factor.dims();
    factor.swap_dims(0, 1).reshape([width, rank * out])
}

/// Every modality's `ẑ_m` `[B, d_m + 1]` and projection `P_m = ẑ_m · F_m` `[B, R·O]`.
fn projections<B: Backend>(
    inputs: &[Tensor<B, 2>],
    factors: &[Tensor<B, 3>],
) -> Vec<(Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>)> {
    inputs
        .iter()
        .zip(factors)
        .map(|(z, factor)| {
            let hat = prepend_one(z.clone());
            let matrix = factor_matrix(factor.clone());
            let projection = hat.clone().matmul(matrix.clone());
            (hat, matrix, projection)
        })
        .collect()
}

/// `Σ_r w_r · X[b, r, o]`: `[B, R·O]` -> `[B, O]`.
fn rank_sum<B: Backend>(product: Tensor<B, 2>, rank_weights: Tensor<B, 2>) -> Tensor<B, 2> {
    let [batch, _] = product.dims();
    let [_, rank] = rank_weights.dims();
    let out = product.dims()[1] / rank;
    rank_weights
        .reshape([1, 1, rank])
        .matmul(product.reshape([batch, rank, out]))
        .reshape([batch, out])
}

/// Forward pass: `b + Σ_r w_r Π_m (ẑ_m W_m^(r))`. Shapes as in
/// [`FusionBackend::low_rank_fusion`](crate::FusionBackend::low_rank_fusion).
pub fn forward<B: Backend>(
    inputs: &[Tensor<B, 2>],
    factors: &[Tensor<B, 3>],
    rank_weights: Tensor<B, 2>,
    bias: Tensor<B, 2>,
) -> Tensor<B, 2> {
    // Multiplied in as they are made: at most two [B, R·O] projections are alive.
    let product = inputs
        .iter()
        .zip(factors)
        .map(|(z, factor)| prepend_one(z.clone()).matmul(factor_matrix(factor.clone())))
        .reduce(|acc, projection| acc * projection)
        .expect("low-rank fusion needs a modality");
    rank_sum(product, rank_weights) + bias
}

/// Backward pass: the gradients of every input of [`forward`] given `∂L/∂h` `[B, O]`.
pub fn backward<B: Backend>(
    inputs: &[Tensor<B, 2>],
    factors: &[Tensor<B, 3>],
    rank_weights: Tensor<B, 2>,
    grad: Tensor<B, 2>,
) -> LowRankFusionGrads<B> {
    let [batch, out] = grad.dims();
    let [_, rank] = rank_weights.dims();
    let parts = projections(inputs, factors);
    // prefix[m] = Π_{n<m} P_n, suffix[m] = Π_{n>m} P_n (None: the empty product).
    let prefix = running_products(parts.iter().map(|(_, _, projection)| projection));
    let mut suffix = running_products(parts.iter().rev().map(|(_, _, projection)| projection));
    suffix.reverse();
    let full = prefix
        .last()
        .cloned()
        .flatten()
        .expect("low-rank fusion needs a modality");

    let grad_3d = grad.clone().reshape([batch, 1, out]);
    let rank_weights_grad = (full.reshape([batch, rank, out]) * grad_3d.clone())
        .sum_dim(2)
        .sum_dim(0)
        .reshape([1, rank]);
    // ∂h[b, o] · w_r, the gradient of the full product: [B, R·O].
    let weighted = (grad_3d * rank_weights.reshape([1, rank, 1])).reshape([batch, rank * out]);

    let mut input_grads = Vec::with_capacity(parts.len());
    let mut factor_grads = Vec::with_capacity(parts.len());
    for (m, (hat, matrix, _)) in parts.into_iter().enumerate() {
        let others = [prefix[m].clone(), suffix[m + 1].clone()]
            .into_iter()
            .flatten()
            .reduce(|a, b| a * b);
        let projection_grad = match others {
            Some(others) => weighted.clone() * others,
            None => weighted.clone(),
        };
        let width = hat.dims()[1];
        let factor_grad = hat.transpose().matmul(projection_grad.clone());
        factor_grads.push(factor_grad.reshape([width, rank, out]).swap_dims(0, 1));
        let hat_grad = projection_grad.matmul(matrix.transpose());
        input_grads.push(drop_constant(hat_grad));
    }
    LowRankFusionGrads {
        inputs: input_grads,
        factors: factor_grads,
        rank_weights: rank_weights_grad,
        bias: grad.sum_dim(0),
    }
}

/// `[None, Some(x_1), Some(x_1 x_2), …]`: the running element-wise products of `factors`.
fn running_products<'a, B: Backend>(
    factors: impl Iterator<Item = &'a Tensor<B, 2>>,
) -> Vec<Option<Tensor<B, 2>>> {
    let mut products: Vec<Option<Tensor<B, 2>>> = vec![None];
    for factor in factors {
        let next = match products.last().cloned().flatten() {
            Some(acc) => acc * factor.clone(),
            None => factor.clone(),
        };
        products.push(Some(next));
    }
    products
}
