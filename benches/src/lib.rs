//! The benchmark cases of mosaic's fusion layers, their FLOP counts, and what runs in each
//! timed iteration. `benches/fusion.rs` registers them with criterion; `cargo xtask bench`
//! runs it and writes the report (see `docs/benchmarks.md`).
//!
//! FLOPs are counted from each layer's formula (a multiply-add is 2 FLOPs):
//!
//! | layer | forward FLOPs |
//! |---|---|
//! | tensor fusion, bilinear | `2·B·P·O` (the GEMM with the flattened outer product; building it, `B·P` more, is not counted) |
//! | low-rank fusion | `Σ_m 2·B·(d_m+1)·R·O` (projections) `+ (M−1)·B·R·O` (products) `+ 2·B·R·O` (rank sum) |
//! | element-wise (projected) | `Σ_m 2·B·d_m·k + (M−1)·B·k` |
//! | MLP fusion | `Σ_layers 2·B·in·out` |
//! | bimodal autoencoder (`d_a`, `d_v` → hidden `h` → shared `s`, and back) | `2·B·(2·(d_a + d_v)·h + 4·h·s)` |
//! | concat | 0 (pure data movement: no GFLOP/s) |
//! | cosine loss on `n` pairs of width `d` | `8·n·d` (two row norms, the pairs' dot products, the scaling) |
//! | VSE, VSE++, InfoNCE on `n` pairs of width `d` | `2·n·n·d` (the similarity GEMM; the `O(n²)` element-wise work of the loss is not counted) |
//! | deep CCA on `n` pairs of width `d` | `6·n·d²` (the three covariance GEMMs, in f64 on the host; the `O(d³)` eigendecompositions are not counted) |
//! | GCN layer, `N` nodes, `F → O`, `E` adjacency entries | `2·N·F·O + 2·E·O` |
//! | GraphSAGE-mean layer (root weight) | `4·N·F·O + 2·E·O` |
//! | GraphSAGE-pool layer (pool width `F`, root weight) | `2·N·F·F + E·F + 4·N·F·O` (a max is counted as 1) |
//!
//! A training step (forward + backward, loss `Σ h`) is counted as 3× the forward FLOPs, the
//! usual convention (the backward of a GEMM is two GEMMs of the same size).
//! The matmul reference is the backend's own `[B, K] × [K, N]` on the layer's equivalent
//! GEMM shape (`K = P`, `N = O` for tensor fusion; `K = d_a + d_v`, `N = h` for the
//! autoencoder, whose layers are GEMMs of that size class), so "% of matmul" says how close
//! the layer comes to what the backend's matmul reaches on the same work.

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use mosaic::autoencoder::{Autoencoder, BimodalAutoencoder, BimodalAutoencoderConfig};
use mosaic::coordinated::{
    cosine_loss, cosine_similarities, deep_cca_loss, hinge_ranking_loss, info_nce_loss, Negatives,
};
use mosaic::data::graph::{community_graph, CommunityConfig};
use mosaic::fusion::{
    BilinearConfig, ConcatConfig, ElementwiseConfig, Fusion, LowRankFusion, LowRankFusionConfig,
    MlpFusionConfig, TensorFusion, TensorFusionConfig,
};
use mosaic::graph::{
    adjacency, Adjacency, AggregationBackend, NodeInput, NodeModel, NodeModelConfig, NodeModelKind,
};
use mosaic::{FusionBackend, Result};
use mosaic_kernels::composite;

/// A fusion layer kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// [`mosaic::fusion::Concat`].
    Concat,
    /// [`mosaic::fusion::Elementwise`], sum, projected to the output width.
    Sum,
    /// [`mosaic::fusion::Elementwise`], product, projected to the output width.
    Product,
    /// [`mosaic::fusion::MlpFusion`] with one hidden layer of the output width.
    Mlp,
    /// [`mosaic::fusion::Bilinear`].
    Bilinear,
    /// [`mosaic::fusion::TensorFusion`].
    TensorFusion,
    /// [`mosaic::fusion::LowRankFusion`].
    LowRank,
    /// [`mosaic::autoencoder::BimodalAutoencoder`]: both reconstructions from both inputs.
    BimodalAutoencoder,
    /// A coordination loss on a batch of `B` pairs of embeddings (`dims = [d, d]`).
    Loss(Loss),
    /// A graph layer on a generated community graph of `B` nodes and `R` edges
    /// (`dims = [F]`, output `O`).
    Graph(GraphOp),
}

