//! Flex (f32): the GEMM formulations of [`tensor_fusion`](crate::tensor_fusion) and
//! [`low_rank`](crate::low_rank) written directly on the tensors' memory, with the `gemm`
//! crate (its AVX-512 kernels enabled, chosen at run time) for the products, rayon for the
//! threads and `vectorized` element-wise loops. Same arithmetic and same results as the
//! generic formulations; no step goes through a tensor op, so there are no intermediate
//! tensors, copies or per-op dispatch between the GEMMs, and the low-rank path reorders
//! the work into cache-sized blocks (one rank and a block of rows at a time).
//!
//! Tensors of another dtype than f32 take the generic formulations.
//!
//! # Determinism
//!
//! Results are bit-identical for any number of threads and on every run: the work is cut
//! into parts whose number and bounds follow from the problem's sizes alone, whatever the
//! size of the rayon pool; each part sums its share in a fixed order on whichever thread
//! takes it, and the parts' partial sums are added in part order (`fold_parts`,
//! `merge_in_order`). Where a part owns whole output rows (the low-rank forward pass on a
//! batch of 12 × 256 rows or more), no sum over ranks is cut between parts. Neither the
//! pool size nor work stealing decides how a floating-point sum is grouped. (The `gemm`
//! crate's own threads split the output, never the inner dimension, so a parallel GEMM is
//! as deterministic as a serial one.)

mod aggregate;
pub mod low_rank;
mod scratch;
pub mod tensor_fusion;

use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::tensor::{DType, Shape, Tensor, TensorData, TensorPrimitive};

use scratch::Scratch;

/// Frees the buffers this module keeps for reuse between calls (at most 128 MiB; see
/// `scratch.rs`). For memory measurements that should count a call's intermediates, and
/// for programs that want the memory back after their last fused call.
pub fn release_buffers() {
    scratch::release();
}

/// Row-major `f32` contents of a tensor (copied only if it is not contiguous).
struct Dense {
    tensor: FlexTensor,
}

impl Dense {
    fn new<const D: usize>(tensor: Tensor<Flex, D>) -> Self {
        let tensor = tensor.into_primitive().tensor();
        let tensor = match tensor.as_slice::<f32>() {
            Some(_) => tensor,
            None => tensor.to_contiguous(),
        };
        Dense { tensor }
    }

    fn values(&self) -> &[f32] {
        self.tensor.as_slice::<f32>().expect("a contiguous f32 tensor")
    }
}

/// Whether every tensor is f32 (the only dtype this path handles).
pub(crate) fn all_f32<'a, const D: usize>(tensors: impl IntoIterator<Item = &'a Tensor<Flex, D>>) -> bool {
    tensors.into_iter().all(|t| t.dtype() == DType::F32)
}

