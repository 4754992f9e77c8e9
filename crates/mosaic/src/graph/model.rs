//! Node classifiers: stacks of graph convolutions (or dense layers, the no-graph baseline)
//! with ReLU between layers and dropout before each.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};
use mosaic_data::graph::Normalization;
use mosaic_kernels::{Adjacency, AggregationBackend};

use super::conv::{GcnConv, GcnConvConfig, SageAggregator, SageConv, SageConvConfig};
use super::input::NodeInput;
use crate::validate::{check_dropout, check_input, Dim};

/// Which layers a [`NodeModel`] stacks.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum NodeModelKind {
    /// [`GcnConv`] layers (Kipf & Welling 2017).
    Gcn,
    /// [`SageConv`] layers with the mean aggregator.
    SageMean,
    /// [`SageConv`] layers with the max-pool aggregator.
    SagePool,
    /// Dense layers on each node's own features: the no-graph baseline.
    Mlp,
}

impl NodeModelKind {
    /// The adjacency the model's layers read (`Mlp` reads none; it is given `A` and ignores it).
    pub fn normalization(self) -> Normalization {
        match self {
            NodeModelKind::Gcn => Normalization::Gcn,
            NodeModelKind::SageMean => Normalization::Mean,
            NodeModelKind::SagePool | NodeModelKind::Mlp => Normalization::None,
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            NodeModelKind::Gcn => "GCN",
            NodeModelKind::SageMean => "GraphSAGE-mean",
            NodeModelKind::SagePool => "GraphSAGE-pool",
            NodeModelKind::Mlp => "MLP",
        }
    }
}

/// Configuration of [`NodeModel`].
#[derive(Config, Debug)]
pub struct NodeModelConfig {
    /// The layers' kind.
    pub kind: NodeModelKind,
    /// Input width (node features).
    pub d_input: usize,
    /// Output width (classes, or the embedding width).
    pub d_output: usize,
    /// Hidden widths, one per hidden layer.
    #[config(default = "vec![16]")]
    pub hidden: Vec<usize>,
    /// Dropout probability before every layer, in training.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// GraphSAGE layers: L2-normalise every layer's output.
    #[config(default = false)]
    pub normalize: bool,
    /// Max-pool GraphSAGE layers: the pooling width (`None`: each layer's input width).
    pub pool_width: Option<usize>,
}

/// One layer of a [`NodeModel`].
// A model holds a few layers: their sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum GraphLayer<B: Backend> {
    /// A graph convolution.
    Gcn(GcnConv<B>),
    /// A GraphSAGE layer.
    Sage(SageConv<B>),
    /// `x W + b`, no graph.
    Dense(Linear<B>),
}

impl<B: AggregationBackend> GraphLayer<B> {
    fn forward(&self, adjacency: &Adjacency<B>, x: &NodeInput<B>) -> crate::Result<Tensor<B, 2>> {
        match self {
            GraphLayer::Gcn(conv) => conv.forward_input(adjacency, x),
            GraphLayer::Sage(conv) => conv.forward_input(adjacency, x),
            GraphLayer::Dense(linear) => {
                let mut h = x.project(linear.weight.val());
                // A sampled block's targets are its first sources.
                let [sources, width] = h.dims();
                let targets = adjacency.csr().rows();
                if targets < sources {
                    h = h.slice([0..targets, 0..width]);
                }
                Ok(match &linear.bias {
                    Some(b) => h + b.val().unsqueeze(),
                    None => h,
                })
            }
        }
    }

    /// The device of the layer's weights.
    fn device(&self) -> B::Device {
        match self {
            GraphLayer::Gcn(conv) => conv.linear.weight.device(),
            GraphLayer::Sage(conv) => conv.neighbours.weight.device(),
            GraphLayer::Dense(linear) => linear.weight.device(),
        }
    }
}

/// `L` layers: `h⁰ = x`, `hˡ = relu(layerₗ(drop(hˡ⁻¹)))` for `l < L`, and the output
/// `layer_L(drop(h^{L-1}))` (no activation: logits). Dropout acts only in training
/// ([`forward`](Self::forward) with a seed), with masks drawn from mosaic's seeded
/// generator: the same on every backend and thread count.
///
/// Shapes: adjacency `[N, N]`, `x` `[N, d_input]`, output `[N, d_output]`.
#[derive(Module, Debug)]
pub struct NodeModel<B: Backend> {
    /// The layers, input first.
    pub layers: Vec<GraphLayer<B>>,
    /// Dropout probability.
    pub dropout: f64,
    /// Input width.
    pub d_input: usize,
}