/// The graph layers of `mosaic::graph`, as benchmark cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphOp {
    /// `mosaic::graph::GcnConv`: `Â X W + b`.
    Gcn,
    /// `mosaic::graph::SageConv` with the mean aggregator and root weight.
    SageMean,
    /// `mosaic::graph::SageConv` with the max-pool aggregator (pool width `F`) and root weight.
    SagePool,
}

impl GraphOp {
    /// Every graph layer.
    pub const ALL: [GraphOp; 3] = [GraphOp::Gcn, GraphOp::SageMean, GraphOp::SagePool];

    fn name(self) -> &'static str {
        match self {
            GraphOp::Gcn => "gcn",
            GraphOp::SageMean => "sage-mean",
            GraphOp::SagePool => "sage-pool",
        }
    }

    fn kind(self) -> NodeModelKind {
        match self {
            GraphOp::Gcn => NodeModelKind::Gcn,
            GraphOp::SageMean => NodeModelKind::SageMean,
            GraphOp::SagePool => NodeModelKind::SagePool,
        }
    }
}

/// The coordination losses of `mosaic::coordinated`, as benchmark cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// [`cosine_loss`].
    Cosine,
    /// [`hinge_ranking_loss`], every negative, margin 0.2.
    Vse,
    /// [`hinge_ranking_loss`], the hardest negative, margin 0.2.
    VsePlusPlus,
    /// [`info_nce_loss`] at temperature 0.07.
    InfoNce,
    /// [`deep_cca_loss`], ridge 1e-3.
    DeepCca,
}

impl Loss {
    /// Every loss.
    pub const ALL: [Loss; 5] = [
        Loss::Cosine,
        Loss::Vse,
        Loss::VsePlusPlus,
        Loss::InfoNce,
        Loss::DeepCca,
    ];

    fn name(self) -> &'static str {
        match self {
            Loss::Cosine => "loss-cosine",
            Loss::Vse => "loss-vse",
            Loss::VsePlusPlus => "loss-vse++",
            Loss::InfoNce => "loss-infonce",
            Loss::DeepCca => "loss-dcca",
        }
    }

    /// The loss of the pairs `(a_i, b_i)`: `[1, 1]`.
    fn apply<B: Backend>(self, a: Tensor<B, 2>, b: Tensor<B, 2>) -> Result<Tensor<B, 2>> {
        let loss = match self {
            Loss::Cosine => cosine_loss(a, b)?,
            Loss::Vse => hinge_ranking_loss(cosine_similarities(a, b)?, 0.2, Negatives::Sum)?,
            Loss::VsePlusPlus => hinge_ranking_loss(cosine_similarities(a, b)?, 0.2, Negatives::Max)?,
            Loss::InfoNce => {
                let scale = Tensor::from_floats([1.0 / 0.07], &a.device());
                info_nce_loss(cosine_similarities(a, b)?, scale)?
            }
            Loss::DeepCca => deep_cca_loss(a, b, 1e-3)?.loss,
        };
        Ok(loss.reshape([1, 1]))
    }
}

impl Layer {
    /// Short name used in benchmark ids and reports.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Concat => "concat",
            Layer::Sum => "sum",
            Layer::Product => "product",
            Layer::Mlp => "mlp",
            Layer::Bilinear => "bilinear",
            Layer::TensorFusion => "tfn",
            Layer::LowRank => "lmf",
            Layer::BimodalAutoencoder => "bimodal-ae",
            Layer::Loss(loss) => loss.name(),
            Layer::Graph(op) => op.name(),
        }
    }
}

/// Which implementation of tensor fusion / low-rank fusion a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// What the layers run: the backend's fused op (`mosaic_kernels::FusionBackend`).
    Fused,
    /// The textbook form, `mosaic_kernels::composite`: explicit outer product, burn's autodiff.
    Composite,
}

impl Path {
    /// `fused` or `composite`, as in reports.
    pub fn name(self) -> &'static str {
        match self {
            Path::Fused => "fused",
            Path::Composite => "composite",
        }
    }
}

