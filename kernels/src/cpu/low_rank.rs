//! Low-rank fusion on flex (f32), a block of rows and one rank at a time.
//!
//! The formulation of [`crate::low_rank`] with its loops turned inside out. Instead of one
//! GEMM per modality giving every rank's projection (`[B, R·O]`, megabytes each, written to
//! memory and read back by every element-wise pass), a thread takes a run of ranks and, per
//! block of `c` rows and per rank `r`, computes the `M` projections `P_m = ẑ_m[rows] ·
//! W_m[r]` (`[c, d_m + 1] × [d_m + 1, O]`, `W_m[r]` being the factor's own contiguous
//! slice: the factors are never copied) into buffers that stay in the core's cache, and
//! uses them at once:
//!
//! ```text
//! forward:  h[rows] += w_r · Π_m P_m
//! backward: ∂P_m = ∂h · w_r · Π_{n≠m} P_n              (in place, prefix and suffix products)
//!           ∂w_r += Σ_{b,o} ∂h · Π_m P_m
//!           ∂W_m[r] += ẑ_m[rows]ᵀ · ∂P_m                ([d_m + 1, c] × [c, O])
//!           ∂ẑ_m[rows] += ∂P_m · W_m[r]ᵀ                ([c, O] × [O, d_m + 1])
//! ```
//!
//! Same FLOPs as the GEMM formulation (the backward pass recomputes the projections); no
//! intermediate grows with the rank, and the only batch-sized ones are a partial `h`
//! (forward) or a partial `∂ẑ_m` per modality (backward) per run of tasks, summed at the
//! end in run order. With fewer ranks than [`PARTS`], each rank's rows are split between
//! runs too (each split sums its own `∂W_m[r]`, added at the end in split order).

use std::ops::Range;

use burn::backend::Flex;
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::scratch::Scratch;
use super::{
    add_into, column_sums, drop_constant, gemm_serial, prepend_one, split_lengths, tensor_of, vectorized,
    zeroed_output, Dense, Matrix, PARTS,
};
use crate::low_rank::LowRankFusionGrads;

/// Rows per block: fewer make the factors stream past more often, more push the block's
/// rows out of the L2 cache (at the CMU-MOSI shape, 256 rows of `ẑ`, `∂h`, `∂ẑ` and the
/// three projections are 0.9 MiB).
pub const BLOCK_ROWS: usize = 256;

/// One modality: `ẑ_m` `[B, w]`, the factor `W_m` `[R, w, O]` and `w = d_m + 1`.
struct Modality {
    hat: Vec<f32>,
    factor: Dense,
    width: usize,
}

impl Modality {
    fn all(inputs: &[Tensor<Flex, 2>], factors: &[Tensor<Flex, 3>]) -> Vec<Self> {
        inputs
            .iter()
            .zip(factors)
            .map(|(z, factor)| {
                let width = factor.dims()[1];
                Modality {
                    hat: prepend_one(Dense::new(z.clone()).values(), width - 1),
                    factor: Dense::new(factor.clone()),
                    width,
                }
            })
            .collect()
    }

    /// `ẑ_m[rows]` `[c, w]`.
    fn hat_rows(&self, rows: &Range<usize>) -> Matrix<'_> {
        Matrix::rows(
            &self.hat[rows.start * self.width..rows.end * self.width],
            self.width,
        )
    }

    /// `W_m[r]` `[w, O]`.
    fn factor(&self, r: usize, out: usize) -> Matrix<'_> {
        let len = self.width * out;
        Matrix::rows(&self.factor.values()[r * len..(r + 1) * len], out)
    }

    /// `P_m = ẑ_m[rows] · W_m[r]` into `projection` `[c, O]`.
    fn project(&self, r: usize, rows: &Range<usize>, out: usize, projection: &mut [f32]) {
        gemm_serial(
            rows.len(),
            out,
            self.width,
            projection,
            false,
            self.hat_rows(rows),
            self.factor(r, out),
        );
    }
}

/// How the work is shared out: tasks `(split, r)`, numbered `split · R + r`, where `split`
/// is one of `splits` parts of the batch (more than one only when there are fewer ranks
/// than [`PARTS`]), cut into [`PARTS`] contiguous runs of tasks, each taken by one thread.
/// The runs' partial sums are added in run order, so the partition, not the pool, fixes
/// every sum's grouping. A thread walks the rows
/// of its splits a block at a time and, per block, its ranks: the block's rows (`ẑ_m`,
/// `∂h`, the partial `∂ẑ_m`) stay in cache while the factors stream past.
struct Work {
    batch: usize,
    rank: usize,
    splits: usize,
    block_rows: usize,
}

