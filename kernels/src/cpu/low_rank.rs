//! Low-rank fusion on flex (f32), a block of rows and one rank at a time.
//!
//! The formulation of [`crate::low_rank`] with its loops turned inside out. Instead of one
//! GEMM per modality giving every rank's projection (`[B, R·O]`, megabytes each, written to
//! memory and read back by every element-wise pass), a thread takes a block of `c` rows
//! (forward) or a run of ranks (backward) and, per block and per rank `r`, computes the `M`
//! projections `P_m = ẑ_m[rows] · W_m[r]` (`[c, d_m + 1] × [d_m + 1, O]`, `W_m[r]` being
//! the factor's own contiguous slice: the factors are never copied) into buffers that stay
//! in the core's cache, and uses them at once:
//!
//! ```text
//! forward:  h[rows] += w_r · Π_m P_m
//! backward: ∂P_m = ∂h · w_r · Π_{n≠m} P_n              (prefix and suffix products)
//!           ∂w_r += Σ_{b,o} ∂h · Π_m P_m
//!           ∂W_m[r] += ẑ_m[rows]ᵀ · ∂P_m                ([d_m + 1, c] × [c, O])
//!           ∂ẑ_m[rows]ᵀ += W_m[r] · ∂P_mᵀ               ([d_m + 1, O] × [O, c])
//! ```
//!
//! Same FLOPs as the GEMM formulation. In a training step the forward pass keeps the
//! projections (`[R, B, O]`, [`forward_keeping`]) in pooled buffers, up to
//! [`KEPT_PROJECTIONS_LIMIT`] bytes ([`keep_projections`]), and the backward pass reads its
//! blocks from them; above the limit it computes them again (half as many FLOPs again in
//! the backward pass), so that no intermediate grows with the rank beyond the limit. The
//! input gradients are accumulated transposed (`∂ẑ_mᵀ`, transposed once at the end): that
//! GEMM's left operand is then row-major. The work is `PARTS` (12) runs of (rows, rank)
//! tasks, or one run per task when there are at most 24 (`Work`), fixed by the sizes
//! alone. A run's only batch-sized intermediate is its partial `h` (forward) or partial
//! `∂ẑ_mᵀ` (backward) over the rows it touches, added up in run order as the runs finish
//! (`merge_in_order`), so about one per thread is alive at a time. The forward pass splits
//! a large batch into runs that own whole rows (no sum over ranks is cut); the backward
//! pass splits the ranks first, and the rows only when there are fewer ranks than 12 (each
//! split then sums its own `∂W_m[r]`, added
//! at the end in split order).

use std::ops::Range;

use burn::backend::Flex;
use burn::tensor::Tensor;

use super::scratch::Scratch;
use super::{
    add_assign, column_sums, gemm_on, gemm_serial, merge_in_order, prepend_one, split_lengths, tensor_of,
    vectorized, Dense, Matrix, PARTS,
};
use crate::low_rank::LowRankFusionGrads;

/// Rows per block: fewer make the factors stream past more often, more push the block's
/// rows out of the L2 cache (at the CMU-MOSI shape, 256 rows of `ẑ`, `∂h`, `∂ẑ` and the
/// three projections are 0.9 MiB).
pub const BLOCK_ROWS: usize = 256;