/// One benchmarked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The layer.
    pub layer: Layer,
    /// Modality widths `d_m`.
    pub dims: Vec<usize>,
    /// Output width `O` (the autoencoder: its shared width `s`).
    pub d_output: usize,
    /// Rank `R` of low-rank fusion; the hidden width `h` of the autoencoder; the edges of a
    /// graph case.
    pub rank: usize,
    /// Batch size `B`; the nodes of a graph case.
    pub batch: usize,
    /// Fused or composite (only tensor fusion, bilinear and low-rank fusion have both).
    pub path: Path,
}

impl Case {
    /// `layer/d1x d2x…-oO[-rR]`, plus `/composite` on the composite path: the benchmark group.
    pub fn group(&self) -> String {
        let dims: Vec<String> = self.dims.iter().map(usize::to_string).collect();
        let rank = match self.layer {
            Layer::LowRank => format!("-r{}", self.rank),
            Layer::BimodalAutoencoder => format!("-h{}", self.rank),
            Layer::Graph(_) => format!("-e{}", self.rank),
            _ => String::new(),
        };
        let path = match self.path {
            Path::Fused => "",
            Path::Composite => "/composite",
        };
        format!(
            "{}/{}-o{}{rank}{path}",
            self.layer.name(),
            dims.join("x"),
            self.d_output
        )
    }

    fn fused_width(&self) -> usize {
        self.dims.iter().map(|d| d + 1).product()
    }

    /// Forward FLOPs (see the crate documentation).
    pub fn forward_flops(&self) -> f64 {
        let (b, o, r) = (self.batch as f64, self.d_output as f64, self.rank as f64);
        let m = self.dims.len() as f64;
        let sum_d: f64 = self.dims.iter().map(|&d| d as f64).sum();
        match self.layer {
            Layer::Concat => 0.0,
            Layer::Sum | Layer::Product => 2.0 * b * sum_d * o + (m - 1.0) * b * o,
            Layer::Mlp => 2.0 * b * sum_d * o + 2.0 * b * o * o,
            Layer::Bilinear | Layer::TensorFusion => 2.0 * b * self.fused_width() as f64 * o,
            Layer::LowRank => {
                let projections: f64 = self
                    .dims
                    .iter()
                    .map(|&d| 2.0 * b * (d as f64 + 1.0) * r * o)
                    .sum();
                projections + (m - 1.0) * b * r * o + 2.0 * b * r * o
            }
            Layer::BimodalAutoencoder => 2.0 * b * (2.0 * sum_d * r + 4.0 * r * o),
            Layer::Loss(Loss::DeepCca) => 6.0 * b * sum_d / 2.0 * sum_d / 2.0,
            Layer::Loss(Loss::Cosine) => 8.0 * b * sum_d / 2.0,
            Layer::Loss(_) => 2.0 * b * b * sum_d / 2.0,
            Layer::Graph(op) => {
                // Both directions of every edge, and GCN's self loops.
                let entries = 2.0 * r + if op == GraphOp::Gcn { b } else { 0.0 };
                let projection = 2.0 * b * sum_d * o;
                match op {
                    GraphOp::Gcn => projection + 2.0 * entries * o,
                    GraphOp::SageMean => 2.0 * projection + 2.0 * entries * o,
                    GraphOp::SagePool => 2.0 * b * sum_d * sum_d + entries * sum_d + 2.0 * projection,
                }
            }
        }
    }

    /// The equivalent GEMM `[B, K] × [K, N]` as `(B, K, N)`.
    pub fn gemm_shape(&self) -> (usize, usize, usize) {
        let sum_d: usize = self.dims.iter().sum();
        match self.layer {
            Layer::Bilinear | Layer::TensorFusion => (self.batch, self.fused_width(), self.d_output),
            Layer::LowRank => (
                self.batch,
                self.dims.iter().map(|d| d + 1).sum(),
                self.rank * self.d_output,
            ),
            Layer::BimodalAutoencoder => (self.batch, sum_d, self.rank),
            Layer::Loss(Loss::DeepCca) => (self.dims[0], self.batch, self.dims[1]),
            Layer::Loss(_) => (self.batch, self.dims[0], self.batch),
            _ => (self.batch, sum_d, self.d_output),
        }
    }