/// A block of rows and the ranks a thread works on for it.
struct Unit {
    rows: Range<usize>,
    ranks: Range<usize>,
    /// The task of `ranks.start`, counted from the start of the run.
    first_task: usize,
    /// Whether the block is the first of its split (the tasks' sums start there).
    first_block: bool,
}

impl Work {
    fn new(batch: usize, rank: usize, block_rows: usize) -> Self {
        Work {
            batch,
            rank,
            splits: PARTS.div_ceil(rank).clamp(1, batch.max(1)),
            block_rows: block_rows.max(1),
        }
    }

    /// Whether every run covers the whole batch (one split).
    fn whole_batch(&self) -> bool {
        self.splits == 1
    }

    /// Tasks as [`PARTS`] contiguous runs of nearly equal length (fewer when there are fewer
    /// tasks): a partition that does not depend on the number of threads.
    fn runs(&self) -> Vec<Range<usize>> {
        let tasks = self.splits * self.rank;
        let count = PARTS.clamp(1, tasks.max(1));
        (0..count)
            .map(|i| i * tasks / count..(i + 1) * tasks / count)
            .collect()
    }

    /// The units of a run of tasks: per split it touches, per block of that split's rows,
    /// the run's ranks in that split.
    fn units(&self, run: Range<usize>) -> impl Iterator<Item = Unit> + '_ {
        let (first_split, last_split) = (run.start / self.rank, run.end.div_ceil(self.rank));
        (first_split..last_split).flat_map(move |split| {
            let tasks = run.start.max(split * self.rank)..run.end.min((split + 1) * self.rank);
            let ranks = tasks.start - split * self.rank..tasks.end - split * self.rank;
            let rows = split * self.batch / self.splits..(split + 1) * self.batch / self.splits;
            let end = rows.end;
            let first = rows.start;
            rows.step_by(self.block_rows).map(move |start| Unit {
                rows: start..(start + self.block_rows).min(end),
                ranks: ranks.clone(),
                first_task: tasks.start - run.start,
                first_block: start == first,
            })
        })
    }
}

/// Forward pass, in blocks of at most `block_rows` rows (at least one; [`BLOCK_ROWS`] in
/// the layers). Shapes as in
/// [`FusionBackend::low_rank_fusion`](crate::FusionBackend::low_rank_fusion).
pub fn forward(
    inputs: &[Tensor<Flex, 2>],
    factors: &[Tensor<Flex, 3>],
    rank_weights: Tensor<Flex, 2>,
    bias: Tensor<Flex, 2>,
    block_rows: usize,
) -> Tensor<Flex, 2> {
    let batch = inputs[0].dims()[0];
    let [rank, _, out] = factors[0].dims();
    let weights = Dense::new(rank_weights);
    let modalities = Modality::all(inputs, factors);
    let work = Work::new(batch, rank, block_rows);
    let partials: Vec<Scratch> = work
        .runs()
        .into_par_iter()
        .map(|tasks| {
            // One pooled buffer per thread: its partial h `[B, O]`, the product and a
            // projection `[c, O]`.
            let block = work.block_rows.min(batch) * out;
            let mut buffer = Scratch::new(batch * out + 2 * block);
            let (h, rest) = buffer.split_at_mut(batch * out);
            // A run over the whole batch writes each block's rows with its first rank; with
            // the batch split, the rows of the other splits must read as zeros.
            if !work.whole_batch() {
                h.fill(0.0);
            }
            let (product, projection) = rest.split_at_mut(block);
            for Unit { rows, ranks, .. } in work.units(tasks) {
                let len = rows.len() * out;
                let (product, projection) = (&mut product[..len], &mut projection[..len]);
                let h_rows = &mut h[rows.start * out..rows.end * out];
                for (i, r) in ranks.enumerate() {
                    for (m, modality) in modalities.iter().enumerate() {
                        let target = if m == 0 { &mut *product } else { &mut *projection };
                        modality.project(r, &rows, out, target);
                        if m > 0 {
                            vectorized(
                                #[inline(always)]
                                || product.iter_mut().zip(&*projection).for_each(|(p, x)| *p *= x),
                            );
                        }
                    }
                    let w = weights.values()[r];
                    if i == 0 && work.whole_batch() {
                        vectorized(
                            #[inline(always)]
                            || h_rows.iter_mut().zip(&*product).for_each(|(h, p)| *h = w * p),
                        );
                    } else {
                        vectorized(
                            #[inline(always)]
                            || h_rows.iter_mut().zip(&*product).for_each(|(h, p)| *h += w * p),
                        );
                    }
                }
            }
            buffer
        })
        .collect();
    let bias = Dense::new(bias);
    let mut h = vec![0.0; batch * out];
    for row in h.chunks_exact_mut(out) {
        row.copy_from_slice(bias.values());
    }
    add_in_order(&mut h, &partials);
    tensor_of(h, [batch, out])
}

