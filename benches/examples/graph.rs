//! Times the sparse aggregation and a GCN layer on a generated community graph (flex, f32):
//! `Â X` forward, its backward `Âᵀ G`, max aggregation forward and backward, and a training
//! step of a 64 → 64 `GcnConv` (forward, loss, backward), each the median of `REPEATS` runs
//! after one warm-up, with the step's peak memory above the resident size before it; then a
//! neighbour-sampled GraphSAGE epoch: a two-layer GraphSAGE-mean (64 → 64 → 16 classes, the
//! communities) over `--batches` mini-batches of 1024 training nodes with fan-outs 25 and 10,
//! each step sampling its blocks, building their adjacencies, gathering their features,
//! forward, cross-entropy, backward and an Adam step; the time spent sampling is reported
//! apart.
//!
//! ```text
//! cargo run --release -p mosaic-benches --features flex --example graph -- 100000 1000000
//! cargo run --release -p mosaic-benches --features flex --example graph -- 1000000 10000000 --write /tmp/g.bin
//! ```
//!
//! Arguments: NODES EDGES [--features F (64)] [--repeats R (5)] [--batches B (10)] [--write PATH].
//! With `--write`, the epoch's sampled blocks go to `PATH.blocks` (`u32` little-endian: the
//! number of batches; per batch, per block outermost first: targets, sources `m`, edges `e`,
//! the sources' node ids `[m]`, the edges' targets `[e]` and sources `[e]` (local indices);
//! then the batch's labels), so that `scripts/bench_pyg.py --blocks` runs PyTorch
//! Geometric's `SAGEConv` on the very same blocks. `--write`
//! saves the graph (`u32` N, E, F, then the edges as `u32` pairs, then the features as
//! `f32`, little-endian) for `scripts/bench_pyg.py` to time PyTorch Geometric on the same one.
//! Prints one JSON object of seconds and bytes.

use burn::backend::{Autodiff, Flex};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Distribution, Tensor};
use burn::tensor::{Int, TensorData};
use mosaic::data::graph::{
    community_graph, sample_blocks, Block, CommunityConfig, Graph, NeighbourLists, Normalization,
};
use mosaic::graph::{
    adjacency, block_adjacency, node_features, Adjacency, AggregationBackend, GcnConvConfig, NodeInput,
    NodeModel, NodeModelConfig, NodeModelKind, Reduce,
};
use mosaic::rng::SplitMix64;
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
    let batches: usize = option("--batches").map_or(Ok(10), |v| v.parse())?;

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
    // The whole graph's features, resident before the epoch (as PyTorch Geometric's `x`).
    let inputs = node_features::<T>(&graph, &device)?;
    if let Some(path) = option("--write") {
        let mut blocks = std::io::BufWriter::new(std::fs::File::create(format!("{path}.blocks"))?);
        sampled_epoch(&graph, &inputs, batches, Some(&mut blocks))?;
    }
    let epoch_peak = peak_of(|| drop(sampled_epoch(&graph, &inputs, batches, None)));
    let mut sampling = Vec::new();
    let epoch = median(repeats.min(3), || {
        sampling.push(sampled_epoch(&graph, &inputs, batches, None).expect("a valid sampled epoch"));
    });
    sampling.sort_by(f64::total_cmp);
    let sampling_share = sampling[sampling.len() / 2];
    println!(
        "{{\"nodes\": {nodes}, \"edges\": {edges}, \"entries\": {}, \"features\": {features}, \"threads\": {}, \
         \"build_s\": {build:.4}, \"sum_forward_s\": {sum_forward:.5}, \"sum_backward_s\": {sum_backward:.5}, \
         \"max_forward_s\": {max_forward:.5}, \"max_backward_s\": {max_backward:.5}, \"gcn_step_s\": {gcn_step:.5}, \
         \"gcn_step_peak_bytes\": {gcn_peak}, \"sum_forward_peak_bytes\": {sum_peak}, \"sampled_batches\": {batches}, \
         \"sampled_epoch_s\": {epoch:.4}, \"sampled_epoch_sampling_s\": {sampling_share:.4}, \"sampled_epoch_peak_bytes\": {epoch_peak}}}",
        a.csr().entries(),
        rayon_threads(),
    );
    Ok(())
}

/// One epoch of neighbour-sampled GraphSAGE over `batches` batches of 1024 nodes (the first
/// nodes of a seeded shuffle), each block's inputs gathered from `features`; with
/// `blocks_out`, the blocks are only sampled and written there. Returns the seconds spent
/// sampling.
fn sampled_epoch(
    graph: &Graph,
    features: &NodeInput<Autodiff<Flex>>,
    batches: usize,
    mut blocks_out: Option<&mut dyn Write>,
) -> Result<f64, Box<dyn std::error::Error>> {
    type T = Autodiff<Flex>;
    let device = Default::default();
    let lists = NeighbourLists::new(graph);
    let mut order: Vec<u32> = (0..graph.nodes() as u32).collect();
    SplitMix64::new(1).shuffle(&mut order);
    let config = NodeModelConfig::new(NodeModelKind::SageMean, graph.feature_width(), graph.classes())
        .with_hidden(vec![64])
        .with_dropout(0.0);
    let mut model = config.init::<T>(&device)?;
    let mut optimizer = AdamConfig::new().init::<T, NodeModel<T>>();
    let mut sampling = 0.0;
    let chunks: Vec<&[u32]> = order.chunks(1024).take(batches).collect();
    if let Some(out) = blocks_out.as_mut() {
        out.write_all(&(chunks.len() as u32).to_le_bytes())?;
    }
    for (b, batch) in chunks.into_iter().enumerate() {
        let start = Instant::now();
        let blocks = sample_blocks(&lists, batch, &[25, 10], b as u64)?;
        sampling += start.elapsed().as_secs_f64();
        if let Some(out) = blocks_out.as_mut() {
            write_blocks(&mut **out, &blocks, batch, graph)?;
            continue;
        }
        let adjacencies = blocks
            .iter()
            .map(|block| block_adjacency::<T>(block, Normalization::Mean, &device))
            .collect::<Result<Vec<_>, _>>()?;
        let x = features.rows(&blocks[0].nodes, &device)?;
        let logits = model.forward_blocks(&adjacencies, x, None)?;
        let targets: Vec<i64> = batch
            .iter()
            .map(|&v| graph.labels()[v as usize].map_or(0, i64::from))
            .collect();
        let targets =
            Tensor::<T, 1, Int>::from_data(TensorData::new(targets, [batch.len()]), &device).unsqueeze_dim(1);
        let loss = -log_softmax(logits, 1).gather(1, targets).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(0.01, model, grads);
    }
    Ok(sampling)
}

/// One batch's blocks and labels in the `.blocks` format.
fn write_blocks(out: &mut dyn Write, blocks: &[Block], batch: &[u32], graph: &Graph) -> std::io::Result<()> {
    let mut values = Vec::new();
    for block in blocks {
        values.extend([
            block.targets as u32,
            block.nodes.len() as u32,
            block.edge_targets.len() as u32,
        ]);
        values.extend(&block.nodes);
        values.extend(&block.edge_targets);
        values.extend(&block.edge_sources);
    }
    values.extend(batch.iter().map(|&v| graph.labels()[v as usize].unwrap_or(0)));
    values.iter().try_for_each(|v| out.write_all(&v.to_le_bytes()))
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX),
    )
}