    /// Builds the layer on `device`; on the composite path, wrapped so that its forward pass
    /// is `mosaic_kernels::composite` on the layer's parameters.
    pub fn build<B: FusionBackend + AggregationBackend>(
        &self,
        device: &B::Device,
    ) -> Result<Box<dyn Fusion<B>>> {
        let (dims, o) = (self.dims.clone(), self.d_output);
        let composite = self.path == Path::Composite;
        Ok(match self.layer {
            Layer::Concat => Box::new(ConcatConfig::new(dims).init()?),
            Layer::Sum => Box::new(
                ElementwiseConfig::sum(dims)
                    .with_projection_dim(Some(o))
                    .init(device)?,
            ),
            Layer::Product => Box::new(
                ElementwiseConfig::product(dims)
                    .with_projection_dim(Some(o))
                    .init(device)?,
            ),
            Layer::Mlp => Box::new(MlpFusionConfig::new(dims, vec![o], o).init(device)?),
            Layer::Bilinear => {
                let layer = BilinearConfig::new(dims[0], dims[1], o).init(device)?;
                match composite {
                    true => Box::new(Composite::TensorFusion(layer.fusion)),
                    false => Box::new(layer),
                }
            }
            Layer::TensorFusion => {
                let layer = TensorFusionConfig::new(dims, o).init(device)?;
                match composite {
                    true => Box::new(Composite::TensorFusion(layer)),
                    false => Box::new(layer),
                }
            }
            Layer::LowRank => {
                let layer = LowRankFusionConfig::new(dims, o, self.rank).init(device)?;
                match composite {
                    true => Box::new(Composite::LowRank(layer)),
                    false => Box::new(layer),
                }
            }
            Layer::Loss(loss) => Box::new(LossCase { loss, dims }),
            Layer::Graph(op) => Box::new(GraphCase::new(op, self.batch, self.rank, dims, o, device)?),
            Layer::BimodalAutoencoder => Box::new(Reconstruction {
                output: dims.iter().sum(),
                model: BimodalAutoencoderConfig::new(dims[0], dims[1])
                    .with_hidden(self.rank)
                    .with_shared(o)
                    .init(device)?,
            }),
        })
    }

    /// Random inputs, one `[B, d_m]` tensor per modality.
    pub fn inputs<B: Backend>(&self, device: &B::Device) -> Vec<Tensor<B, 2>> {
        self.dims
            .iter()
            .map(|&d| Tensor::random([self.batch, d], Distribution::Uniform(-1.0, 1.0), device))
            .collect()
    }
}

/// A tensor-fusion or low-rank-fusion layer whose forward pass is the composite reference.
enum Composite<B: Backend> {
    TensorFusion(TensorFusion<B>),
    LowRank(LowRankFusion<B>),
}

impl<B: FusionBackend> Fusion<B> for Composite<B> {
    fn modality_dims(&self) -> &[usize] {
        match self {
            Composite::TensorFusion(layer) => layer.modality_dims(),
            Composite::LowRank(layer) => layer.modality_dims(),
        }
    }

    fn output_dim(&self) -> usize {
        match self {
            Composite::TensorFusion(layer) => layer.output_dim(),
            Composite::LowRank(layer) => layer.output_dim(),
        }
    }

    fn forward(&self, inputs: &[Tensor<B, 2>]) -> Result<Tensor<B, 2>> {
        Ok(match self {
            Composite::TensorFusion(tfn) => {
                let bias = tfn.bias.as_ref().map(Param::val);
                composite::tensor_fusion(inputs, tfn.effective_weight(), bias)
            }
            Composite::LowRank(lmf) => {
                let factors: Vec<_> = lmf.factors.iter().map(Param::val).collect();
                composite::low_rank_fusion(inputs, &factors, lmf.rank_weights.val(), lmf.bias.val())
            }
        })
    }
}

/// A bimodal autoencoder timed as a layer: both inputs in, both reconstructions out,
/// side by side (`[B, d_a + d_v]`).
struct Reconstruction<B: Backend> {
    model: BimodalAutoencoder<B>,
    output: usize,
}

impl<B: FusionBackend> Fusion<B> for Reconstruction<B> {
    fn modality_dims(&self) -> &[usize] {
        &self.model.widths
    }

    fn output_dim(&self) -> usize {
        self.output
    }

    fn forward(&self, inputs: &[Tensor<B, 2>]) -> Result<Tensor<B, 2>> {
        Ok(Tensor::cat(self.model.reconstruct(inputs)?, 1))
    }
}