/// Backward pass: the gradients of every input of [`forward`] given `∂L/∂h` `[B, O]`, in
/// blocks of rows as in [`forward`].
pub fn backward(
    inputs: &[Tensor<Flex, 2>],
    factors: &[Tensor<Flex, 3>],
    rank_weights: Tensor<Flex, 2>,
    grad: Tensor<Flex, 2>,
    block_rows: usize,
) -> LowRankFusionGrads<Flex> {
    let batch = inputs[0].dims()[0];
    let [rank, _, out] = factors[0].dims();
    let weights = Dense::new(rank_weights);
    let grad = Dense::new(grad);
    let dh = grad.values();
    let modalities = Modality::all(inputs, factors);
    let work = Work::new(batch, rank, block_rows);
    let runs = work.runs();

    // ∂W_m of every task, `[splits, R, w_m, O]` (task `split · R + r` at slab `split · R + r`),
    // handed out to the threads by runs of tasks.
    let mut factor_grads: Vec<Vec<f32>> = modalities
        .iter()
        .map(|m| zeroed_output(work.splits * rank * m.width * out))
        .collect();
    let mut slabs: Vec<Vec<&mut [f32]>> = runs.iter().map(|_| Vec::new()).collect();
    for (modality, grads) in modalities.iter().zip(factor_grads.iter_mut()) {
        let size = modality.width * out;
        for (slab, mine) in slabs
            .iter_mut()
            .zip(split_lengths(grads, runs.iter().map(|run| run.len() * size)))
        {
            slab.push(mine);
        }
    }
    // Each thread's partial ∂ẑ_m, side by side at the start of its buffer.
    let hat_lengths: Vec<usize> = modalities.iter().map(|m| batch * m.width).collect();
    let hats_len: usize = hat_lengths.iter().sum();

    let partials: Vec<(Scratch, Vec<f32>)> = runs
        .into_par_iter()
        .zip(slabs)
        .map(|(tasks, mut slabs)| {
            // One pooled buffer per thread: the partial ∂ẑ_m, the projections `[c, O]` and
            // the rows' originals `[M, O]`.
            let block = work.block_rows.min(batch) * out;
            let mut buffer = Scratch::new(hats_len + modalities.len() * (block + out));
            let mut rank_grads = vec![0.0f32; rank];
            let (hats, rest) = buffer.split_at_mut(hats_len);
            // As in the forward pass: written by each block's first rank over the whole batch.
            if !work.whole_batch() {
                hats.fill(0.0);
            }
            let mut hat_grads = split_lengths(hats, hat_lengths.iter().copied());
            let (projections, kept) = rest.split_at_mut(modalities.len() * block);
            let mut projections: Vec<&mut [f32]> = projections.chunks_exact_mut(block).collect();
            for Unit {
                rows,
                ranks,
                first_task,
                first_block,
            } in work.units(tasks)
            {
                let len = rows.len() * out;
                let dh_rows = &dh[rows.start * out..rows.end * out];
                for (i, (task, r)) in (first_task..).zip(ranks).enumerate() {
                    let mut block: Vec<&mut [f32]> = projections.iter_mut().map(|p| &mut p[..len]).collect();
                    for (modality, projection) in modalities.iter().zip(block.iter_mut()) {
                        modality.project(r, &rows, out, projection);
                    }
                    rank_grads[r] += projection_grads(&mut block, dh_rows, weights.values()[r], kept);
                    for (m, (modality, dp)) in modalities.iter().zip(&block).enumerate() {
                        let dp = Matrix::rows(dp, out);
                        let size = modality.width * out;
                        // The first block writes ∂W_m[r] (a fresh output: writing before
                        // reading spares the copy-on-write faults of its zero pages).
                        gemm_serial(
                            modality.width,
                            out,
                            rows.len(),
                            &mut slabs[m][task * size..(task + 1) * size],
                            !first_block,
                            modality.hat_rows(&rows).transposed(),
                            dp,
                        );
                        let hat_grad =
                            &mut hat_grads[m][rows.start * modality.width..rows.end * modality.width];
                        gemm_serial(
                            rows.len(),
                            modality.width,
                            out,
                            hat_grad,
                            i > 0 || !work.whole_batch(),
                            dp,
                            modality.factor(r, out).transposed(),
                        );
                    }
                }
            }
            (buffer, rank_grads)
        })
        .collect();

    let mut hat_grads = vec![0.0; hats_len];
    let hat_partials: Vec<&[f32]> = partials.iter().map(|(partial, _)| &partial[..]).collect();
    add_in_order(&mut hat_grads, &hat_partials);
    let input_grads = modalities
        .iter()
        .zip(split_lengths(&mut hat_grads, hat_lengths.iter().copied()))
        .map(|(modality, hat_grad)| {
            tensor_of(
                drop_constant(hat_grad, modality.width),
                [batch, modality.width - 1],
            )
        })
        .collect();
    let rank_weights_grad = partials
        .into_iter()
        .map(|(_, rank_grads)| rank_grads)
        .reduce(add_into)
        .unwrap_or_else(|| vec![0.0; rank]);
    let factor_grads = modalities
        .iter()
        .zip(factor_grads)
        .map(|(modality, mut grads)| {
            // Sum the splits' slabs into the first `[R, w, O]`.
            let len = rank * modality.width * out;
            let (total, rest) = grads.split_at_mut(len);
            for split in rest.chunks_exact(len) {
                total.iter_mut().zip(split).for_each(|(t, s)| *t += s);
            }
            grads.truncate(len);
            tensor_of(grads, [rank, modality.width, out])
        })
        .collect();
    LowRankFusionGrads {
        inputs: input_grads,
        factors: factor_grads,
        rank_weights: tensor_of(rank_weights_grad, [1, rank]),
        bias: tensor_of(column_sums(dh, out), [1, out]),
    }
}