impl NodeModelConfig {
    /// A model with Glorot-uniform weights and zero biases (burn's generator; `graph::fit`
    /// redraws them from its seed).
    ///
    /// # Errors
    /// A zero width or a dropout outside [0, 1).
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<NodeModel<B>> {
        check_dropout("NodeModel", self.dropout)?;
        let widths: Vec<usize> = [self.d_input]
            .into_iter()
            .chain(self.hidden.iter().copied())
            .chain([self.d_output])
            .collect();
        let layers = widths
            .windows(2)
            .map(|w| {
                let (d_input, d_output) = (w[0], w[1]);
                let sage = |aggregator| {
                    SageConvConfig::new(d_input, d_output)
                        .with_aggregator(aggregator)
                        .with_normalize(self.normalize)
                        .with_pool_width(self.pool_width)
                        .init(device)
                        .map(GraphLayer::Sage)
                };
                match self.kind {
                    NodeModelKind::Gcn => GcnConvConfig::new(d_input, d_output)
                        .init(device)
                        .map(GraphLayer::Gcn),
                    NodeModelKind::SageMean => sage(SageAggregator::Mean),
                    NodeModelKind::SagePool => sage(SageAggregator::MaxPool),
                    NodeModelKind::Mlp => {
                        crate::validate::check_positive("NodeModel", "widths", d_input.min(d_output))?;
                        Ok(GraphLayer::Dense(
                            LinearConfig::new(d_input, d_output)
                                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                                .init(device),
                        ))
                    }
                }
            })
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(NodeModel {
            layers,
            dropout: self.dropout,
            d_input: self.d_input,
        })
    }
}

impl<B: AggregationBackend> NodeModel<B> {
    /// The logits; with `dropout_seed`, in training mode (dropout masks drawn from it).
    ///
    /// # Errors
    /// `x` not `[N, d_input]` for the adjacency's `N`.
    pub fn forward(
        &self,
        adjacency: &Adjacency<B>,
        x: NodeInput<B>,
        dropout_seed: Option<u64>,
    ) -> crate::Result<Tensor<B, 2>> {
        self.run(
            &vec![adjacency; self.layers.len()],
            x,
            dropout_seed,
            self.layers.len(),
        )
    }

    /// The logits of a sampled mini-batch: layer `l` aggregates over `blocks[l]` (outermost
    /// first, as `mosaic::data::graph::sample_blocks` returns them; see [`block_adjacency`]).
    /// `x` holds the features of the first block's sources; the output has a row per target
    /// of the last block.
    ///
    /// Shapes: `blocks[l]` `[n_l, m_l]` with `m_{l+1} = n_l`, `x` `[m_0, d_input]`, output
    /// `[n_{L-1}, d_output]`.
    ///
    /// # Errors
    /// Not one block per layer, blocks that do not chain, or `x` not `[m_0, d_input]`.
    ///
    /// [`block_adjacency`]: super::block_adjacency
    pub fn forward_blocks(
        &self,
        blocks: &[Adjacency<B>],
        x: NodeInput<B>,
        dropout_seed: Option<u64>,
    ) -> crate::Result<Tensor<B, 2>> {
        if blocks.len() != self.layers.len() {
            return Err(crate::MosaicError::invalid(
                "NodeModel",
                format!(
                    "{} blocks for {} layers: expected one per layer",
                    blocks.len(),
                    self.layers.len()
                ),
            ));
        }
        for (l, pair) in blocks.windows(2).enumerate() {
            let (targets, sources) = (pair[0].csr().rows(), pair[1].csr().cols());
            if targets != sources {
                return Err(crate::MosaicError::invalid(
                    "NodeModel",
                    format!(
                        "block {l} has {targets} targets and block {} {sources} sources: expected as many",
                        l + 1
                    ),
                ));
            }
        }
        self.run(
            &blocks.iter().collect::<Vec<_>>(),
            x,
            dropout_seed,
            self.layers.len(),
        )
    }

    /// The last hidden layer's output `h^{L-1}`, in evaluation mode: the nodes' embeddings.
    ///
    /// # Errors
    /// As [`forward`](Self::forward), or a model of one layer (it has no hidden layer).
    pub fn embed(&self, adjacency: &Adjacency<B>, x: NodeInput<B>) -> crate::Result<Tensor<B, 2>> {
        self.run(
            &vec![adjacency; self.layers.len()],
            x,
            None,
            self.layers.len() - 1,
        )
    }

