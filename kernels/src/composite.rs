//! Composite implementations of the fusion operations, built from plain burn tensor ops.
//!
//! These are the reference every fused implementation is tested against, and the path used
//! by backends without a fused kernel. They are differentiable on any `Autodiff` backend.

use burn::tensor::{backend::Backend, Tensor};

/// `ẑ = [1; z]`: prepends a column of ones. `[B, d]` -> `[B, d + 1]`.
pub fn prepend_one<B: Backend>(z: Tensor<B, 2>) -> Tensor<B, 2> {
    let [batch, _] = z.dims();
    let ones = Tensor::ones([batch, 1], (&z.device(), z.dtype()));
    Tensor::cat(vec![ones, z], 1)
}

/// `∂z = ∂ẑ[:, 1..]`: the gradient of [`prepend_one`]'s input (the constant 1 has none).
/// `[B, d + 1]` -> `[B, d]`.
pub fn drop_constant<B: Backend>(hat_grad: Tensor<B, 2>) -> Tensor<B, 2> {
    let [rows, width] = hat_grad.dims();
    hat_grad.slice([0..rows, 1..width])
}

/// Row-major flattened outer product `vec(ẑ_1 ⊗ … ⊗ ẑ_M)`: `[B, d_m]`… -> `[B, P]`.
///
/// Materialises the whole `[B, P]` tensor; this is the memory cost the fused kernels avoid.
pub fn outer_product<B: Backend>(inputs: &[Tensor<B, 2>]) -> Tensor<B, 2> {
    let hats: Vec<Tensor<B, 2>> = inputs.iter().cloned().map(prepend_one).collect();
    flat_outer_product(&hats)
}

/// Row-major flattened outer product of vectors as given (no 1 prepended):
/// `[B, w_1]`, …, `[B, w_k]` -> `[B, Π w_m]`. Panics when `vectors` is empty.
pub fn flat_outer_product<B: Backend>(vectors: &[Tensor<B, 2>]) -> Tensor<B, 2> {
    let (first, rest) = vectors
        .split_first()
        .expect("an outer product needs at least one vector");
    rest.iter().fold(first.clone(), |acc, next| {
        let [batch, p] = acc.dims();
        let [_, d] = next.dims();
        (acc.reshape([batch, p, 1]) * next.clone().reshape([batch, 1, d])).reshape([batch, p * d])
    })
}

/// Tensor fusion: `vec(ẑ_1 ⊗ … ⊗ ẑ_M) · W + b`. See
/// [`FusionBackend::tensor_fusion`](crate::FusionBackend::tensor_fusion) for shapes.
pub fn tensor_fusion<B: Backend>(
    inputs: &[Tensor<B, 2>],
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    let out = outer_product(inputs).matmul(weight);
    match bias {
        Some(bias) => out + bias.unsqueeze_dim(0),
        None => out,
    }
}

/// Low-rank fusion: `b + Σ_i w_i Π_m (ẑ_m W_m^(i))`. See
/// [`FusionBackend::low_rank_fusion`](crate::FusionBackend::low_rank_fusion) for shapes.
pub fn low_rank_fusion<B: Backend>(
    inputs: &[Tensor<B, 2>],
    factors: &[Tensor<B, 3>],
    rank_weights: Tensor<B, 2>,
    bias: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let product = inputs
        .iter()
        .zip(factors)
        .map(|(z, factor)| {
            let [rank, width, out] = factor.dims();
            let [batch, _] = z.dims();
            // [R, d+1, O] -> [d+1, R·O]: one GEMM gives every rank's projection.
            let factor = factor.clone().swap_dims(0, 1).reshape([width, rank * out]);
            prepend_one(z.clone()).matmul(factor).reshape([batch, rank, out])
        })
        .reduce(|acc, projection| acc * projection)
        .expect("low-rank fusion needs at least one modality");
    let [batch, rank, out] = product.dims();
    let weights = rank_weights.reshape([1, rank, 1]);
    (product * weights).sum_dim(1).reshape([batch, out]) + bias
}
