//! Times the sparse aggregation and a GCN layer on a generated community graph (flex, f32):
//! `Â X` forward, its backward `Âᵀ G`, max aggregation forward and backward, and a training
//! step of a 64 → 64 `GcnConv` (forward, loss, backward), each the median of `REPEATS` runs
//! after one warm-up, with the step's peak memory above the resident size before it.
//!
//! ```text
//! cargo run --release -p mosaic-benches --features flex --example graph -- 100000 1000000
//! cargo run --release -p mosaic-benches --features flex --example graph -- 1000000 10000000 --write /tmp/g.bin
//! ```
//!
//! Arguments: NODES EDGES [--features F (64)] [--repeats R (5)] [--write PATH]. `--write`
//! saves the graph (`u32` N, E, F, then the edges as `u32` pairs, then the features as
//! `f32`, little-endian) for `scripts/bench_pyg.py` to time PyTorch Geometric on the same one.
//! Prints one JSON object of seconds and bytes.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor};
use mosaic::data::graph::{community_graph, CommunityConfig, Normalization};
use mosaic::graph::{adjacency, Adjacency, AggregationBackend, GcnConvConfig, Reduce};
use mosaic_benches::{peak_memory, reset_peak_memory, resident_memory};
use std::io::Write;
use std::time::Instant;

/// The median of `repeats` timings of `f`, after one warm-up.
fn median(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut seconds: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    seconds[repeats / 2]
}

/// Runs `f` once and returns the peak resident memory it added, in bytes.
fn peak_of(f: impl FnOnce()) -> u64 {
    reset_peak_memory();
    let before = resident_memory().unwrap_or(0);
    f();
    peak_memory().unwrap_or(0).saturating_sub(before)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args
            .get(i)
            .ok_or("expected NODES EDGES [--features F] [--repeats R] [--write PATH]")?
            .parse()?)
    };
    let (nodes, edges) = (number(0)?, number(1)?);
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let features: usize = option("--features").map_or(Ok(64), |v| v.parse())?;
    let repeats: usize = option("--repeats").map_or(Ok(5), |v| v.parse())?;

    let config = CommunityConfig {
        nodes,
        edges,
        features,
        communities: 16,
        seed: 3,
        ..CommunityConfig::default()
    };
    let start = Instant::now();
    let graph = community_graph(&config)?;
    eprintln!(
        "generated {nodes} nodes, {edges} edges in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = option("--write") {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for v in [nodes, edges, features] {
            file.write_all(&(v as u32).to_le_bytes())?;
        }
        for pair in graph.edges() {
            file.write_all(&pair[0].to_le_bytes())?;
            file.write_all(&pair[1].to_le_bytes())?;
        }
        for v in graph.features() {
            file.write_all(&v.to_le_bytes())?;
        }
    }

    type B = Flex;
    let device = Default::default();
    let start = Instant::now();
    let a: Adjacency<B> = adjacency(&graph, Normalization::Gcn, &device)?;
    let plain: Adjacency<B> = adjacency(&graph, Normalization::None, &device)?;
    let build = start.elapsed().as_secs_f64();
    let x = Tensor::<B, 2>::random([nodes, features], Distribution::Default, &device);
    let grad = Tensor::<B, 2>::random([nodes, features], Distribution::Default, &device);
    let transposed = a.transpose();
    let sum_forward = median(repeats, || drop(B::aggregate(&a, x.clone(), Reduce::Sum)));
    let sum_backward = median(repeats, || {
        drop(B::aggregate(&transposed, grad.clone(), Reduce::Sum))
    });
    let max_forward = median(repeats, || drop(B::aggregate(&plain, x.clone(), Reduce::Max)));
    let max_backward = median(repeats, || {
        drop(B::aggregate_max_backward(&plain, x.clone(), grad.clone()))
    });

    type T = Autodiff<Flex>;
    let a_train: Adjacency<T> = adjacency(&graph, Normalization::Gcn, &device)?;
    let conv = GcnConvConfig::new(features, features).init::<T>(&device)?;
    let x_train = Tensor::<T, 2>::from_inner(x.clone());
    let step = || {
        let h = conv.forward(&a_train, x_train.clone()).expect("valid shapes");
        drop(h.sum().backward());
    };
    let gcn_step = median(repeats, step);
    let gcn_peak = peak_of(step);
    let sum_peak = peak_of(|| drop(B::aggregate(&a, x.clone(), Reduce::Sum)));
    println!(
        "{{\"nodes\": {nodes}, \"edges\": {edges}, \"entries\": {}, \"features\": {features}, \"threads\": {}, \
         \"build_s\": {build:.4}, \"sum_forward_s\": {sum_forward:.5}, \"sum_backward_s\": {sum_backward:.5}, \
         \"max_forward_s\": {max_forward:.5}, \"max_backward_s\": {max_backward:.5}, \"gcn_step_s\": {gcn_step:.5}, \
         \"gcn_step_peak_bytes\": {gcn_peak}, \"sum_forward_peak_bytes\": {sum_peak}}}",
        a.csr().entries(),
        rayon_threads(),
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX),
    )
}
