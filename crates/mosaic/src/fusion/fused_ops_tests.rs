//! The fused ops of `mosaic-kernels` (what the layers run) against the composite reference
//! (explicit outer product, differentiated by burn), on every backend: outputs and the
//! gradients of every input and parameter.

use burn::module::Param;
use burn::tensor::Tensor;
use mosaic_kernels::{composite, tensor_fusion as fused_tf, TensorFusionGrads};

use crate::fusion::{Fusion, LowRankFusionConfig, TensorFusionConfig};
use crate::test_util::*;

/// 2 to 5 modalities, widths 1 and widths that are no multiple of any tile size.
const DIMS: [&[usize]; 5] = [&[1, 1], &[3, 5], &[7, 1, 6], &[2, 3, 1, 4], &[1, 2, 2, 3, 2]];

/// [`DIMS`] with out 3, then a case that spans several of the GPU kernels' tiles along every
/// axis (batch 150 > 128 rows, out 70 > 32 vectors of 2, P = 6120 split along the grid), with
/// ragged edges; each with its batches.
fn shapes() -> impl Iterator<Item = (Vec<usize>, usize, &'static [usize])> {
    DIMS.iter()
        .map(|d| (d.to_vec(), 3, [1, 5, 37].as_slice()))
        .chain([(vec![17, 9, 33], 70, [1, 37, 150].as_slice())])
}

fn tensor_fusion_case<B: TestBackend>(device: &B::Device) {
    for (i, (dims, out, batches)) in shapes().enumerate() {
        let all_orders = (0..=dims.len()).collect::<Vec<_>>();
        for orders in [None, Some(vec![0, dims.len()]), Some(all_orders[1..].to_vec())] {
            for &batch in batches {
                let config = TensorFusionConfig::new(dims.clone(), out).with_orders(orders.clone());
                let layer = randomize(config.init::<B>(device).unwrap(), 7 + i as u64);
                let inputs = modality_inputs::<B>(40 + i as u64, &dims, batch, device);
                let fused = run_case(&layer, &inputs, super::Fusion::forward);
                let reference = run_case(&layer, &inputs, |l, x| {
                    Ok(composite::tensor_fusion(
                        x,
                        l.effective_weight(),
                        l.bias.as_ref().map(Param::val),
                    ))
                });
                let case = format!("dims {dims:?} out {out} orders {orders:?} batch {batch}");
                fused.assert_close_in(&case, &reference, 1e-4);
            }
        }
    }
}
for_each_backend!(tensor_fusion_matches_composite, tensor_fusion_case);

/// Chunked forward and backward functions of the inner backend `I`, as in
/// `mosaic_kernels::tensor_fusion::{forward_chunked, backward_chunked}`.
type ChunkedForward<I> = fn(&[Tensor<I, 2>], Tensor<I, 2>, Option<Tensor<I, 1>>, usize) -> Tensor<I, 2>;
type ChunkedBackward<I> = fn(&[Tensor<I, 2>], Tensor<I, 2>, Tensor<I, 2>, usize) -> TensorFusionGrads<I>;

/// The batch split into chunks of every size (down to one row per chunk) gives the same
/// output and gradients as the unchunked composite.
fn check_chunking<B: TestBackend>(
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

    let tracked: Vec<_> = inputs.iter().map(|x| x.clone().require_grad()).collect();
    let (weight_t, bias_t) = (weight.clone().require_grad(), bias.clone().require_grad());
    let reference = composite::tensor_fusion(&tracked, weight_t.clone(), Some(bias_t.clone()));
    let grads = (reference.clone() * loss_weights::<B>([batch, out], device))
        .sum()
        .backward();

    let inner: Vec<_> = inputs.iter().map(|x| x.clone().inner()).collect();
    // 1 element: one row per chunk; 12·4: two rows; 1 << 20: one chunk.
    for chunk_elements in [1, 12 * 4, 1 << 20] {
        let case = format!("chunks of {chunk_elements} elements");
        let output = forward(
            &inner,
            weight.clone().inner(),
            Some(bias.clone().inner()),
            chunk_elements,
        );
        assert_close(&case, &to_f64(output), &to_f64(reference.clone().inner()), 1e-5);
        let fused = backward(
            &inner,
            weight.clone().inner(),
            loss_weights::<B::InnerBackend>([batch, out], device),
            chunk_elements,
        );
        for (m, (x, g)) in tracked.iter().zip(fused.inputs).enumerate() {
            assert_close(
                &format!("{case}: input {m}"),
                &to_f64(g),
                &to_f64(x.grad(&grads).unwrap()),
                1e-5,
            );
        }
        let expected_weight = to_f64(weight_t.grad(&grads).unwrap());
        assert_close(
            &format!("{case}: weight"),
            &to_f64(fused.weight),
            &expected_weight,
            1e-5,
        );
        let expected_bias = to_f64(bias_t.grad(&grads).unwrap());
        assert_close(
            &format!("{case}: bias"),
            &to_f64(fused.bias),
            &expected_bias,
            1e-5,
        );
    }
}

