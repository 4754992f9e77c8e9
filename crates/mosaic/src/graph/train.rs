//! Supervised node classification: full batch (every node's logits from the whole graph at
//! each step), or in mini-batches of training nodes over sampled neighbourhoods
//! ([`Sampling`]); the cross-entropy over the training nodes, Adam, and the model kept at its
//! best validation accuracy.

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use mosaic_data::graph::{sample_blocks, Graph, NeighbourLists};
use mosaic_data::rng::SplitMix64;
use mosaic_kernels::{Adjacency, AggregationBackend};

use super::model::{NodeModel, NodeModelConfig};
use super::{adjacency, block_adjacency, indices, node_features, NodeInput};
use crate::batches::{seeded_glorot, Progress};
use crate::MosaicError;

const WHAT: &str = "graph::fit";

/// Mini-batch training over sampled neighbourhoods (GraphSAGE, Hamilton et al. 2017,
/// Algorithm 2), for graphs too large for full batch: each epoch shuffles the training
/// nodes into batches of `batch_size`, and each batch's model runs over blocks sampled with
/// [`sample_blocks`] (`fanouts[0]` neighbours per batch node, `fanouts[1]` per node of that
/// layer, ...; one fan-out per layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sampling {
    /// Training nodes per step.
    pub batch_size: usize,
    /// Neighbours kept per node and layer, the layer next to the output first.
    pub fanouts: Vec<usize>,
}

/// How [`fit`] trains; the defaults are the GCN paper's settings (full batch).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTraining {
    /// Epochs: full-batch steps, or passes over the training nodes in mini-batches.
    pub epochs: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// The L2 penalty `λ/2 · Σ θ²` on the first layer's parameters (`λ = weight_decay`),
    /// as the GCN paper's code applies it.
    pub weight_decay: f64,
    /// Seed of the initial weights, of every dropout mask and of every sample.
    pub seed: u64,
    /// `None`: full batch; otherwise mini-batches over sampled neighbourhoods (GraphSAGE
    /// and MLP models).
    pub sampling: Option<Sampling>,
}

impl Default for NodeTraining {
    /// 200 full-batch epochs, lr 0.01, weight decay 5e-4, seed 0.
    fn default() -> Self {
        NodeTraining {
            epochs: 200,
            lr: 0.01,
            weight_decay: 5e-4,
            seed: 0,
            sampling: None,
        }
    }
}

/// A trained node classifier.
pub struct NodeFit<B: Backend> {
    /// The model at the epoch of best validation accuracy (the first such epoch; the last
    /// epoch when the graph has no validation nodes).
    pub model: NodeModel<B>,
    /// That epoch (1-based).
    pub best_epoch: usize,
    /// The training loss (cross-entropy plus penalty) of every epoch.
    pub losses: Vec<f64>,
    /// Validation accuracy at the best epoch, in [0, 1].
    pub valid_accuracy: f64,
    /// Test accuracy at the best epoch, in [0, 1].
    pub test_accuracy: f64,
}

/// The share of `nodes` with a label whose logits' largest entry is that label
/// (`logits` row-major `[N, C]`); 0 when none has a label.
pub fn accuracy(logits: &[f32], classes: usize, labels: &[Option<u32>], nodes: &[u32]) -> f64 {
    let (mut right, mut counted) = (0usize, 0usize);
    for &v in nodes {
        let Some(label) = labels[v as usize] else { continue };
        let row = &logits[v as usize * classes..][..classes];
        let predicted = (0..classes).fold(0, |best, c| if row[c] > row[best] { c } else { best });
        right += usize::from(predicted == label as usize);
        counted += 1;
    }
    if counted == 0 {
        0.0
    } else {
        right as f64 / counted as f64
    }
}