/// One modality: `ẑ_m` `[B, w]`, the factor `W_m` `[R, w, O]` and `w = d_m + 1`.
struct Modality {
    hat: Scratch,
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
/// is one of `splits` contiguous parts of the batch, cut into [`PARTS`] contiguous runs of
/// tasks (one per task when there are at most twice as many: [`Work::runs`]), each taken by
/// one thread. Both counts follow
/// from the sizes alone. A run's partial sums cover the rows of the splits it touches and
/// are added up in run order ([`merge_in_order`](super::merge_in_order)), so the partition,
/// not the pool, fixes every sum's grouping. A thread walks the rows of its splits a block
/// at a time and, per block, its ranks: the block's rows (`ẑ_m`, `∂h`, the partial `h` or
/// `∂ẑ_m`) stay in cache while the factors stream past.
struct Work {
    batch: usize,
    rank: usize,
    splits: usize,
    block_rows: usize,
}

/// One run's regions of one modality's kept projections, one per task of the run, or none.
type Regions<'a> = Option<Vec<&'a mut [f32]>>;

/// A block of rows and the ranks a thread works on for it.
struct Unit {
    rows: Range<usize>,
    ranks: Range<usize>,
    /// The task of `ranks.start`, counted from the start of the run.
    first_task: usize,
    /// The rows of the split before the block (0: the first block, where the tasks' sums
    /// start).
    offset: usize,
}

/// Fewest rows in a split of the forward pass's batch (one full block): thinner GEMMs cost
/// more than the partial sums that splitting the ranks instead adds.
const MIN_SPLIT_ROWS: usize = BLOCK_ROWS;

impl Work {
    /// The forward pass's partition: the batch in splits of at least [`MIN_SPLIT_ROWS`]
    /// rows, up to [`PARTS`] of them (a large batch then needs no partial sum over ranks:
    /// each run is one split), and at least enough splits for [`PARTS`] tasks.
    fn forward(batch: usize, rank: usize, block_rows: usize) -> Self {
        let splits = (batch / MIN_SPLIT_ROWS)
            .min(PARTS)
            .max(PARTS.div_ceil(rank.max(1)));
        Work::new(batch, rank, splits, block_rows)
    }

    /// The backward pass's partition: the ranks first (each split of the batch costs a copy
    /// of every `∂W_m`), the batch only as much as [`PARTS`] tasks need.
    fn backward(batch: usize, rank: usize, block_rows: usize) -> Self {
        Work::new(batch, rank, PARTS.div_ceil(rank.max(1)), block_rows)
    }

    fn new(batch: usize, rank: usize, splits: usize, block_rows: usize) -> Self {
        Work {
            batch,
            rank,
            splits: splits.clamp(1, batch.max(1)),
            block_rows: block_rows.max(1),
        }
    }

    /// Tasks as [`PARTS`] contiguous runs of nearly equal length, or one run per task when
    /// there are at most twice as many tasks (12 runs of one or two tasks each would load
    /// the threads unevenly: at 1024/1024 → 512 rank 16 batch 256, one task per run made
    /// the forward pass and the step about 5 % faster). A partition that does not depend on
    /// the number of threads.
    fn runs(&self) -> Vec<Range<usize>> {
        let tasks = self.splits * self.rank;
        let count = if tasks <= 2 * PARTS { tasks.max(1) } else { PARTS };
        (0..count)
            .map(|i| i * tasks / count..(i + 1) * tasks / count)
            .collect()
    }

    /// The kept projections (`[R, B, O]` per modality, or none) cut into the regions the
    /// tasks write, `[run][modality][task of the run]`: task `(split, r)` writes the rows of
    /// its split in `P_m[r]`, its block at `offset` rows into the region.
    fn task_regions<'a>(
        &self,
        kept: &'a mut [Option<Scratch>],
        out: usize,
        runs: &[Range<usize>],
    ) -> Vec<Vec<Regions<'a>>> {
        let mut regions: Vec<Vec<_>> = runs.iter().map(|_| Vec::new()).collect();
        for projections in kept {
            let Some(projections) = projections else {
                regions.iter_mut().for_each(|mine| mine.push(None));
                continue;
            };
            let mut tasks: Vec<Option<&mut [f32]>> = (0..self.splits * self.rank).map(|_| None).collect();
            for (r, slab) in projections.chunks_exact_mut(self.batch * out).enumerate() {
                let lengths = (0..self.splits).map(|split| self.split_rows(split).len() * out);
                for (split, region) in split_lengths(slab, lengths).into_iter().enumerate() {
                    tasks[split * self.rank + r] = Some(region);
                }
            }
            let mut tasks = tasks.into_iter().flatten();
            for (run, mine) in runs.iter().zip(regions.iter_mut()) {
                mine.push(Some(tasks.by_ref().take(run.len()).collect()));
            }
        }
        regions
    }

    /// The rows of a split.
    fn split_rows(&self, split: usize) -> Range<usize> {
        split * self.batch / self.splits..(split + 1) * self.batch / self.splits
    }

    /// The splits a run of tasks touches.
    fn splits_of(&self, run: &Range<usize>) -> Range<usize> {
        run.start / self.rank..run.end.div_ceil(self.rank)
    }

    /// The rows of the splits a run touches, which its partial sums cover: the run's first
    /// rank in each split gives each of them a first term.
    fn rows_of(&self, run: &Range<usize>) -> Range<usize> {
        let splits = self.splits_of(run);
        if splits.is_empty() {
            return 0..0;
        }
        self.split_rows(splits.start).start..self.split_rows(splits.end - 1).end
    }

    /// The units of a run of tasks: per split it touches, per block of that split's rows,
    /// the run's ranks in that split.
    fn units(&self, run: Range<usize>) -> impl Iterator<Item = Unit> + '_ {
        self.splits_of(&run).flat_map(move |split| {
            let tasks = run.start.max(split * self.rank)..run.end.min((split + 1) * self.rank);
            let ranks = tasks.start - split * self.rank..tasks.end - split * self.rank;
            let rows = self.split_rows(split);
            let (first, end) = (rows.start, rows.end);
            rows.step_by(self.block_rows).map(move |start| Unit {
                rows: start..(start + self.block_rows).min(end),
                ranks: ranks.clone(),
                first_task: tasks.start - run.start,
                offset: start - first,
            })
        })
    }
}