/// `total += Σ_p partials[p]` (each partial at least as long as `total`), the partials added in
/// their order for every element, so the sums do not depend on the threads, which take
/// chunks of `total` in parallel.
fn add_in_order<P: std::ops::Deref<Target = [f32]> + Sync>(total: &mut [f32], partials: &[P]) {
    const CHUNK: usize = 1 << 14;
    total.par_chunks_mut(CHUNK).enumerate().for_each(|(i, chunk)| {
        let start = i * CHUNK;
        for partial in partials {
            let part = &partial[start..start + chunk.len()];
            vectorized(
                #[inline(always)]
                || chunk.iter_mut().zip(part).for_each(|(t, p)| *t += p),
            );
        }
    });
}

/// For one rank and a block of rows, turns every projection `P_m` `[c, O]` into
/// `∂P_m[b, o] = ∂h[b, o] · w_r · Π_{n≠m} P_n[b, o]` in place, and returns this block's
/// share of `∂w_r = Σ_{b,o} ∂h[b, o] · Π_m P_m[b, o]`.
///
/// Per row, the products of the projections before `m` are formed going forward and those
/// after `m` coming back (no division, so zeros are exact); `kept` `[M, O]` holds the
/// row's original projections meanwhile.
fn projection_grads(projections: &mut [&mut [f32]], dh: &[f32], w: f32, kept: &mut [f32]) -> f32 {
    let out = kept.len() / projections.len();
    let (mut running, mut sums) = (vec![0.0f32; out], vec![0.0f32; out]);
    vectorized(
        #[inline(always)]
        || {
            for (b, dh_row) in dh.chunks_exact(out).enumerate() {
                let columns = b * out..(b + 1) * out;
                // Forward: P_m <- ∂h · Π_{n<m} P_n, running <- ∂h · Π_{n≤m} P_n.
                running.copy_from_slice(dh_row);
                for (p, kept) in projections.iter_mut().zip(kept.chunks_exact_mut(out)) {
                    let p = &mut p[columns.clone()];
                    kept.copy_from_slice(p);
                    p.copy_from_slice(&running);
                    running.iter_mut().zip(&*kept).for_each(|(x, k)| *x *= k);
                }
                sums.iter_mut().zip(&running).for_each(|(s, x)| *s += x);
                // Backward: P_m <- P_m · w · Π_{n>m} P_n.
                running.fill(w);
                for (p, kept) in projections.iter_mut().zip(kept.chunks_exact(out)).rev() {
                    let p = &mut p[columns.clone()];
                    p.iter_mut().zip(&running).for_each(|(p, x)| *p *= x);
                    running.iter_mut().zip(kept).for_each(|(x, k)| *x *= k);
                }
            }
        },
    );
    sums.iter().sum()
}