/// A coordination loss timed as a layer: both views' embeddings in, the loss out (`[1, 1]`).
struct LossCase {
    loss: Loss,
    dims: Vec<usize>,
}

impl<B: FusionBackend> Fusion<B> for LossCase {
    fn modality_dims(&self) -> &[usize] {
        &self.dims
    }

    fn output_dim(&self) -> usize {
        1
    }

    fn forward(&self, inputs: &[Tensor<B, 2>]) -> Result<Tensor<B, 2>> {
        self.loss.apply(inputs[0].clone(), inputs[1].clone())
    }
}

/// A graph layer timed as a layer: the nodes' features in (`[N, F]`), the layer's output
/// out, over a generated community graph (16 communities, seed 3): a one-layer
/// [`NodeModel`] without dropout.
struct GraphCase<B: AggregationBackend> {
    adjacency: Adjacency<B>,
    model: NodeModel<B>,
    dims: Vec<usize>,
    output: usize,
}

impl<B: AggregationBackend> GraphCase<B> {
    fn new(
        op: GraphOp,
        nodes: usize,
        edges: usize,
        dims: Vec<usize>,
        output: usize,
        device: &B::Device,
    ) -> Result<Self> {
        let graph = community_graph(&CommunityConfig {
            nodes,
            edges,
            features: 1,
            communities: 16,
            seed: 3,
            ..CommunityConfig::default()
        })?;
        let kind = op.kind();
        Ok(GraphCase {
            adjacency: adjacency(&graph, kind.normalization(), device)?,
            model: NodeModelConfig::new(kind, dims[0], output)
                .with_hidden(vec![])
                .with_dropout(0.0)
                .init(device)?,
            dims,
            output,
        })
    }
}

impl<B: AggregationBackend> Fusion<B> for GraphCase<B> {
    fn modality_dims(&self) -> &[usize] {
        &self.dims
    }

    fn output_dim(&self) -> usize {
        self.output
    }

    fn forward(&self, inputs: &[Tensor<B, 2>]) -> Result<Tensor<B, 2>> {
        self.model
            .forward(&self.adjacency, NodeInput::Dense(inputs[0].clone()), None)
    }
}

/// The benchmark plan. Shapes: CMU-MOSI-like (32/32/128 and 4/16/128, out 128, LMF rank 32),
/// a bilinear shape (256/256, out 128), a wide low-rank shape (1024/1024, out 512, rank 16),
/// a batch sweep of tensor and low-rank fusion at 32/32/128 (1 to 4096), and the bimodal
/// autoencoder of the AV-digits experiment (384/64 → 128 → 64, batch 256), and the
/// coordination losses on embeddings of width 128 at batches (similarity matrices) of 256,
/// 1024 and 4096. `quick` runs the same shapes at smaller batches (sweep 1 to 16, losses 256
/// and 1024) so that a software GPU finishes too. The graph layers (64 → 64) run on a
/// generated graph of 10^5 nodes and 10^6 edges (quick: 10^4 and 10^5).
pub fn plan(quick: bool) -> Vec<Case> {
    let case = |layer, dims: &[usize], d_output, rank, batch| Case {
        layer,
        dims: dims.to_vec(),
        d_output,
        rank,
        batch,
        path: Path::Fused,
    };
    let mosi = [32, 32, 128];
    // `quick` keeps every shape but at batch sizes a software GPU (lavapipe) gets through.
    let (batch, small, wide, batches): (usize, usize, usize, &[usize]) = if quick {
        (256, 64, 16, &[1, 4, 16])
    } else {
        (256, 256, 256, &[1, 4, 16, 64, 256, 1024, 4096])
    };
    let mut cases = Vec::new();
    for dims in [&mosi[..], &[4, 16, 128]] {
        for layer in [Layer::Concat, Layer::Sum, Layer::Product, Layer::Mlp] {
            cases.push(case(layer, dims, 128, 0, batch));
        }
    }
    cases.push(case(Layer::TensorFusion, &[4, 16, 128], 128, 0, small));
    cases.push(case(Layer::LowRank, &[4, 16, 128], 128, 32, small));
    cases.push(case(
        Layer::Bilinear,
        &[256, 256],
        128,
        0,
        if quick { 8 } else { 256 },
    ));
    cases.push(case(Layer::LowRank, &[1024, 1024], 512, 16, wide));
    for &batch in batches {
        cases.push(case(Layer::TensorFusion, &mosi, 128, 0, batch));
        cases.push(case(Layer::LowRank, &mosi, 128, 32, batch));
    }
    cases.push(case(Layer::BimodalAutoencoder, &[384, 64], 64, 128, 256));
    let loss_batches: &[usize] = if quick { &[256, 1024] } else { &[256, 1024, 4096] };
    for loss in Loss::ALL {
        for &batch in loss_batches {
            cases.push(case(Layer::Loss(loss), &[128, 128], 1, 0, batch));
        }
    }
    let (nodes, edges) = if quick {
        (10_000, 100_000)
    } else {
        (100_000, 1_000_000)
    };
    for op in GraphOp::ALL {
        cases.push(case(Layer::Graph(op), &[64], 64, edges, nodes));
    }
    // Every tensor-fusion, bilinear and low-rank case also on the composite path.
    let composite: Vec<Case> = cases
        .iter()
        .filter(|c| matches!(c.layer, Layer::TensorFusion | Layer::Bilinear | Layer::LowRank))
        .map(|c| Case {
            path: Path::Composite,
            ..c.clone()
        })
        .collect();
    cases.extend(composite);
    cases
}

