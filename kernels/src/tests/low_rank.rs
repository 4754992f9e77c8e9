//! Low-rank fusion: the backend's fused op against the composite reference.

use burn::tensor::{backend::AutodiffBackend, Tensor};

use super::{shapes, track, Outcome, Tracked};
use crate::composite;
use crate::testing::{modality_inputs, tensor, TestBackend};

type Op<B> = fn(&[Tensor<B, 2>], &[Tensor<B, 3>], Tensor<B, 2>, Tensor<B, 2>) -> Tensor<B, 2>;

/// Deterministic factors `[R, d_m + 1, O]`, rank weights `[1, R]` and bias `[1, O]`.
pub(super) fn parameters<B: burn::tensor::backend::Backend>(
    seed: u64,
    dims: &[usize],
    out: usize,
    rank: usize,
    device: &B::Device,
) -> (Vec<Tensor<B, 3>>, Tensor<B, 2>, Tensor<B, 2>) {
    let factors = dims
        .iter()
        .zip(seed..)
        .map(|(d, seed)| tensor::<B, 3>(seed, [rank, d + 1, out], device))
        .collect();
    let rank_weights = tensor::<B, 2>(seed + 10, [1, rank], device);
    let bias = tensor::<B, 2>(seed + 11, [1, out], device);
    (factors, rank_weights, bias)
}

/// `op`'s outcome on tracked copies of the inputs and parameters.
pub(super) fn outcome<B: AutodiffBackend>(
    op: Op<B>,
    inputs: &[Tensor<B, 2>],
    (factors, rank_weights, bias): &(Vec<Tensor<B, 3>>, Tensor<B, 2>, Tensor<B, 2>),
) -> Outcome {
    let inputs = track(inputs);
    let factors = track(factors);
    let rank_weights = rank_weights.clone().require_grad();
    let bias = bias.clone().require_grad();
    let output = op(&inputs, &factors, rank_weights.clone(), bias.clone());
    let tracked = Tracked::new()
        .with_all("input", &inputs)
        .with_all("factor", &factors)
        .with("rank weights", &rank_weights)
        .with("bias", &bias);
    Outcome::new(output, tracked)
}

/// The shared shapes, and one with a 300-wide modality (flex keeps every projection of a
/// training step at these sizes: `cpu::low_rank::keep_projections`).
fn fused_vs_composite<B: TestBackend>(device: &B::Device) {
    let wide = (vec![300, 7], 5, [3, 37].as_slice());
    for (i, (dims, out, batches)) in shapes().chain([wide]).enumerate() {
        for rank in [1, 3, 64] {
            let parameters = parameters::<B>(17 + 20 * i as u64, &dims, out, rank, device);
            for &batch in batches {
                let inputs = modality_inputs::<B>(60 + i as u64, &dims, batch, device);
                let fused = outcome(B::low_rank_fusion, &inputs, &parameters);
                let reference = outcome(composite::low_rank_fusion, &inputs, &parameters);
                let case = format!("dims {dims:?} out {out} rank {rank} batch {batch}");
                fused.assert_close(&case, &reference, 1e-4);
            }
        }
    }
}
crate::backend_tests!(fused_matches_composite, fused_vs_composite);