    /// The first `depth` layers, layer `l` over `adjacencies[l]`.
    fn run(
        &self,
        adjacencies: &[&Adjacency<B>],
        x: NodeInput<B>,
        dropout_seed: Option<u64>,
        depth: usize,
    ) -> crate::Result<Tensor<B, 2>> {
        let nodes = adjacencies[0].csr().cols();
        check_input(
            "NodeModel",
            None,
            &x.dims(),
            &[Dim::Is(nodes), Dim::Is(self.d_input)],
            " ([nodes, d_input], nodes = the adjacency's)",
        )?;
        if depth == 0 {
            return Err(crate::MosaicError::invalid(
                "NodeModel",
                "a model of one layer has no hidden layer to embed with",
            ));
        }
        let device = self.layers[0].device();
        let mut h = x;
        for (l, (layer, adjacency)) in self.layers.iter().zip(adjacencies).take(depth).enumerate() {
            if let Some(seed) = dropout_seed {
                h = h.dropout(
                    self.dropout,
                    seed.wrapping_mul(0x9E37_79B9).wrapping_add(l as u64),
                    &device,
                );
            }
            let mut out = layer.forward(adjacency, &h)?;
            if l + 1 < self.layers.len() {
                out = relu(out);
            }
            h = NodeInput::Dense(out);
        }
        Ok(match h {
            NodeInput::Dense(h) => h,
            NodeInput::Sparse(_) => unreachable!("at least one layer ran"),
        })
    }