/// The process's peak resident memory since the last [`reset_peak_memory`], in bytes
/// (Linux; `None` elsewhere).
pub fn peak_memory() -> Option<u64> {
    proc_status_bytes("VmHWM:")
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak that [`peak_memory`] reports to the current resident size (Linux ≥ 4.0),
/// after freeing the buffers flex's fused ops keep for reuse, so that a step's peak counts
/// the intermediates it allocates.
pub fn reset_peak_memory() {
    #[cfg(feature = "flex")]
    mosaic_kernels::release_buffers();
    // Writing 5 to clear_refs resets VmHWM; without permission the peak keeps growing.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Current resident memory in bytes (Linux; `None` elsewhere).
pub fn resident_memory() -> Option<u64> {
    proc_status_bytes("VmRSS:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_fusion_flops_match_the_gemm() {
        let case = Case {
            layer: Layer::TensorFusion,
            dims: vec![32, 32, 128],
            d_output: 128,
            rank: 0,
            batch: 256,
            path: Path::Fused,
        };
        let (b, k, n) = case.gemm_shape();
        assert_eq!((b, k, n), (256, 33 * 33 * 129, 128));
        assert_eq!(case.forward_flops(), 2.0 * (b * k * n) as f64);
    }

    #[test]
    fn autoencoder_flops_count_its_six_gemms() {
        let case = Case {
            layer: Layer::BimodalAutoencoder,
            dims: vec![384, 64],
            d_output: 64,
            rank: 128,
            batch: 2,
            path: Path::Fused,
        };
        // Encoders 384·128 + 64·128, shared 256·64, decoders 2·64·128, outputs 128·384 + 128·64.
        let macs = 384 * 128 + 64 * 128 + 256 * 64 + 2 * 64 * 128 + 128 * 384 + 128 * 64;
        assert_eq!(case.forward_flops(), 2.0 * 2.0 * f64::from(macs));
        assert_eq!(case.group(), "bimodal-ae/384x64-o64-h128");
    }

    #[test]
    fn loss_flops_count_the_similarity_and_covariance_gemms() {
        let case = |loss| Case {
            layer: Layer::Loss(loss),
            dims: vec![128, 128],
            d_output: 1,
            rank: 0,
            batch: 1024,
            path: Path::Fused,
        };
        let infonce = case(Loss::InfoNce);
        assert_eq!(infonce.gemm_shape(), (1024, 128, 1024));
        assert_eq!(infonce.forward_flops(), 2.0 * 1024.0 * 1024.0 * 128.0);
        assert_eq!(infonce.group(), "loss-infonce/128x128-o1");
        let dcca = case(Loss::DeepCca);
        assert_eq!(dcca.gemm_shape(), (128, 1024, 128));
        assert_eq!(dcca.forward_flops(), 3.0 * 2.0 * 1024.0 * 128.0 * 128.0);
    }

    #[test]
    fn group_names_are_unique_per_batch() {
        let plan = plan(false);
        let mut ids: Vec<(String, usize)> = plan.iter().map(|c| (c.group(), c.batch)).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before);
    }
}