/// Trains `config`'s model on `graph`'s training nodes, full batch or in sampled
/// mini-batches ([`NodeTraining::sampling`]), and reports the validation and test accuracy
/// (from the whole graph, every neighbour) at the epoch of best validation accuracy.
/// `progress` is called after every epoch. The same seed gives the same model on every run
/// and thread count.
///
/// # Errors
/// A model whose input width is not the graph's feature width or whose output is narrower
/// than its classes, no training nodes, non-finite features, bad settings (sampling: a batch
/// size of 0, not one fan-out per layer, a GCN model), or a loss that diverges.
pub fn fit<B>(
    config: &NodeModelConfig,
    graph: &Graph,
    training: &NodeTraining,
    device: &B::Device,
    mut progress: impl FnMut(Progress),
) -> crate::Result<NodeFit<B::InnerBackend>>
where
    B: AutodiffBackend + AggregationBackend,
    B::InnerBackend: AggregationBackend,
{
    let NodeTraining {
        epochs,
        lr,
        weight_decay,
        seed,
        ref sampling,
    } = *training;
    if epochs == 0 || !(lr.is_finite() && lr > 0.0) || !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return Err(MosaicError::invalid(
            WHAT,
            format!("epochs {epochs}, lr {lr}, weight_decay {weight_decay}: expected at least one epoch, lr above 0 and weight_decay at least 0"),
        ));
    }
    if let Some(Sampling { batch_size, fanouts }) = sampling {
        let layers = config.hidden.len() + 1;
        if *batch_size == 0 || fanouts.len() != layers {
            return Err(MosaicError::invalid(
                WHAT,
                format!("sampling with batch size {batch_size} and fan-outs {fanouts:?}: expected a batch of at least 1 and one fan-out per layer ({layers})"),
            ));
        }
    }
    if config.d_input != graph.feature_width() || config.d_output < graph.classes() {
        return Err(MosaicError::invalid(
            WHAT,
            format!(
                "the model maps {} features to {} outputs; graph `{}` has {} features and {} classes",
                config.d_input,
                config.d_output,
                graph.name(),
                graph.feature_width(),
                graph.classes()
            ),
        ));
    }
    let split = graph.split();
    if split.train.is_empty() {
        return Err(MosaicError::invalid(
            WHAT,
            format!("graph `{}` has no training nodes", graph.name()),
        ));
    }
    let normalization = config.kind.normalization();
    let steps = match sampling {
        None => Steps::Full {
            adjacency: adjacency(graph, normalization, device)?,
            x: node_features(graph, device)?,
        },
        // What blocks cannot serve is refused by the first batch's sampling, before the
        // first optimizer step.
        Some(sampling) => Steps::Sampled {
            lists: NeighbourLists::new(graph),
            sampling: sampling.clone(),
            x: node_features(graph, device)?,
        },
    };
    // The whole graph for evaluation, on the inner backend.
    let evaluation: Adjacency<B::InnerBackend> = super::adjacency(graph, normalization, device)?;
    let evaluation_x: NodeInput<B::InnerBackend> = node_features(graph, device)?;

    let mut model: NodeModel<B> = seeded_glorot(config.init::<B>(device)?, seed);
    let mut optimizer = AdamConfig::new().init::<B, NodeModel<B>>();
    let classes = config.d_output;
    let mut losses = Vec::with_capacity(epochs);
    let mut best: Option<(usize, f64, f64, NodeModel<B::InnerBackend>)> = None;
    for epoch in 1..=epochs {
        let epoch_seed = seed.wrapping_add(epoch as u64 * 7919);
        let batches = steps.batches(&split.train, epoch_seed);
        let mut total = 0.0;
        for (b, batch) in batches.iter().enumerate() {
            let batch_seed = epoch_seed.wrapping_mul(0x2545_F491).wrapping_add(b as u64);
            let logits = steps.logits(&model, normalization, batch, batch_seed, device)?;
            let mut loss = cross_entropy(logits, graph, batch, device);
            if weight_decay > 0.0 {
                loss = loss + model.first_layer_squares() * (weight_decay / 2.0);
            }
            let value = loss.clone().into_scalar().elem::<f64>();
            if !value.is_finite() {
                return Err(MosaicError::Diverged {
                    epoch,
                    message: format!("the training loss is {value}; try a lower learning rate (lr is {lr})"),
                });
            }
            total += value;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
        }
        let value = total / batches.len() as f64;
        losses.push(value);

        let evaluated = model.valid();
        let logits = evaluated.forward(&evaluation, evaluation_x.clone(), None)?;
        let logits: Vec<f32> = logits.into_data().convert::<f32>().to_vec().expect("f32 logits");
        let valid = accuracy(&logits, classes, graph.labels(), &split.valid);
        // Without validation nodes, the last epoch is the best.
        if best
            .as_ref()
            .is_none_or(|(_, v, _, _)| valid > *v || split.valid.is_empty())
        {
            let test = accuracy(&logits, classes, graph.labels(), &split.test);
            best = Some((epoch, valid, test, evaluated));
        }
        progress(Progress {
            epoch,
            epochs,
            loss: value,
        });
    }
    let (best_epoch, valid_accuracy, test_accuracy, model) = best.expect("at least one epoch");
    Ok(NodeFit {
        model,
        best_epoch,
        losses,
        valid_accuracy,
        test_accuracy,
    })
}

