//! Flex's raw-memory path (`crate::cpu`): its own partitions of the work (chunks of rows,
//! blocks of rows, ranks split between runs) against the composite reference, and its
//! results bit-identical for any thread count.

use burn::backend::{Autodiff, Flex};
use burn::tensor::Tensor;

use super::low_rank::{outcome, parameters};
use super::tensor_fusion::check_chunking;
use crate::composite;
use crate::cpu::{low_rank as flex_lmf, tensor_fusion as flex_tf};
use crate::testing::{assert_close, loss_weights, modality_inputs, tensor, to_f64};

#[test]
fn tensor_fusion_chunks_match_composite() {
    check_chunking::<Autodiff<Flex>>(&Default::default(), flex_tf::forward, flex_tf::backward);
}

/// Flex's low-rank fusion works in blocks of rows, and splits each rank's rows between
/// runs of tasks when there are fewer ranks than parts: every block size (down to one row),
/// rank 1 (its rows split) and rank 3 give the composite's output and gradients, with the
/// backward pass computing the projections again or reading those the forward pass kept
/// (in blocks of another size: the kept layout does not follow the partition).
#[test]
fn low_rank_blocks_match_composite() {
    type B = Autodiff<Flex>;
    let device = Default::default();
    let dims = [3, 4, 2];
    let (batch, out) = (7, 3);
    let inputs = modality_inputs::<B>(5, &dims, batch, &device);
    let inner: Vec<_> = inputs.iter().map(|x| x.clone().inner()).collect();
    for rank in [1, 3] {
        let parameters = parameters::<B>(10, &dims, out, rank, &device);
        let reference = outcome(composite::low_rank_fusion, &inputs, &parameters);
        let (factors, rank_weights, bias) = &parameters;
        let factors: Vec<_> = factors.iter().map(|f| f.clone().inner()).collect();
        let (rank_weights, bias) = (rank_weights.clone().inner(), bias.clone().inner());
        // One row per block, two rows (a ragged last block), one block.
        for (block_rows, backward_rows) in [(1, 2), (2, batch), (batch, 1)] {
            // None, some and all of the modalities' projections kept.
            for keep in [vec![], vec![false, true, false], vec![true; dims.len()]] {
                let (output, kept) = flex_lmf::forward_keeping(
                    &inner,
                    &factors,
                    rank_weights.clone(),
                    bias.clone(),
                    block_rows,
                    &keep,
                );
                let kept_modalities: Vec<bool> = kept.iter().map(Option::is_some).collect();
                assert_eq!(
                    kept_modalities,
                    (0..dims.len())
                        .map(|m| keep.get(m) == Some(&true))
                        .collect::<Vec<_>>()
                );
                // Without kept projections, the backward pass in the forward pass's blocks.
                let backward_rows = if keep.is_empty() {
                    block_rows
                } else {
                    backward_rows
                };
                let grad = loss_weights([batch, out], &device);
                let grads =
                    flex_lmf::backward(&inner, &factors, rank_weights.clone(), grad, &kept, backward_rows);
                let flat = |t: Tensor<Flex, 3>| t.flatten::<2>(0, 1);
                let blocked = [output]
                    .into_iter()
                    .chain(grads.inputs)
                    .chain(grads.factors.into_iter().map(flat))
                    .chain([grads.rank_weights, grads.bias])
                    .map(to_f64);
                for ((name, want), actual) in reference.0.iter().zip(blocked) {
                    let case = format!(
                        "rank {rank}, blocks of {block_rows} and {backward_rows} rows, projections kept: {keep:?}: {name}"
                    );
                    assert_close(&case, &actual, want, 1e-5);
                }
            }
        }
    }
}

/// Flex's fused ops give the same bits with 1, 2 and 3 threads, forward and backward: the
/// work's partition and the order of its sums do not follow the thread count or work
/// stealing. Shapes with many blocks of the tensor-fusion contraction and low-rank fusion
/// with fewer, as many and more ranks than parts, over two blocks of rows.
#[test]
fn fused_ops_are_bit_identical_for_any_thread_count() {
    let device = Default::default();
    let bits = |tensors: Vec<Tensor<Flex, 2>>| -> Vec<u32> {
        tensors
            .into_iter()
            .flat_map(|t| t.into_data().iter::<f32>().map(f32::to_bits).collect::<Vec<_>>())
            .collect()
    };
    let flat3 = |t: Tensor<Flex, 3>| t.flatten::<2>(0, 1);
    let run = |threads: usize| -> Vec<Vec<u32>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let mut results = Vec::new();
            let (dims, out, batch) = ([17, 9, 33], 70, 150);
            let inputs = modality_inputs::<Flex>(3, &dims, batch, &device);
            let p: usize = dims.iter().map(|d| d + 1).product();
            let weight = tensor::<Flex, 2>(4, [p, out], &device);
            let bias = tensor::<Flex, 1>(5, [out], &device);
            let grad = tensor::<Flex, 2>(6, [batch, out], &device);
            let h = flex_tf::forward(&inputs, weight.clone(), Some(bias), usize::MAX);
            let g = flex_tf::backward(&inputs, weight, grad, usize::MAX);
            results.push(bits([vec![h, g.weight, g.bias.unsqueeze()], g.inputs].concat()));
            let (dims, out, batch) = ([7, 5, 9], 16, 300);
            let inputs = modality_inputs::<Flex>(7, &dims, batch, &device);
            for rank in [1, 12, 32] {
                let (factors, rank_weights, bias) = parameters::<Flex>(10, &dims, out, rank, &device);
                let grad = tensor::<Flex, 2>(22, [batch, out], &device);
                let block = flex_lmf::BLOCK_ROWS;
                for keep in [vec![], vec![true, false, true]] {
                    let (h, kept) = flex_lmf::forward_keeping(
                        &inputs,
                        &factors,
                        rank_weights.clone(),
                        bias.clone(),
                        block,
                        &keep,
                    );
                    let g = flex_lmf::backward(
                        &inputs,
                        &factors,
                        rank_weights.clone(),
                        grad.clone(),
                        &kept,
                        block,
                    );
                    let factor_grads = g.factors.into_iter().map(flat3).collect();
                    results.push(bits(
                        [vec![h, g.rank_weights, g.bias], g.inputs, factor_grads].concat(),
                    ));
                }
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