/// A tensor of `shape` holding `values`.
fn tensor_of<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<Flex, D> {
    let primitive = FlexTensor::from_data(TensorData::new(values, Shape::new(shape)));
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

/// A matrix operand: its memory and its row and column strides (in elements), so that a
/// transposed view is the same memory with the strides swapped.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    values: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// A row-major `[rows, cols]` matrix.
    fn rows(values: &'a [f32], cols: usize) -> Self {
        Matrix {
            values,
            row_stride: cols,
            col_stride: 1,
        }
    }

    fn transposed(self) -> Self {
        Matrix {
            values: self.values,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// How many parts parallel work is cut into, whatever the number of threads: a fixed
/// partition, reduced in a fixed order, gives the same bits on any machine. 12 parts share
/// out evenly over 1, 2, 3, 4, 6 and 12 threads; more parts would cost the low-rank path a
/// batch-sized partial sum each.
pub(crate) const PARTS: usize = 12;

/// `items` cut into at most [`PARTS`] contiguous groups of nearly equal size; each group is
/// folded in order into its own accumulator (`init()`, then `fold`) on whichever thread takes
/// it, and the accumulators are handed to `merge` in group order ([`merge_in_order`]).
fn fold_parts<T: Send, A: Send>(
    items: Vec<T>,
    init: impl Fn() -> A + Sync,
    fold: impl Fn(A, T) -> A + Sync,
    merge: impl FnMut(A) + Send,
) {
    let len = items.len();
    let count = PARTS.min(len).max(1);
    let mut items = items.into_iter();
    let groups: Vec<Vec<T>> = (0..count)
        .map(|i| {
            items
                .by_ref()
                .take((i + 1) * len / count - i * len / count)
                .collect()
        })
        .collect();
    merge_in_order(groups, |group| group.into_iter().fold(init(), &fold), merge);
}

/// Runs `part(item)` for every item on the rayon pool and hands the results to `merge` in
/// the items' order, whichever thread computed
/// them and whenever they finished: a reduction whose grouping is fixed by the items, never
/// by the pool.
///
/// Threads take the items in order; a result that finishes before its predecessors waits
/// in a queue, and whoever finishes the next one in line merges every queued result it
/// unblocks. So results are merged as soon as the order allows (with parts of similar size,
/// about one per thread is alive at a time, where collecting every result before adding
/// them would keep them all), and no thread waits for another's part to finish (only, for
/// the length of a merge, for the lock that `merge` runs under: one thread at a time).
fn merge_in_order<T: Send, R: Send>(
    items: Vec<T>,
    part: impl Fn(T) -> R + Sync,
    merge: impl FnMut(R) + Send,
) {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, PoisonError};

    /// The index of the next result to merge, the results that finished before it, and
    /// the merge.
    struct State<R, M> {
        next: usize,
        queued: BTreeMap<usize, R>,
        merge: M,
    }
    let workers = rayon::current_num_threads().clamp(1, items.len().max(1));
    let taken = Mutex::new(items.into_iter().enumerate());
    let state = Mutex::new(State {
        next: 0,
        queued: BTreeMap::new(),
        merge,
    });
    let worker = || loop {
        let next = taken.lock().unwrap_or_else(PoisonError::into_inner).next();
        let Some((i, item)) = next else {
            return;
        };
        let result = part(item);
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *state;
        state.queued.insert(i, result);
        while let Some(result) = state.queued.remove(&state.next) {
            (state.merge)(result);
            state.next += 1;
        }
    };
    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| worker());
        }
    });
}