/// What one training step runs the model on.
enum Steps<B: AggregationBackend> {
    /// The whole graph, every training node in one step.
    Full {
        adjacency: Adjacency<B>,
        x: NodeInput<B>,
    },
    /// Sampled blocks per mini-batch, their inputs gathered from the whole graph's `x`.
    Sampled {
        lists: NeighbourLists,
        sampling: Sampling,
        x: NodeInput<B>,
    },
}

impl<B: AutodiffBackend + AggregationBackend> Steps<B> {
    /// The epoch's batches of training nodes: all of them at once, or shuffled by `seed`
    /// into batches.
    fn batches(&self, train: &[u32], seed: u64) -> Vec<Vec<u32>> {
        match self {
            Steps::Full { .. } => vec![train.to_vec()],
            Steps::Sampled { sampling, .. } => {
                let mut order = train.to_vec();
                SplitMix64::new(seed).shuffle(&mut order);
                order.chunks(sampling.batch_size).map(<[u32]>::to_vec).collect()
            }
        }
    }

    /// The training-mode logits of `batch`'s nodes (`[batch, C]`), dropout and samples drawn
    /// from `seed`.
    fn logits(
        &self,
        model: &NodeModel<B>,
        normalization: mosaic_data::graph::Normalization,
        batch: &[u32],
        seed: u64,
        device: &B::Device,
    ) -> crate::Result<Tensor<B, 2>> {
        match self {
            Steps::Full { adjacency, x } => {
                let logits = model.forward(adjacency, x.clone(), Some(seed))?;
                Ok(logits.select(0, indices::<B>(batch, device)))
            }
            Steps::Sampled { lists, sampling, x } => {
                let blocks = sample_blocks(lists, batch, &sampling.fanouts, seed)
                    .map_err(|e| MosaicError::invalid(WHAT, e.to_string()))?;
                let adjacencies = blocks
                    .iter()
                    .map(|block| block_adjacency(block, normalization, device))
                    .collect::<crate::Result<Vec<_>>>()?;
                model.forward_blocks(&adjacencies, x.rows(&blocks[0].nodes, device)?, Some(seed))
            }
        }
    }
}