/// The most memory, in bytes, a training step's forward pass keeps projections in
/// ([`keep_projections`]): 64 MiB. Larger steps compute them again in the backward pass,
/// so that no intermediate grows with the rank beyond it.
pub const KEPT_PROJECTIONS_LIMIT: usize = 64 << 20;

/// Which modalities' projections a training step keeps: every one, unless their `[R, B, O]`
/// add up to more than [`KEPT_PROJECTIONS_LIMIT`] bytes (then none). Kept in pooled buffers,
/// they cost a write and a read of each value, less than computing it again (`2 (d_m + 1)`
/// FLOPs) even at `d_m + 1 = 33` (measured at 32/32/128 rank 32 batch 256: keeping all three
/// made the step 5–15 % faster than keeping none; in fresh buffers, whose page faults cost
/// more than the arithmetic saved, it had made it 10 % slower).
pub fn keep_projections(inputs: &[Tensor<Flex, 2>], factors: &[Tensor<Flex, 3>]) -> Vec<bool> {
    let batch = inputs.first().map_or(0, |z| z.dims()[0]);
    let bytes: usize = factors
        .iter()
        .map(|f| {
            let [rank, _, out] = f.dims();
            rank * batch * out * std::mem::size_of::<f32>()
        })
        .sum();
    vec![bytes <= KEPT_PROJECTIONS_LIMIT; factors.len()]
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
    forward_keeping(inputs, factors, rank_weights, bias, block_rows, &[]).0
}

/// [`forward`], and the projections `P_m = ẑ_m · W_m[r]` it computes on the way,
/// `[R, B, O]`, of each modality `m` where `keep[m]` (`None` for the others and where `keep`
/// is shorter), for [`backward`]. Keeping costs their memory and a write of each, no
/// arithmetic.
pub fn forward_keeping(
    inputs: &[Tensor<Flex, 2>],
    factors: &[Tensor<Flex, 3>],
    rank_weights: Tensor<Flex, 2>,
    bias: Tensor<Flex, 2>,
    block_rows: usize,
    keep: &[bool],
) -> (Tensor<Flex, 2>, Vec<Option<Tensor<Flex, 3>>>) {
    let batch = inputs[0].dims()[0];
    let [rank, _, out] = factors[0].dims();
    let weights = Dense::new(rank_weights);
    let modalities = Modality::all(inputs, factors);
    let work = Work::forward(batch, rank, block_rows);
    let runs = work.runs();
    let bias = Dense::new(bias);
    let mut h = Scratch::new(batch * out);
    for row in h.chunks_exact_mut(out) {
        row.copy_from_slice(bias.values());
    }
    // Every element is written below (each task writes its rows of `P_m[r]`).
    let mut kept: Vec<Option<Scratch>> = (0..modalities.len())
        .map(|m| (keep.get(m) == Some(&true) && batch * out > 0).then(|| Scratch::new(rank * batch * out)))
        .collect();
    let regions = work.task_regions(&mut kept, out, &runs);
    let add_run = |(rows, partial): (Range<usize>, Scratch)| {
        add_assign(&mut h[rows.start * out..rows.end * out], &partial);
    };
    merge_in_order(
        runs.into_iter().zip(regions).collect(),
        |(tasks, mut regions): (Range<usize>, Vec<Regions<'_>>)| {
            // One pooled buffer per run: its partial h over its rows, and a projection
            // `[c, O]` per modality whose projections are not kept.
            let own = work.rows_of(&tasks);
            // (At least 1: an empty batch has no blocks, and `chunks_exact_mut` wants one.)
            let block = (work.block_rows.min(batch) * out).max(1);
            let mut buffer = Scratch::new(own.len() * out + modalities.len() * block);
            let (h, rest) = buffer.split_at_mut(own.len() * out);
            let mut computed: Vec<&mut [f32]> = rest.chunks_exact_mut(block).collect();
            for Unit {
                rows,
                ranks,
                first_task,
                offset,
            } in work.units(tasks)
            {
                let len = rows.len() * out;
                let h_rows = &mut h[(rows.start - own.start) * out..(rows.end - own.start) * out];
                for (i, r) in ranks.enumerate() {
                    // Each P_m into the kept projections or its own buffer.
                    for ((modality, regions), computed) in
                        modalities.iter().zip(&mut regions).zip(&mut computed)
                    {
                        let projection = match regions {
                            Some(tasks) => &mut tasks[first_task + i][offset * out..][..len],
                            None => &mut computed[..len],
                        };
                        modality.project(r, &rows, out, projection);
                    }
                    let projections: Vec<&[f32]> = regions
                        .iter()
                        .zip(&computed)
                        .map(|(regions, computed)| match regions {
                            Some(tasks) => &tasks[first_task + i][offset * out..][..len],
                            None => &computed[..len],
                        })
                        .collect();
                    // The first rank writes the rows, so the buffer needs no zeroing.
                    add_weighted_product(h_rows, &projections, weights.values()[r], i == 0);
                }
            }
            (own, buffer)
        },
        add_run,
    );
    let kept = kept
        .into_iter()
        .map(|values| values.map(|values| values.into_tensor([rank, batch, out])))
        .collect();
    (h.into_tensor([batch, out]), kept)
}