/// Below this many multiply-adds a GEMM runs on one thread (as flex's own matmul does).
const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// `out[m × n] (+)= a[m × k] · b[k × n]`, `out` row-major; adds to `out` when `accumulate`.
/// Runs on the rayon pool from [`PARALLEL_THRESHOLD`] multiply-adds.
fn gemm(m: usize, n: usize, k: usize, out: &mut [f32], accumulate: bool, a: Matrix, b: Matrix) {
    let parallelism = if m * n * k >= PARALLEL_THRESHOLD {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    gemm_on(parallelism, m, n, k, out, n, accumulate, a, b);
}

/// `out[m × n] (+)= a[m × k] · b[k × n]` on the calling thread, for work that is already
/// spread over the rayon pool.
fn gemm_serial(m: usize, n: usize, k: usize, out: &mut [f32], accumulate: bool, a: Matrix, b: Matrix) {
    gemm_on(gemm::Parallelism::None, m, n, k, out, n, accumulate, a, b);
}

/// `out[m × n] (+)= a[m × k] · b[k × n]`, the rows of `out` `out_row_stride` apart (`n`, or
/// more for a block of columns of a wider matrix).
#[allow(clippy::too_many_arguments)]
fn gemm_on(
    parallelism: gemm::Parallelism,
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    out_row_stride: usize,
    accumulate: bool,
    a: Matrix,
    b: Matrix,
) {
    assert!(n <= out_row_stride || m <= 1, "gemm: output rows overlap");
    assert!(
        m == 0 || n == 0 || (m - 1) * out_row_stride + n <= out.len(),
        "gemm: output too small"
    );
    assert!(m == 0 || k == 0 || (m - 1) * a.row_stride + (k - 1) * a.col_stride < a.values.len());
    assert!(k == 0 || n == 0 || (k - 1) * b.row_stride + (n - 1) * b.col_stride < b.values.len());
    // SAFETY: the asserts above keep every index the strides reach inside the slices, and
    // `out` is borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_row_stride as isize,
            accumulate,
            a.values.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.values.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A zeroed buffer of `len` floats (an output, or a new pooled buffer), backed by transparent
/// huge pages where the system allows them (see [`huge_pages`]).
fn zeroed_output(len: usize) -> Vec<f32> {
    let values = vec![0.0; len];
    huge_pages(&values);
    values
}

/// Asks Linux to back the 2 MiB-aligned part of `values` with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`; a hint, ignored where THP is off). Large zeroed buffers are
/// fresh pages from the kernel: with 4 KiB pages, faulting in the 72 MB weight gradient of
/// tensor fusion at the CMU-MOSI shape took about a sixth of the backward pass.
/// Call it before the buffer is first written.
fn huge_pages(values: &[f32]) {
    const HUGE_PAGE: usize = 2 << 20;
    #[cfg(target_os = "linux")]
    {
        let start = (values.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
        let end = (values.as_ptr() as usize + std::mem::size_of_val(values)) / HUGE_PAGE * HUGE_PAGE;
        if end > start {
            // SAFETY: `start..end` lies inside `values`' allocation, and MADV_HUGEPAGE
            // changes how the kernel backs those pages, never their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (values, HUGE_PAGE);
}

/// Runs `f` inside a function compiled for the best instruction set the CPU has (AVX-512,
/// AVX2 or neither, detected at run time), so that the element-wise loops of an
/// `#[inline(always)]` closure are vectorised for it: the crate itself is compiled for
/// baseline x86-64 (SSE2), where they run 4 floats wide at most.
fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `[1; z]` for every row of `z` `[rows, d]` (`d ≥ 1`): `[rows, d + 1]`, in a pooled buffer.
fn prepend_one(z: &[f32], d: usize) -> Scratch {
    let mut hat = Scratch::new(z.len() / d * (d + 1));
    for (row, hat) in z.chunks_exact(d).zip(hat.chunks_exact_mut(d + 1)) {
        hat[0] = 1.0;
        hat[1..].copy_from_slice(row);
    }
    hat
}

/// `Σ_b grad[b, :]` for `grad` `[rows, out]`.
fn column_sums(grad: &[f32], out: usize) -> Vec<f32> {
    let mut sums = vec![0.0; out];
    for row in grad.chunks_exact(out) {
        sums.iter_mut().zip(row).for_each(|(s, g)| *s += g);
    }
    sums
}

/// `values` cut into consecutive slices of the given lengths (their sum at most its length).
fn split_lengths(mut values: &mut [f32], lengths: impl Iterator<Item = usize>) -> Vec<&mut [f32]> {
    lengths
        .map(|len| {
            let (head, tail) = std::mem::take(&mut values).split_at_mut(len);
            values = tail;
            head
        })
        .collect()
}

/// `total += part`, element-wise (the reduction of the parts' partial sums), vectorised.
fn add_assign(total: &mut [f32], part: &[f32]) {
    vectorized(
        #[inline(always)]
        || total.iter_mut().zip(part).for_each(|(t, p)| *t += p),
    );
}

#[cfg(test)]
mod tests {
    use super::merge_in_order;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
    }

    /// Parts that finish out of order (the early ones are slowest) are still merged in order.
    #[test]
    fn merge_in_order_merges_in_the_items_order_for_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            let mut merged = Vec::new();
            pool(threads).install(|| {
                merge_in_order(
                    (0..40u64).collect(),
                    |i| {
                        std::thread::sleep(std::time::Duration::from_micros((40 - i) * 50));
                        i * i
                    },
                    |square| merged.push(square),
                );
            });
            let expected: Vec<u64> = (0..40).map(|i| i * i).collect();
            assert_eq!(merged, expected, "{threads} threads");
        }
    }

    /// A panicking part is reported to the caller, and the other threads finish.
    #[test]
    fn merge_in_order_reports_a_panicking_part() {
        for threads in [1, 3] {
            let outcome = std::panic::catch_unwind(|| {
                pool(threads).install(|| {
                    merge_in_order(
                        (0..10).collect(),
                        |i: i32| {
                            assert!(i != 4, "part 4 fails");
                            i
                        },
                        |_| {},
                    );
                });
            });
            assert!(outcome.is_err(), "{threads} threads: the panic was lost");
        }
    }
}
