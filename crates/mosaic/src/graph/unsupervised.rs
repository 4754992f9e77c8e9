//! Unsupervised GraphSAGE (Hamilton, Ying & Leskovec 2017, §3.2): node embeddings learned
//! without labels, so that nodes that co-occur on short random walks score high against
//! each other and random nodes score low, then read by a logistic-regression probe.
//!
//! ```text
//! J = −(1/N) Σ_u [ log σ(z_u · z_v(u)) + Σ_{q=1..Q} log σ(−z_u · z_n(u,q)) ]
//! ```
//!
//! over every node `u` at each epoch (full batch), `v(u)` a node on a random walk from `u`
//! ([`walk_positives`]), `n(u, q)` drawn uniformly from all nodes; `z = model(A, X)` `[N, d]`.

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use mosaic_data::graph::{walk_positives, Graph, NeighbourLists};
use mosaic_data::rng::SplitMix64;
use mosaic_kernels::AggregationBackend;

use super::model::{NodeModel, NodeModelConfig};
use super::{adjacency, indices, node_features};
use crate::analysis::probe::{logistic_probe, LinearProbe};
use crate::analysis::Matrix;
use crate::batches::{seeded_glorot, Progress};
use crate::MosaicError;

const WHAT: &str = "graph::fit_unsupervised";

/// How [`fit_unsupervised`] trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnsupervisedTraining {
    /// Full-batch steps.
    pub epochs: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Steps of the random walks that give each node its positive.
    pub walk_length: usize,
    /// Negative nodes `Q` per node.
    pub negatives: usize,
    /// Seed of the initial weights, the dropout masks, the walks and the negatives.
    pub seed: u64,
}

impl Default for UnsupervisedTraining {
    /// 100 epochs, lr 0.01, walks of 2 steps, 1 negative, seed 0.
    fn default() -> Self {
        UnsupervisedTraining {
            epochs: 100,
            lr: 0.01,
            walk_length: 2,
            negatives: 1,
            seed: 0,
        }
    }
}

/// Embeddings learned without labels.
pub struct EmbeddingFit<B: Backend> {
    /// The model after the last epoch; its outputs are the embeddings.
    pub model: NodeModel<B>,
    /// The objective `J` of every epoch.
    pub losses: Vec<f64>,
}

/// Trains `config`'s model (its outputs: the embeddings) on `graph` without labels,
/// minimising `J` (the module's formula) full batch with Adam. `progress` is called after
/// every epoch. The same seed gives the same model on every run and thread count.
///
/// # Errors
/// A model whose input width is not the graph's feature width, bad settings (no epochs, a
/// learning rate not above 0, a walk length or a negative count of 0), non-finite features,
/// or a loss that diverges.
pub fn fit_unsupervised<B>(
    config: &NodeModelConfig,
    graph: &Graph,
    training: &UnsupervisedTraining,
    device: &B::Device,
    mut progress: impl FnMut(Progress),
) -> crate::Result<EmbeddingFit<B::InnerBackend>>
where
    B: AutodiffBackend + AggregationBackend,
{
    let UnsupervisedTraining {
        epochs,
        lr,
        walk_length,
        negatives,
        seed,
    } = *training;
    if epochs == 0 || !(lr.is_finite() && lr > 0.0) || walk_length == 0 || negatives == 0 {
        return Err(MosaicError::invalid(
            WHAT,
            format!("epochs {epochs}, lr {lr}, walk length {walk_length}, negatives {negatives}: expected at least 1 of each and lr above 0"),
        ));
    }
    if config.d_input != graph.feature_width() {
        return Err(MosaicError::invalid(
            WHAT,
            format!(
                "the model reads {} features; graph `{}` has {}",
                config.d_input,
                graph.name(),
                graph.feature_width()
            ),
        ));
    }
    let nodes = graph.nodes();
    let a = adjacency::<B>(graph, config.kind.normalization(), device)?;
    let x = node_features::<B>(graph, device)?;
    let lists = NeighbourLists::new(graph);
    let anchors: Vec<u32> = (0..nodes as u32).collect();
    let repeated: Vec<u32> = (0..negatives).flat_map(|_| anchors.iter().copied()).collect();
    let repeated = indices::<B>(&repeated, device);

    let mut model: NodeModel<B> = seeded_glorot(config.init::<B>(device)?, seed);
    let mut optimizer = AdamConfig::new().init::<B, NodeModel<B>>();
    let mut losses = Vec::with_capacity(epochs);
    for epoch in 1..=epochs {
        let epoch_seed = seed.wrapping_add(epoch as u64 * 7919);
        let positives = walk_positives(&lists, &anchors, walk_length, epoch_seed)
            .map_err(|e| MosaicError::invalid(WHAT, e.to_string()))?;
        let mut rng = SplitMix64::new(epoch_seed ^ 0x5DEE_CE66);
        let drawn: Vec<u32> = (0..negatives * nodes)
            .map(|_| (rng.next_u64() % nodes as u64) as u32)
            .collect();
        let z = model.forward(&a, x.clone(), Some(epoch_seed))?;
        let score = |left: Tensor<B, 2>, right: Tensor<B, 2>| (left * right).sum_dim(1);
        let positive = score(z.clone(), z.clone().select(0, indices::<B>(&positives, device)));
        let negative = score(
            z.clone().select(0, repeated.clone()),
            z.select(0, indices::<B>(&drawn, device)),
        );
        let loss = -log_sigmoid(positive).mean() - log_sigmoid(-negative).mean() * negatives as f64;
        let value = loss.clone().into_scalar().elem::<f64>();
        if !value.is_finite() {
            return Err(MosaicError::Diverged {
                epoch,
                message: format!("the unsupervised loss is {value}; try a lower learning rate (lr is {lr})"),
            });
        }
        losses.push(value);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(lr, model, grads);
        progress(Progress {
            epoch,
            epochs,
            loss: value,
        });
    }
    Ok(EmbeddingFit {
        model: model.valid(),
        losses,
    })
}