fn chunking_case<B: TestBackend>(device: &B::Device) {
    check_chunking::<B>(device, fused_tf::forward_chunked, fused_tf::backward_chunked);
}
for_each_backend!(tensor_fusion_chunks_match_composite, chunking_case);

/// The same for flex's raw-memory implementation.
#[cfg(feature = "flex")]
#[test]
fn flex_tensor_fusion_chunks_match_composite() {
    use mosaic_kernels::cpu::tensor_fusion as flex_tf;
    check_chunking::<burn::backend::Autodiff<crate::backend::Flex>>(
        &Default::default(),
        flex_tf::forward,
        flex_tf::backward,
    );
}

/// Flex's low-rank fusion works in blocks of rows, and splits each rank's rows between
/// runs of tasks when there are fewer ranks than parts: every block size (down to one row),
/// rank 1 (its rows split) and rank 3 give the composite's output and gradients.
#[cfg(feature = "flex")]
#[test]
fn flex_low_rank_blocks_match_composite() {
    use mosaic_kernels::cpu::low_rank as flex_lmf;
    type B = burn::backend::Autodiff<crate::backend::Flex>;
    let device = Default::default();
    let dims = [3, 4, 2];
    let (batch, out) = (7, 3);
    let inputs = modality_inputs::<B>(5, &dims, batch, &device);
    let inner: Vec<_> = inputs.iter().map(|x| x.clone().inner()).collect();
    let tracked: Vec<_> = inputs.iter().map(|x| x.clone().require_grad()).collect();
    for rank in [1, 3] {
        let factors: Vec<Tensor<B, 3>> = dims
            .iter()
            .zip(10..)
            .map(|(d, seed)| tensor::<B, 3>(seed, [rank, d + 1, out], &device).require_grad())
            .collect();
        let rank_weights = tensor::<B, 2>(20, [1, rank], &device).require_grad();
        let bias = tensor::<B, 2>(21, [1, out], &device).require_grad();
        let reference = composite::low_rank_fusion(&tracked, &factors, rank_weights.clone(), bias.clone());
        let grads = (reference.clone() * loss_weights::<B>([batch, out], &device))
            .sum()
            .backward();
        let inner_factors: Vec<_> = factors.iter().map(|f| f.clone().inner()).collect();
        // One row per block, two rows (a ragged last block), one block.
        for block_rows in [1, 2, batch] {
            let case = format!("rank {rank}, blocks of {block_rows} rows");
            let output = flex_lmf::forward(
                &inner,
                &inner_factors,
                rank_weights.clone().inner(),
                bias.clone().inner(),
                block_rows,
            );
            assert_close(&case, &to_f64(output), &to_f64(reference.clone().inner()), 1e-5);
            let fused = flex_lmf::backward(
                &inner,
                &inner_factors,
                rank_weights.clone().inner(),
                loss_weights([batch, out], &device),
                block_rows,
            );
            let expected = |grad: Option<Vec<f64>>| grad.expect("a tracked tensor has a gradient");
            for (m, (x, g)) in tracked.iter().zip(fused.inputs).enumerate() {
                let want = expected(x.grad(&grads).map(to_f64));
                assert_close(&format!("{case}: input {m}"), &to_f64(g), &want, 1e-5);
            }
            for (m, (f, g)) in factors.iter().zip(fused.factors).enumerate() {
                let want = expected(f.grad(&grads).map(to_f64));
                assert_close(&format!("{case}: factor {m}"), &to_f64(g), &want, 1e-5);
            }
            let want = expected(rank_weights.grad(&grads).map(to_f64));
            assert_close(
                &format!("{case}: rank weights"),
                &to_f64(fused.rank_weights),
                &want,
                1e-5,
            );
            let want = expected(bias.grad(&grads).map(to_f64));
            assert_close(&format!("{case}: bias"), &to_f64(fused.bias), &want, 1e-5);
        }
    }
}

fn low_rank_case<B: TestBackend>(device: &B::Device) {
    for (i, (dims, out, batches)) in shapes().enumerate() {
        for rank in [1, 3, 64] {
            for &batch in batches {
                let config = LowRankFusionConfig::new(dims.clone(), out, rank);
                let layer = randomize(config.init::<B>(device).unwrap(), 17 + i as u64);
                let inputs = modality_inputs::<B>(60 + i as u64, &dims, batch, device);
                let fused = run_case(&layer, &inputs, super::Fusion::forward);
                let reference = run_case(&layer, &inputs, |l, x| {
                    let factors: Vec<_> = l.factors.iter().map(Param::val).collect();
                    Ok(composite::low_rank_fusion(
                        x,
                        &factors,
                        l.rank_weights.val(),
                        l.bias.val(),
                    ))
                });
                let case = format!("dims {dims:?} out {out} rank {rank} batch {batch}");
                fused.assert_close_in(&case, &reference, 1e-4);
            }
        }
    }
}
for_each_backend!(low_rank_fusion_matches_composite, low_rank_case);

