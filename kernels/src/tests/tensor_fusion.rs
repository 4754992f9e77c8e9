//! Tensor fusion: the backend's fused op and the chunked GEMM formulation against the
//! composite reference.

use burn::tensor::{backend::AutodiffBackend, Tensor};

use super::{shapes, track, Outcome, Tracked};
use crate::testing::{assert_close, loss_weights, modality_inputs, tensor, to_f64, TestBackend};
use crate::{composite, tensor_fusion as gemm, TensorFusionGrads};

type Op<B> = fn(&[Tensor<B, 2>], Tensor<B, 2>, Option<Tensor<B, 1>>) -> Tensor<B, 2>;

/// `op`'s outcome on tracked copies of the inputs, weight and bias.
fn outcome<B: AutodiffBackend>(
    op: Op<B>,
    inputs: &[Tensor<B, 2>],
    weight: &Tensor<B, 2>,
    bias: Option<&Tensor<B, 1>>,
) -> Outcome {
    let inputs = track(inputs);
    let weight = weight.clone().require_grad();
    let bias = bias.map(|b| b.clone().require_grad());
    let output = op(&inputs, weight.clone(), bias.clone());
    let tracked = Tracked::new().with_all("input", &inputs).with("weight", &weight);
    let tracked = match &bias {
        Some(bias) => tracked.with("bias", bias),
        None => tracked,
    };
    Outcome::new(output, tracked)
}

fn fused_vs_composite<B: TestBackend>(device: &B::Device) {
    for (i, (dims, out, batches)) in shapes().enumerate() {
        let p: usize = dims.iter().map(|d| d + 1).product();
        let weight = tensor::<B, 2>(7 + i as u64, [p, out], device);
        let bias = tensor::<B, 1>(8 + i as u64, [out], device);
        for &batch in batches {
            let inputs = modality_inputs::<B>(40 + i as u64, &dims, batch, device);
            for bias in [Some(&bias), None] {
                let fused = outcome(B::tensor_fusion, &inputs, &weight, bias);
                let reference = outcome(composite::tensor_fusion, &inputs, &weight, bias);
                let case = format!("dims {dims:?} out {out} batch {batch} bias {}", bias.is_some());
                fused.assert_close(&case, &reference, 1e-4);
            }
        }
    }
}
crate::backend_tests!(fused_matches_composite, fused_vs_composite);

/// Chunked forward and backward functions of a backend, as `gemm::{forward_chunked,
/// backward_chunked}` and flex's raw-memory ones.
pub(super) type ChunkedForward<I> =
    fn(&[Tensor<I, 2>], Tensor<I, 2>, Option<Tensor<I, 1>>, usize) -> Tensor<I, 2>;
pub(super) type ChunkedBackward<I> =
    fn(&[Tensor<I, 2>], Tensor<I, 2>, Tensor<I, 2>, usize) -> TensorFusionGrads<I>;

/// The batch split into chunks of every size (down to one row per chunk) gives the same
/// output and gradients as the unchunked composite.
pub(super) fn check_chunking<B: TestBackend>(
    device: &B::Device,
    forward: ChunkedForward<B::InnerBackend>,
    backward: ChunkedBackward<B::InnerBackend>,
) {
    let dims = [3, 4, 2];
    let (batch, out) = (7, 3);
    let p: usize = dims.iter().map(|d| d + 1).product();
    let inputs = modality_inputs::<B>(5, &dims, batch, device);
    let weight = tensor::<B, 2>(6, [p, out], device);
    let bias = tensor::<B, 1>(7, [out], device);
    let reference = outcome(composite::tensor_fusion, &inputs, &weight, Some(&bias));

    let inner: Vec<_> = inputs.iter().map(|x| x.clone().inner()).collect();
    // 1 element: one row per chunk; 12·4: two rows; 1 << 20: one chunk.
    for chunk_elements in [1, 12 * 4, 1 << 20] {
        let output = forward(
            &inner,
            weight.clone().inner(),
            Some(bias.clone().inner()),
            chunk_elements,
        );
        let grads = backward(
            &inner,
            weight.clone().inner(),
            loss_weights::<B::InnerBackend>([batch, out], device),
            chunk_elements,
        );
        let chunked = [output]
            .into_iter()
            .chain(grads.inputs)
            .chain([grads.weight, grads.bias.unsqueeze()])
            .map(to_f64);
        for ((name, want), actual) in reference.0.iter().zip(chunked) {
            assert_close(
                &format!("chunks of {chunk_elements} elements: {name}"),
                &actual,
                want,
                1e-5,
            );
        }
    }
}

fn chunking<B: TestBackend>(device: &B::Device) {
    check_chunking::<B>(device, gemm::forward_chunked, gemm::backward_chunked);
}
crate::backend_tests!(chunks_match_composite, chunking);

/// Inputs that do not require gradients still give the parameters theirs (the fused node's
/// untracked parents are skipped, not mis-assigned): `∂loss/∂W = vec(Z)ᵀ · c`, with the outer
/// product built explicitly.
fn partly_tracked<B: TestBackend>(device: &B::Device) {
    let dims = [2, 3];
    let inputs = modality_inputs::<B>(9, &dims, 4, device);
    let weight = tensor::<B, 2>(3, [12, 2], device).require_grad();
    let output = B::tensor_fusion(&inputs, weight.clone(), None);
    let grads = (output * loss_weights::<B>([4, 2], device)).sum().backward();
    let inner: Vec<Tensor<B::InnerBackend, 2>> = inputs.iter().map(|x| x.clone().inner()).collect();
    let expected = composite::outer_product(&inner)
        .transpose()
        .matmul(loss_weights([4, 2], device));
    let actual = weight.grad(&grads).expect("the weight is tracked");
    assert_close("weight gradient", &to_f64(actual), &to_f64(expected), 1e-5);
}
crate::backend_tests!(untracked_inputs_are_skipped, partly_tracked);