/// `[w, B]` -> `[B, w - 1]`: ∂ẑᵀ to ∂z, dropping the gradient of the constant 1 (row 0).
fn transpose_dropping_constant(hat_grad: &[f32], width: usize, batch: usize) -> Scratch {
    let mut grad = Scratch::new(batch * (width - 1));
    for (b, row) in grad.chunks_exact_mut(width - 1).enumerate() {
        row.iter_mut()
            .zip(1..width)
            .for_each(|(g, i)| *g = hat_grad[i * batch + b]);
    }
    grad
}

/// `h = w · Π_m P_m` where `first`, `h += w · Π_m P_m` otherwise, element-wise over the
/// projections `P_m` (`projections`, each as long as `h`), the product formed in modality
/// order. One pass over `h`, a chunk of every projection at a time.
fn add_weighted_product(h: &mut [f32], projections: &[&[f32]], w: f32, first: bool) {
    const CHUNK: usize = 64;
    vectorized(
        #[inline(always)]
        || {
            let mut product = [0.0f32; CHUNK];
            for (start, h) in (0..).step_by(CHUNK).zip(h.chunks_mut(CHUNK)) {
                let columns = start..start + h.len();
                let product = &mut product[..h.len()];
                product.copy_from_slice(&projections[0][columns.clone()]);
                for p in &projections[1..] {
                    product
                        .iter_mut()
                        .zip(&p[columns.clone()])
                        .for_each(|(x, p)| *x *= p);
                }
                if first {
                    h.iter_mut().zip(&*product).for_each(|(h, p)| *h = w * p);
                } else {
                    h.iter_mut().zip(&*product).for_each(|(h, p)| *h += w * p);
                }
            }
        },
    );
}