/// Every node's embedding (`model`'s outputs in evaluation mode, `[N, d]`) on the host.
///
/// # Errors
/// A model that does not read `graph`'s features.
pub fn node_embeddings<B: AggregationBackend>(
    model: &NodeModel<B>,
    graph: &Graph,
    normalization: mosaic_data::graph::Normalization,
    device: &B::Device,
) -> crate::Result<Matrix> {
    let a = adjacency::<B>(graph, normalization, device)?;
    let z = model.forward(&a, node_features(graph, device)?, None)?;
    Matrix::from_tensor(z)
}

/// A logistic-regression probe on node embeddings, and its accuracy.
#[derive(Debug, Clone)]
pub struct NodeProbe {
    /// The probe, fitted on the training nodes with `λ` chosen on the validation nodes.
    pub probe: LinearProbe,
    /// Its accuracy on the validation nodes, in [0, 1].
    pub valid_accuracy: f64,
    /// Its accuracy on the test nodes, in [0, 1].
    pub test_accuracy: f64,
}

/// Fits [`logistic_probe`] on the embeddings (`[N, d]`) of `graph`'s labelled training
/// nodes, chooses its strength on the validation nodes and scores the test nodes.
///
/// # Errors
/// Embeddings without a row per node, or a split without labelled training, validation or
/// test nodes.
pub fn probe_nodes(graph: &Graph, embeddings: &Matrix) -> crate::Result<NodeProbe> {
    if embeddings.rows() != graph.nodes() {
        return Err(MosaicError::invalid(
            "graph::probe_nodes",
            format!(
                "{} embeddings for the {} nodes of graph `{}`",
                embeddings.rows(),
                graph.nodes(),
                graph.name()
            ),
        ));
    }
    let part = |nodes: &[u32], name: &str| -> crate::Result<(Matrix, Vec<usize>)> {
        let labelled: Vec<(u32, usize)> = nodes
            .iter()
            .filter_map(|&v| graph.labels()[v as usize].map(|l| (v, l as usize)))
            .collect();
        if labelled.is_empty() {
            return Err(MosaicError::invalid(
                "graph::probe_nodes",
                format!("graph `{}` has no labelled {name} nodes", graph.name()),
            ));
        }
        let values = labelled
            .iter()
            .flat_map(|&(v, _)| embeddings.row(v as usize).iter().copied())
            .collect();
        Ok((
            Matrix::new(labelled.len(), embeddings.cols(), values)?,
            labelled.iter().map(|&(_, l)| l).collect(),
        ))
    };
    let split = graph.split();
    let (train, valid, test) = (
        part(&split.train, "training")?,
        part(&split.valid, "validation")?,
        part(&split.test, "test")?,
    );
    let probe = logistic_probe((&train.0, &train.1), (&valid.0, &valid.1), graph.classes())?;
    Ok(NodeProbe {
        valid_accuracy: probe.valid_accuracy.unwrap_or(0.0),
        test_accuracy: probe.accuracy(&test.0, &test.1)?,
        probe,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::NodeModelKind;
    use burn::backend::{Autodiff, Flex};
    use mosaic_data::graph::{community_graph, CommunityConfig};

    type Train = Autodiff<Flex>;

    /// 300 nodes in 3 communities whose features are pure noise: only the graph tells
    /// the communities apart.
    fn graph() -> Graph {
        let structure = community_graph(&CommunityConfig {
            nodes: 300,
            edges: 1500,
            features: 1,
            communities: 3,
            within: 0.9,
            seed: 6,
            ..CommunityConfig::default()
        })
        .unwrap();
        let mut rng = SplitMix64::new(2);
        let noise: Vec<f32> = (0..300 * 8).map(|_| rng.normal()).collect();
        Graph::new(
            "community",
            300,
            structure.edges().to_vec(),
            noise,
            8,
            structure.labels().to_vec(),
            3,
            structure.split().clone(),
        )
        .unwrap()
    }

    fn config() -> NodeModelConfig {
        NodeModelConfig::new(NodeModelKind::SageMean, 8, 16)
            .with_hidden(vec![16])
            .with_dropout(0.0)
    }

    /// The first epoch's loss is `J` computed again on the host in f64, from the initial
    /// model's embeddings and the same positives and negatives.
    #[test]
    fn the_loss_is_the_formula() {
        let graph = graph();
        let training = UnsupervisedTraining {
            epochs: 1,
            negatives: 2,
            seed: 3,
            ..UnsupervisedTraining::default()
        };
        let fitted =
            fit_unsupervised::<Train>(&config(), &graph, &training, &Default::default(), |_| {}).unwrap();
        let initial: NodeModel<Flex> = seeded_glorot(config().init::<Flex>(&Default::default()).unwrap(), 3);
        let z = node_embeddings(
            &initial,
            &graph,
            NodeModelKind::SageMean.normalization(),
            &Default::default(),
        )
        .unwrap();
        let epoch_seed = 3 + 7919;
        let anchors: Vec<u32> = (0..300).collect();
        let positives = walk_positives(&NeighbourLists::new(&graph), &anchors, 2, epoch_seed).unwrap();
        let mut rng = SplitMix64::new(epoch_seed ^ 0x5DEE_CE66);
        let negatives: Vec<usize> = (0..600).map(|_| (rng.next_u64() % 300) as usize).collect();
        let dot = |a: usize, b: usize| z.row(a).iter().zip(z.row(b)).map(|(x, y)| x * y).sum::<f64>();
        let log_sigmoid = |x: f64| x.min(0.0) - (-x.abs()).exp().ln_1p();
        let positive: f64 = (0..300)
            .map(|u| log_sigmoid(dot(u, positives[u] as usize)))
            .sum::<f64>()
            / 300.0;
        // Negative q of anchor u is draw q · N + u.
        let negative: f64 = (0..600)
            .map(|k| log_sigmoid(-dot(k % 300, negatives[k])))
            .sum::<f64>()
            / 600.0;
        let expected = -positive - 2.0 * negative;
        assert!(
            (fitted.losses[0] - expected).abs() < 1e-5 * expected.abs(),
            "{} vs {expected}",
            fitted.losses[0]
        );
    }

    /// Bit-identical with 1 and 2 threads; the loss falls; the embeddings, learned without a
    /// label, let a logistic probe on 10% of the nodes find the communities the features
    /// hide.
    #[test]
    fn learns_the_communities_deterministically() {
        let graph = graph();
        let training = UnsupervisedTraining {
            epochs: 200,
            seed: 1,
            ..UnsupervisedTraining::default()
        };
        let run = |threads: usize| {
            crate::test_util::on_threads(threads, || {
                fit_unsupervised::<Train>(&config(), &graph, &training, &Default::default(), |_| {}).unwrap()
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one.losses, two.losses);
        assert!(one.losses[199] < 0.5 * one.losses[0], "{:?}", one.losses);
        let z = node_embeddings(
            &one.model,
            &graph,
            NodeModelKind::SageMean.normalization(),
            &Default::default(),
        )
        .unwrap();
        let probe = probe_nodes(&graph, &z).unwrap();
        assert!(
            probe.test_accuracy > 0.85,
            "probe accuracy {}",
            probe.test_accuracy
        );
        // The same probe on the raw features is near chance.
        let raw = Matrix::from_f32(300, 8, graph.features()).unwrap();
        let baseline = probe_nodes(&graph, &raw).unwrap();
        assert!(
            baseline.test_accuracy < 0.6,
            "raw-feature probe {}",
            baseline.test_accuracy
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let graph = graph();
        let err = |config: &NodeModelConfig, training: UnsupervisedTraining| {
            fit_unsupervised::<Train>(config, &graph, &training, &Default::default(), |_| {})
                .err()
                .unwrap()
                .to_string()
        };
        let good = UnsupervisedTraining::default();
        for (training, message) in [
            (
                UnsupervisedTraining {
                    walk_length: 0,
                    ..good
                },
                "walk length 0",
            ),
            (UnsupervisedTraining { negatives: 0, ..good }, "negatives 0"),
            (UnsupervisedTraining { epochs: 0, ..good }, "epochs 0"),
            (UnsupervisedTraining { lr: f64::NAN, ..good }, "lr NaN"),
        ] {
            let e = err(&config(), training);
            assert!(e.contains(message), "{e}");
        }
        let e = err(&NodeModelConfig::new(NodeModelKind::SageMean, 5, 4), good);
        assert!(
            e.contains("the model reads 5 features; graph `community` has 8"),
            "{e}"
        );
        let e = probe_nodes(&graph, &Matrix::new(2, 1, vec![0.0; 2]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 embeddings for the 300 nodes"), "{e}");
    }
}