/// Inputs that do not require gradients still give the parameters theirs (the fused node's
/// untracked parents are skipped, not mis-assigned).
fn partly_tracked_case<B: TestBackend>(device: &B::Device) {
    let dims = vec![2, 3];
    let layer = randomize(
        TensorFusionConfig::new(dims.clone(), 2)
            .init::<B>(device)
            .unwrap(),
        3,
    );
    let inputs = modality_inputs::<B>(9, &dims, 4, device);
    let output = layer.forward(&inputs).unwrap();
    let grads = (output * loss_weights::<B>([4, 2], device)).sum().backward();
    let weight_grad = layer.weight.val().grad(&grads).map(to_f64);
    // ∂loss/∂W = vec(Z)ᵀ · c, with the outer product built explicitly.
    let inner_inputs: Vec<Tensor<B::InnerBackend, 2>> = inputs.iter().map(|x| x.clone().inner()).collect();
    let loss_weights = loss_weights::<B::InnerBackend>([4, 2], device);
    let expected = to_f64(
        composite::outer_product(&inner_inputs)
            .transpose()
            .matmul(loss_weights),
    );
    assert_close(
        "weight gradient",
        &weight_grad.expect("the weight is tracked"),
        &expected,
        1e-5,
    );
}
for_each_backend!(untracked_inputs_are_skipped, partly_tracked_case);

/// Flex's fused ops give the same bits with 1, 2 and 3 threads, forward and backward: the
/// work's partition and the order of its sums do not follow the thread count or work
/// stealing. Shapes with many blocks of the tensor-fusion contraction and low-rank fusion
/// with fewer, as many and more ranks than parts, over two blocks of rows.
#[cfg(feature = "flex")]
#[test]
fn flex_fused_ops_are_bit_identical_for_any_thread_count() {
    use mosaic_kernels::cpu::{low_rank as flex_lmf, tensor_fusion as flex_tf};
    type F = crate::backend::Flex;
    let device = Default::default();
    let bits = |tensors: Vec<Tensor<F, 2>>| -> Vec<u32> {
        tensors
            .into_iter()
            .flat_map(|t| t.into_data().iter::<f32>().map(f32::to_bits).collect::<Vec<_>>())
            .collect()
    };
    let flat3 = |t: Tensor<F, 3>| t.flatten::<2>(0, 1);
    let run = |threads: usize| -> Vec<Vec<u32>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let mut results = Vec::new();
            let (dims, out, batch) = ([17, 9, 33], 70, 150);
            let inputs = modality_inputs::<F>(3, &dims, batch, &device);
            let p: usize = dims.iter().map(|d| d + 1).product();
            let weight = tensor::<F, 2>(4, [p, out], &device);
            let bias = tensor::<F, 1>(5, [out], &device);
            let grad = tensor::<F, 2>(6, [batch, out], &device);
            let h = flex_tf::forward(&inputs, weight.clone(), Some(bias), usize::MAX);
            let g = flex_tf::backward(&inputs, weight, grad, usize::MAX);
            results.push(bits([vec![h, g.weight, g.bias.unsqueeze()], g.inputs].concat()));
            let (dims, out, batch) = ([7, 5, 9], 16, 300);
            let inputs = modality_inputs::<F>(7, &dims, batch, &device);
            for rank in [1, 12, 32] {
                let factors: Vec<Tensor<F, 3>> = dims
                    .iter()
                    .zip(10..)
                    .map(|(d, seed)| tensor::<F, 3>(seed, [rank, d + 1, out], &device))
                    .collect();
                let rank_weights = tensor::<F, 2>(20, [1, rank], &device);
                let bias = tensor::<F, 2>(21, [1, out], &device);
                let grad = tensor::<F, 2>(22, [batch, out], &device);
                let block = flex_lmf::BLOCK_ROWS;
                let h = flex_lmf::forward(&inputs, &factors, rank_weights.clone(), bias, block);
                let g = flex_lmf::backward(&inputs, &factors, rank_weights, grad, block);
                let factor_grads = g.factors.into_iter().map(flat3).collect();
                results.push(bits(
                    [vec![h, g.rank_weights, g.bias], g.inputs, factor_grads].concat(),
                ));
            }
            results
        })
    };
    let one = run(1);
    for threads in [2, 3] {
        let other = run(threads);
        for (case, (a, b)) in one.iter().zip(&other).enumerate() {
            let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
            assert_eq!(
                differing,
                0,
                "case {case}: {differing} of {} values differ between 1 and {threads} threads",
                a.len()
            );
        }
    }
}