/// Backward pass: the gradients of every input of [`forward`] given `∂L/∂h` `[B, O]`, in
/// blocks of rows as in [`forward`]. `kept`: the projections [`forward_keeping`] kept (per
/// modality, or none); the others are computed again.
pub fn backward(
    inputs: &[Tensor<Flex, 2>],
    factors: &[Tensor<Flex, 3>],
    rank_weights: Tensor<Flex, 2>,
    grad: Tensor<Flex, 2>,
    kept: &[Option<Tensor<Flex, 3>>],
    block_rows: usize,
) -> LowRankFusionGrads<Flex> {
    let batch = inputs[0].dims()[0];
    let [rank, _, out] = factors[0].dims();
    let weights = Dense::new(rank_weights);
    let grad = Dense::new(grad);
    let kept: Vec<Option<Dense>> = kept.iter().map(|p| p.clone().map(Dense::new)).collect();
    let dh = grad.values();
    let modalities = Modality::all(inputs, factors);
    let work = Work::backward(batch, rank, block_rows);
    let runs = work.runs();

    // ∂W_m of every task, `[splits, R, w_m, O]` (task `split · R + r` at slab `split · R + r`),
    // handed out to the threads by runs of tasks. Each task's first block writes its slab;
    // an empty batch has no block, and its gradients are zeros.
    let factor_grad = |len| {
        if batch == 0 {
            Scratch::zeroed(len)
        } else {
            Scratch::new(len)
        }
    };
    let mut factor_grads: Vec<Scratch> = modalities
        .iter()
        .map(|m| factor_grad(work.splits * rank * m.width * out))
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
    // The runs' partial ∂ẑ_mᵀ `[w_m, own rows]` and ∂w, added up in run order as the runs
    // finish, into ∂ẑ_mᵀ `[w_m, B]`. Transposed, ∂ẑ_m[rows]ᵀ = W_m[r] · ∂P_mᵀ is a GEMM whose
    // left operand is row-major, about 1.3× faster than ∂P_m · W_m[r]ᵀ at the wide shapes.
    let widths: Vec<usize> = modalities.iter().map(|m| m.width).collect();
    let width_sum: usize = widths.iter().sum();
    let mut hat_grads: Vec<Scratch> = widths.iter().map(|w| Scratch::zeroed(batch * w)).collect();
    let mut rank_weights_grad = vec![0.0; rank];
    let add_run = |(rows, partial, rank_grads): (Range<usize>, Scratch, Vec<f32>)| {
        let own = rows.len();
        let mut parts = partial[..own * width_sum].chunks_exact(own.max(1));
        for total in &mut hat_grads {
            for (total, part) in total.chunks_exact_mut(batch.max(1)).zip(parts.by_ref()) {
                add_assign(&mut total[rows.clone()], part);
            }
        }
        add_assign(&mut rank_weights_grad, &rank_grads);
    };
    merge_in_order(
        runs.into_iter().zip(slabs).collect(),
        |(tasks, mut slabs): (Range<usize>, Vec<&mut [f32]>)| {
            // One pooled buffer per run: the partial ∂ẑ_mᵀ over its rows, and per modality a
            // projection (used where it is not kept) and its gradient `[c, O]`.
            let own = work.rows_of(&tasks);
            // (At least 1: an empty batch has no blocks, and `chunks_exact_mut` wants one.)
            let block = (work.block_rows.min(batch) * out).max(1);
            let hats_len = own.len() * width_sum;
            let mut buffer = Scratch::new(hats_len + 2 * modalities.len() * block);
            let mut rank_grads = vec![0.0f32; rank];
            let (hats, rest) = buffer.split_at_mut(hats_len);
            let mut hat_grads = split_lengths(hats, widths.iter().map(|w| own.len() * w));
            let (computed, grads) = rest.split_at_mut(modalities.len() * block);
            let mut computed: Vec<&mut [f32]> = computed.chunks_exact_mut(block).collect();
            let mut grads: Vec<&mut [f32]> = grads.chunks_exact_mut(block).collect();
            for Unit {
                rows,
                ranks,
                first_task,
                offset,
            } in work.units(tasks)
            {
                let len = rows.len() * out;
                let dh_rows = &dh[rows.start * out..rows.end * out];
                for (i, (task, r)) in (first_task..).zip(ranks).enumerate() {
                    let kept_rows = |m: usize| {
                        kept.get(m)
                            .and_then(Option::as_ref)
                            .map(|p| &p.values()[(r * batch + rows.start) * out..][..len])
                    };
                    for (m, (modality, computed)) in modalities.iter().zip(&mut computed).enumerate() {
                        if kept_rows(m).is_none() {
                            modality.project(r, &rows, out, &mut computed[..len]);
                        }
                    }
                    let projections: Vec<&[f32]> = computed
                        .iter()
                        .enumerate()
                        .map(|(m, computed)| kept_rows(m).unwrap_or(&computed[..len]))
                        .collect();
                    let mut block: Vec<&mut [f32]> = grads.iter_mut().map(|g| &mut g[..len]).collect();
                    rank_grads[r] +=
                        projection_grads(&projections, &mut block, dh_rows, weights.values()[r], out);
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
                            offset > 0,
                            modality.hat_rows(&rows).transposed(),
                            dp,
                        );
                        // ∂ẑ_m[rows]ᵀ, columns `rows - own.start` of the run's `[w_m, own]`,
                        // written by each row's first rank in the run (every row has one).
                        gemm_on(
                            gemm::Parallelism::None,
                            modality.width,
                            rows.len(),
                            out,
                            &mut hat_grads[m][rows.start - own.start..],
                            own.len(),
                            i > 0,
                            modality.factor(r, out),
                            dp.transposed(),
                        );
                    }
                }
            }
            (own, buffer, rank_grads)
        },
        add_run,
    );
    let input_grads = modalities
        .iter()
        .zip(&hat_grads)
        .map(|(modality, hat_grad)| {
            transpose_dropping_constant(hat_grad, modality.width, batch)
                .into_tensor([batch, modality.width - 1])
        })
        .collect();
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
            grads.into_tensor([rank, modality.width, out])
        })
        .collect();
    LowRankFusionGrads {
        inputs: input_grads,
        factors: factor_grads,
        rank_weights: tensor_of(rank_weights_grad, [1, rank]),
        bias: tensor_of(column_sums(dh, out), [1, out]),
    }
}

