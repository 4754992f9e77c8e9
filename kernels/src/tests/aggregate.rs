//! Sparse aggregation: each backend's op against the composite reference (forward, and the
//! gradient of `x` through the op's own backward pass), on matrices with rows without
//! entries, self loops, duplicate entries, a row of very high degree and a column every row
//! uses; square (a graph) and rectangular (a sampled block); widths that are and are not
//! multiples of the GPU kernel's vectors.

use burn::tensor::{backend::AutodiffBackend, Tensor};
use mosaic_data::rng::SplitMix64;

use super::{Outcome, Tracked};
use crate::aggregate::{composite, Adjacency, AggregationBackend, Csr, Reduce};
use crate::testing::tensor;

/// A random `[rows, cols]` matrix: rows `4, 9, 14, …` without entries, 1 to 4 random entries
/// in the others, the last one repeated in every third row, self loops `(i, i)` in even
/// rows, row 1 receiving from every column twice over, and column 0 sending to every row
/// that has entries.
pub(super) fn random_csr(seed: u64, rows: usize, cols: usize, weighted: bool) -> Csr {
    let mut rng = SplitMix64::new(seed);
    let (mut targets, mut sources) = (Vec::new(), Vec::new());
    let mut add = |t: usize, s: usize| {
        targets.push(t as u32);
        sources.push(s as u32);
    };
    for i in 0..rows {
        if i % 5 == 4 {
            continue;
        }
        let mut last = 0;
        for _ in 0..1 + rng.next_u64() % 4 {
            last = (rng.next_u64() % cols as u64) as usize;
            add(i, last);
        }
        if i % 3 == 0 {
            add(i, last);
        }
        if i % 2 == 0 && i < cols {
            add(i, i);
        }
        add(i, 0);
    }
    if rows > 1 {
        for s in (0..cols).chain(0..cols) {
            add(1, s);
        }
    }
    let weight: Option<Vec<f32>> = weighted.then(|| targets.iter().map(|_| rng.signed_unit()).collect());
    Csr::from_entries(rows, cols, &targets, &sources, weight.as_deref()).unwrap()
}

/// The output and `x`'s gradient under the test loss, for `aggregate(x)`.
fn outcome<B: AutodiffBackend>(
    x: &Tensor<B, 2>,
    aggregate: impl Fn(Tensor<B, 2>) -> Tensor<B, 2>,
) -> Outcome {
    let x = x.clone().require_grad();
    let output = aggregate(x.clone());
    Outcome::new(output, Tracked::new().with("x", &x))
}

/// Every backend: sum (weighted and not) and max against the composite, square and
/// rectangular, on feature widths 1, 3, 8 and 70.
pub(super) fn fused_vs_composite<B>(device: &B::Device)
where
    B: AutodiffBackend + AggregationBackend,
{
    let shapes = [(1, 1), (7, 7), (40, 40), (30, 300), (300, 17)];
    for (s, &(rows, cols)) in shapes.iter().enumerate() {
        for weighted in [false, true] {
            let csr = random_csr(100 + s as u64, rows, cols, weighted);
            let adjacency = Adjacency::<B>::new(csr.clone(), device);
            for features in [1, 3, 8, 70] {
                let x = tensor::<B, 2>(7 + s as u64, [cols, features], device);
                for reduce in [Reduce::Sum, Reduce::Max] {
                    let case = format!("{rows} x {cols}, weighted {weighted}, F {features}, {reduce:?}");
                    let fused = outcome(&x, |x| B::aggregate(&adjacency, x, reduce));
                    let reference = outcome(&x, |x| composite::aggregate(&csr, x, reduce));
                    fused.assert_close(&case, &reference, 1e-5);
                }
            }
        }
    }
}

crate::backend_tests!(aggregate_matches_composite, fused_vs_composite);

/// Aggregating through the transposed adjacency is aggregating with the transposed matrix.
fn transpose_is_the_transposed_matrix<B>(device: &B::Device)
where
    B: AutodiffBackend + AggregationBackend,
{
    let csr = random_csr(3, 20, 11, true);
    let (transposed, _) = csr.transpose();
    let adjacency = Adjacency::<B>::new(csr, device).transpose();
    let x = tensor::<B, 2>(4, [20, 5], device);
    let fused = outcome(&x, |x| B::aggregate(&adjacency, x, Reduce::Sum));
    let reference = outcome(&x, |x| composite::aggregate(&transposed, x, Reduce::Sum));
    fused.assert_close("Aᵀ x", &reference, 1e-5);
}

crate::backend_tests!(transposed_adjacency, transpose_is_the_transposed_matrix);

/// The host path's backward passes (`Aᵀ` sums and the argmax scatter) against central finite
/// differences of `L = Σ c ⊙ aggregate(x)` in f64, on a rectangular matrix with every kind of
/// row. Max is differentiated away from ties: the random values are distinct.
#[test]
fn host_gradients_match_finite_differences() {
    use crate::aggregate::host;
    let (rows, cols, features) = (25, 12, 3);
    let csr = random_csr(9, rows, cols, true);
    let (forward, backward) = crate::aggregate::sides(csr.clone());
    let x: Vec<f64> = crate::testing::values(1, cols * features)
        .into_iter()
        .map(f64::from)
        .collect();
    let c: Vec<f64> = crate::testing::values(2, rows * features)
        .into_iter()
        .map(f64::from)
        .collect();
    let loss = |x: &[f64], reduce: Reduce| {
        let mut out = vec![0.0; rows * features];
        match reduce {
            Reduce::Sum => host::sum(&csr, x, features, &mut out),
            Reduce::Max => host::max(&csr, x, features, &mut out),
        }
        out.iter().zip(&c).map(|(o, c)| o * c).sum::<f64>()
    };
    for reduce in [Reduce::Sum, Reduce::Max] {
        let mut analytic = vec![0.0; cols * features];
        match reduce {
            Reduce::Sum => host::sum(backward.csr(), &c, features, &mut analytic),
            Reduce::Max => host::max_backward(&forward, &backward, &x, &c, features, &mut analytic),
        }
        let h = 1e-6;
        for j in 0..x.len() {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[j] += h;
            down[j] -= h;
            let numeric = (loss(&up, reduce) - loss(&down, reduce)) / (2.0 * h);
            assert!(
                (numeric - analytic[j]).abs() < 1e-6,
                "{reduce:?}: ∂L/∂x[{j}] = {}, finite differences {numeric}",
                analytic[j]
            );
        }
    }
}

/// Flex's aggregation gives the same bits with 1, 2 and 3 threads, forward and backward, on
/// a graph of many blocks of rows.
#[cfg(feature = "flex")]
#[test]
fn flex_aggregation_is_bit_identical_for_any_thread_count() {
    use burn::backend::{Autodiff, Flex};
    type B = Autodiff<Flex>;
    let device = Default::default();
    let csr = random_csr(11, 3000, 3000, true);
    let adjacency = Adjacency::<B>::new(csr, &device);
    let x = tensor::<B, 2>(12, [3000, 16], &device);
    let run = |threads: usize| -> Vec<u64> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            [Reduce::Sum, Reduce::Max]
                .into_iter()
                .flat_map(|reduce| outcome(&x, |x| B::aggregate(&adjacency, x, reduce)).0)
                .flat_map(|(_, values)| values.into_iter().map(f64::to_bits))
                .collect()
        })
    };
    let one = run(1);
    for threads in [2, 3] {
        assert!(one == run(threads), "1 and {threads} threads differ");
    }
}