/// The mean cross-entropy of `logits` (`[batch, C]`) against the labels of `batch`'s nodes.
fn cross_entropy<B: Backend>(
    logits: Tensor<B, 2>,
    graph: &Graph,
    batch: &[u32],
    device: &B::Device,
) -> Tensor<B, 1> {
    let targets: Vec<i64> = batch
        .iter()
        .map(|&v| graph.labels()[v as usize].map_or(0, i64::from))
        .collect();
    let targets =
        Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [batch.len()]), device).unsqueeze_dim(1);
    -log_softmax(logits, 1).gather(1, targets).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::NodeModelKind;
    use burn::backend::{Autodiff, Flex};
    use burn::module::Module;
    use mosaic_data::graph::karate_club;

    fn parameters<B: Backend, M: Module<B>>(model: &M) -> Vec<u32> {
        struct Bits(Vec<u32>);
        impl<B: Backend> burn::module::ModuleVisitor<B> for Bits {
            fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
                self.0
                    .extend(param.val().into_data().iter::<f32>().map(f32::to_bits));
            }
        }
        let mut bits = Bits(Vec::new());
        model.visit(&mut bits);
        bits.0
    }

    /// Trains on the karate club with 1 and with 2 threads, checks that both give the same
    /// weights, losses and best epoch bit for bit, and returns the fit.
    fn fit_on_one_and_two_threads(config: &NodeModelConfig, training: &NodeTraining) -> NodeFit<Flex> {
        let club = karate_club().unwrap();
        let run = |threads: usize| {
            crate::test_util::on_threads(threads, || {
                fit::<Autodiff<Flex>>(config, &club, training, &Default::default(), |_| {}).unwrap()
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(parameters(&one.model), parameters(&two.model));
        assert_eq!((one.best_epoch, &one.losses), (two.best_epoch, &two.losses));
        one
    }

    /// The same seed gives the same weights bit for bit, with 1 or 2 threads; the model
    /// learns the factions from the two leaders alone.
    #[test]
    fn deterministic_for_a_seed_and_any_thread_count() {
        let config = NodeModelConfig::new(NodeModelKind::SagePool, 34, 2).with_hidden(vec![8]);
        let training = NodeTraining {
            epochs: 60,
            seed: 4,
            ..NodeTraining::default()
        };
        let fitted = fit_on_one_and_two_threads(&config, &training);
        assert!(
            fitted.test_accuracy > 0.75,
            "test accuracy {}",
            fitted.test_accuracy
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let club = karate_club().unwrap();
        let device = Default::default();
        let fit = |config: &NodeModelConfig, training: &NodeTraining| {
            fit::<Autodiff<Flex>>(config, &club, training, &device, |_| {})
                .err()
                .unwrap()
                .to_string()
        };
        let good = NodeModelConfig::new(NodeModelKind::Gcn, 34, 2);
        let err = fit(
            &NodeModelConfig::new(NodeModelKind::Gcn, 30, 2),
            &NodeTraining::default(),
        );
        assert!(
            err.contains("maps 30 features to 2 outputs; graph `karate` has 34 features and 2 classes"),
            "{err}"
        );
        let err = fit(
            &good,
            &NodeTraining {
                lr: 0.0,
                ..NodeTraining::default()
            },
        );
        assert!(err.contains("lr 0"), "{err}");
        let err = fit(
            &good,
            &NodeTraining {
                epochs: 0,
                ..NodeTraining::default()
            },
        );
        assert!(err.contains("epochs 0"), "{err}");
        let sampled = |batch_size, fanouts: Vec<usize>| NodeTraining {
            sampling: Some(Sampling { batch_size, fanouts }),
            ..NodeTraining::default()
        };
        let sage = NodeModelConfig::new(NodeModelKind::SageMean, 34, 2);
        let err = fit(&sage, &sampled(0, vec![2, 2]));
        assert!(err.contains("batch size 0 and fan-outs [2, 2]"), "{err}");
        let err = fit(&sage, &sampled(4, vec![2]));
        assert!(err.contains("one fan-out per layer (2)"), "{err}");
        let err = fit(&sage, &sampled(4, vec![2, 0]));
        assert!(err.contains("fan-outs [2, 0]"), "{err}");
        let err = fit(&good, &sampled(4, vec![2, 2]));
        assert!(err.contains("sampled blocks serve GraphSAGE"), "{err}");
    }

    #[test]
    fn accuracy_by_hand() {
        // Rows: argmax 1, 0, 2; labels 1, 1, none.
        let logits = [0.0, 2.0, 1.0, 3.0, 0.0, 0.0, 0.0, 0.0, 5.0];
        let labels = [Some(1), Some(1), None];
        assert_eq!(accuracy(&logits, 3, &labels, &[0, 1, 2]), 0.5);
        assert_eq!(accuracy(&logits, 3, &labels, &[2]), 0.0);
    }

    /// Mini-batches over sampled neighbourhoods: bit-identical weights for 1 and 2 threads,
    /// and the club's factions learned from the two leaders.
    #[test]
    fn sampled_training_is_deterministic_and_learns() {
        let club = karate_club().unwrap();
        let config = NodeModelConfig::new(NodeModelKind::SageMean, 34, 2).with_hidden(vec![8]);
        let training = NodeTraining {
            epochs: 60,
            seed: 4,
            sampling: Some(Sampling {
                batch_size: 1,
                fanouts: vec![4, 3],
            }),
            ..NodeTraining::default()
        };
        let one = fit_on_one_and_two_threads(&config, &training);
        assert!(one.test_accuracy > 0.75, "test accuracy {}", one.test_accuracy);
        // Two leaders in batches of one: two steps per epoch, each loss its batch's.
        let full = fit::<Autodiff<Flex>>(
            &config,
            &club,
            &NodeTraining {
                sampling: None,
                ..training.clone()
            },
            &Default::default(),
            |_| {},
        )
        .unwrap();
        assert_ne!(one.losses, full.losses, "sampling changes the steps");
    }
}