    /// `Σ θ²` over the first layer's parameters (the published settings' weight decay acts on
    /// the first layer only).
    pub fn first_layer_squares(&self) -> Tensor<B, 1> {
        let squares = |linear: &Linear<B>| {
            let w = linear.weight.val().powi_scalar(2).sum();
            match &linear.bias {
                Some(b) => w + b.val().powi_scalar(2).sum(),
                None => w,
            }
        };
        match &self.layers[0] {
            GraphLayer::Gcn(conv) => squares(&conv.linear),
            GraphLayer::Dense(linear) => squares(linear),
            GraphLayer::Sage(conv) => [conv.pool.as_ref(), Some(&conv.neighbours), conv.root.as_ref()]
                .into_iter()
                .flatten()
                .map(squares)
                .reduce(|a, b| a + b)
                .expect("a SAGE layer has its neighbour weights"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batches::seeded;
    use crate::graph::{adjacency, node_features};
    use crate::test_util::*;
    use mosaic_data::graph::{community_graph, CommunityConfig};

    /// Sparse features (a CSR matrix multiplied by the aggregation op) give the dense
    /// features' logits and parameter gradients, for every kind of model, with dropout.
    fn sparse_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let config = CommunityConfig {
            nodes: 40,
            edges: 90,
            features: 6,
            communities: 3,
            seed: 2,
            ..CommunityConfig::default()
        };
        let mut graph = community_graph(&config).unwrap();
        // Keep one value in five so that the features are sparse.
        let values: Vec<f32> = graph
            .features()
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 5 == 0 { v } else { 0.0 })
            .collect();
        graph = mosaic_data::graph::Graph::new(
            "sparse",
            40,
            graph.edges().to_vec(),
            values,
            6,
            graph.labels().to_vec(),
            3,
            graph.split().clone(),
        )
        .unwrap();
        let sparse = node_features::<B>(&graph, device).unwrap();
        assert!(
            matches!(sparse, NodeInput::Sparse(_)),
            "a fifth of the values are non-zero"
        );
        let dense = NodeInput::Dense(tensor_of::<B, 2>(graph.features(), [40, 6], device));
        let mut outcomes = Vec::new();
        for kind in [
            NodeModelKind::Gcn,
            NodeModelKind::SageMean,
            NodeModelKind::SagePool,
            NodeModelKind::Mlp,
        ] {
            let model = seeded(
                NodeModelConfig::new(kind, 6, 3)
                    .with_hidden(vec![5])
                    .init::<B>(device)
                    .unwrap(),
                3,
            );
            let a = adjacency::<B>(&graph, kind.normalization(), device).unwrap();
            let run = |x: &NodeInput<B>| {
                run_case(&model, &[] as &[Tensor<B, 2>], |m, _| {
                    m.forward(&a, x.clone(), Some(9))
                })
            };
            let (from_sparse, from_dense) = (run(&sparse), run(&dense));
            from_sparse.assert_close_in(kind.name(), &from_dense, 1e-5);
            outcomes.push(from_sparse);
        }
        outcomes
            .into_iter()
            .reduce(|mut a, b| {
                a.output.extend(b.output);
                a.param_grads.extend(b.param_grads);
                a
            })
            .unwrap()
    }
    for_each_backend!(sparse_features_equal_dense, sparse_case, 1e-4);

    #[test]
    fn bad_input_is_named() {
        let device = Default::default();
        let graph = mosaic_data::graph::karate_club().unwrap();
        let model = NodeModelConfig::new(NodeModelKind::Gcn, 34, 2)
            .init::<Reference>(&device)
            .unwrap();
        let a = adjacency::<Reference>(&graph, Normalization::Gcn, &device).unwrap();
        let err = model
            .forward(&a, NodeInput::Dense(Tensor::zeros([34, 3], &device)), None)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "NodeModel: input has shape [34, 3], expected [34, 34] ([nodes, d_input], nodes = the adjacency's)");
        let one = NodeModelConfig::new(NodeModelKind::Gcn, 34, 2)
            .with_hidden(vec![])
            .init::<Reference>(&device)
            .unwrap();
        let err = one
            .embed(&a, NodeInput::Dense(Tensor::zeros([34, 34], &device)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no hidden layer"), "{err}");
        let err = NodeModelConfig::new(NodeModelKind::Mlp, 34, 2)
            .with_dropout(1.0)
            .init::<Reference>(&device)
            .unwrap_err();
        assert!(err.to_string().contains("dropout must be in [0, 1)"), "{err}");
    }

    /// With fan-outs at least every node's degree, the sampled blocks hold every neighbour:
    /// the mini-batch logits equal the full graph's rows of the batch nodes, for the
    /// GraphSAGE aggregators and the MLP.
    #[test]
    fn blocks_with_every_neighbour_give_the_full_graph_logits() {
        use crate::graph::block_adjacency;
        use mosaic_data::graph::{sample_blocks, NeighbourLists};
        type B = burn::backend::NdArray;
        let device = Default::default();
        let config = CommunityConfig {
            nodes: 60,
            edges: 150,
            features: 5,
            communities: 3,
            seed: 8,
            ..CommunityConfig::default()
        };
        let graph = community_graph(&config).unwrap();
        let lists = NeighbourLists::new(&graph);
        let everyone = *graph.degrees().iter().max().unwrap() as usize;
        let batch = [4u32, 17, 33, 59, 0];
        let blocks = sample_blocks(&lists, &batch, &[everyone, everyone], 3).unwrap();
        for kind in [
            NodeModelKind::SageMean,
            NodeModelKind::SagePool,
            NodeModelKind::Mlp,
        ] {
            let model = NodeModelConfig::new(kind, 5, 3)
                .with_hidden(vec![4])
                .init::<B>(&device)
                .unwrap();
            let a = adjacency::<B>(&graph, kind.normalization(), &device).unwrap();
            let full = model
                .forward(&a, node_features(&graph, &device).unwrap(), None)
                .unwrap();
            let rows: Vec<i64> = batch.iter().map(|&v| i64::from(v)).collect();
            let expected = full.select(
                0,
                Tensor::<B, 1, burn::tensor::Int>::from_ints(rows.as_slice(), &device),
            );
            let adjacencies: Vec<Adjacency<B>> = blocks
                .iter()
                .map(|b| block_adjacency(b, kind.normalization(), &device).unwrap())
                .collect();
            let x = node_features(&graph, &device)
                .unwrap()
                .rows(&blocks[0].nodes, &device)
                .unwrap();
            let sampled = model.forward_blocks(&adjacencies, x, None).unwrap();
            sampled
                .into_data()
                .assert_approx_eq::<f32>(&expected.into_data(), burn::tensor::Tolerance::absolute(1e-5));
        }
        // Blocks that do not fit the model are named.
        let model = NodeModelConfig::new(NodeModelKind::SageMean, 5, 3)
            .init::<B>(&device)
            .unwrap();
        let adjacencies: Vec<Adjacency<B>> = blocks
            .iter()
            .map(|b| block_adjacency(b, Normalization::Mean, &device).unwrap())
            .collect();
        let features = node_features::<B>(&graph, &device).unwrap();
        let x = || features.rows(&blocks[0].nodes, &device).unwrap();
        let err = model
            .forward_blocks(&adjacencies[..1], x(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 blocks for 2 layers"), "{err}");
        let swapped = [adjacencies[1].clone(), adjacencies[0].clone()];
        let err = model.forward_blocks(&swapped, x(), None).unwrap_err().to_string();
        assert!(err.contains("block 0 has 5 targets and block 1"), "{err}");
        let err = block_adjacency::<B>(&blocks[0], Normalization::Gcn, &device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sampled blocks serve GraphSAGE"), "{err}");
    }
}