/// For one rank and a block of rows, writes `∂P_m[b, o] = ∂h[b, o] · w_r · Π_{n≠m} P_n[b, o]`
/// into `grads[m]` for every projection `P_m` (`projections[m]`, `[c, O]` like `∂h`), and
/// returns this block's share of `∂w_r = Σ_{b,o} ∂h[b, o] · Π_m P_m[b, o]`.
///
/// Per row, the products of the projections before `m` are formed going forward and those
/// after `m` coming back (no division, so zeros are exact).
fn projection_grads(projections: &[&[f32]], grads: &mut [&mut [f32]], dh: &[f32], w: f32, out: usize) -> f32 {
    let (mut running, mut sums) = (vec![0.0f32; out], vec![0.0f32; out]);
    vectorized(
        #[inline(always)]
        || {
            for (b, dh_row) in dh.chunks_exact(out).enumerate() {
                let columns = b * out..(b + 1) * out;
                // Forward: ∂P_m <- ∂h · Π_{n<m} P_n, running <- ∂h · Π_{n≤m} P_n.
                running.copy_from_slice(dh_row);
                for (p, grad) in projections.iter().zip(grads.iter_mut()) {
                    grad[columns.clone()].copy_from_slice(&running);
                    running
                        .iter_mut()
                        .zip(&p[columns.clone()])
                        .for_each(|(x, k)| *x *= k);
                }
                sums.iter_mut().zip(&running).for_each(|(s, x)| *s += x);
                // Backward: ∂P_m <- ∂P_m · w · Π_{n>m} P_n.
                running.fill(w);
                for (p, grad) in projections.iter().zip(grads.iter_mut()).rev() {
                    grad[columns.clone()]
                        .iter_mut()
                        .zip(&running)
                        .for_each(|(g, x)| *g *= x);
                    running
                        .iter_mut()
                        .zip(&p[columns.clone()])
                        .for_each(|(x, k)| *x *= k);
                }
            }
        },
    );
    sums.iter().sum()
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::Tensor;

    use super::{keep_projections, Work, KEPT_PROJECTIONS_LIMIT, MIN_SPLIT_ROWS, PARTS};

    /// Every modality's projections are kept while their `[R, B, O]` add up to at most the
    /// limit, none beyond it.
    #[test]
    fn keeps_every_projection_within_the_limit() {
        let device = Default::default();
        let keep = |batch: usize, widths: &[usize], rank: usize, out: usize| {
            let inputs: Vec<Tensor<Flex, 2>> = widths
                .iter()
                .map(|&w| Tensor::zeros([batch, w - 1], &device))
                .collect();
            let factors: Vec<Tensor<Flex, 3>> = widths
                .iter()
                .map(|&w| Tensor::zeros([rank, w, out], &device))
                .collect();
            keep_projections(&inputs, &factors)
        };
        assert_eq!(keep(4, &[33, 2, 1025], 3, 5), [true; 3]);
        // The most rows whose three projections fit in the limit, then one row more.
        let (rank, out) = (16, 1024);
        let rows = KEPT_PROJECTIONS_LIMIT / (3 * rank * out * 4);
        assert_eq!(keep(rows, &[33, 2, 1025], rank, out), [true; 3]);
        assert_eq!(keep(rows + 1, &[33, 2, 1025], rank, out), [false; 3]);
    }

    /// Every run's units cover exactly the rows its partial sums hold, each task is in one
    /// run, and the runs are as many as the parts, or the tasks when there are at most twice
    /// as many.
    #[test]
    fn runs_cover_their_rows_and_every_task_once() {
        for (batch, rank) in [(1, 1), (7, 1), (7, 3), (300, 32), (256, 4), (4096, 32), (5, 40)] {
            for (pass, work) in [
                ("forward", Work::forward(batch, rank, 64)),
                ("backward", Work::backward(batch, rank, 64)),
            ] {
                let case = format!("{pass}, batch {batch}, rank {rank}");
                let runs = work.runs();
                let tasks = work.splits * rank;
                let expected = if tasks <= 2 * PARTS { tasks } else { PARTS };
                assert_eq!(runs.len(), expected, "{case}");
                assert!(runs.windows(2).all(|w| w[0].end == w[1].start), "{case}");
                assert_eq!((runs[0].start, runs[runs.len() - 1].end), (0, tasks), "{case}");
                for run in runs {
                    let own = work.rows_of(&run);
                    let mut covered = vec![0usize; batch];
                    let mut count = 0;
                    for unit in work.units(run.clone()) {
                        assert!(unit.rows.start >= own.start && unit.rows.end <= own.end, "{case}");
                        assert!(unit.rows.len() <= 64, "{case}");
                        unit.rows.for_each(|b| covered[b] += 1);
                        assert!(!unit.ranks.is_empty(), "{case}: a unit without ranks");
                        count += 1;
                    }
                    assert!(count > 0, "{case}: an empty run");
                    assert!(
                        own.clone().all(|b| covered[b] == 1),
                        "{case}: run {run:?} misses rows of {own:?}"
                    );
                }
            }
        }
    }

    /// An empty batch gives an empty output, and its backward pass zero gradients for the
    /// factors, rank weights and bias (not what a pooled buffer held: buffers of the factor
    /// gradients' sizes, filled with NaN, are put in the pool first) and empty input
    /// gradients.
    #[test]
    fn an_empty_batch_has_zero_parameter_gradients() {
        let device = Default::default();
        let (rank, out, widths) = (2, 16, [3, 2]);
        for &w in &widths {
            let mut stale = super::Scratch::new(rank * w * out);
            stale.fill(f32::NAN);
        }
        let inputs: Vec<Tensor<Flex, 2>> = widths
            .iter()
            .map(|&w| Tensor::zeros([0, w - 1], &device))
            .collect();
        let factors: Vec<Tensor<Flex, 3>> = widths
            .iter()
            .map(|&w| Tensor::ones([rank, w, out], &device))
            .collect();
        let grads = super::backward(
            &inputs,
            &factors,
            Tensor::ones([1, rank], &device),
            Tensor::zeros([0, out], &device),
            &[],
            256,
        );
        for (grad, &w) in grads.inputs.iter().zip(&widths) {
            assert_eq!(grad.dims(), [0, w - 1]);
        }
        for (grad, &w) in grads.factors.iter().zip(&widths) {
            assert_eq!(grad.dims(), [rank, w, out]);
            assert!(grad.to_data().to_vec::<f32>().unwrap().iter().all(|&g| g == 0.0));
        }
        assert!(grads
            .rank_weights
            .to_data()
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|&g| g == 0.0));
        assert!(grads
            .bias
            .to_data()
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|&g| g == 0.0));
    }

    /// A batch of at least PARTS splits of the minimum size is cut into runs that own whole
    /// rows, so the forward pass adds no partial sums over ranks.
    #[test]
    fn a_large_forward_batch_runs_one_split_per_run() {
        let work = Work::forward(PARTS * MIN_SPLIT_ROWS + 5, 32, 256);
        assert_eq!(work.splits, PARTS);
        for run in work.runs() {
            assert_eq!(work.splits_of(&run).len(), 1);
            assert_eq!(run.len(), 32);
        }
        // The backward pass splits the ranks instead, the batch not at all.
        assert_eq!(Work::backward(4096, 32, 256).splits, 1);
    }
}
