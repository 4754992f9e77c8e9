//! Supervised node classification, full batch: every node's logits from the whole graph at
//! each step, the cross-entropy over the training nodes, Adam, and the model kept at its best
//! validation accuracy.

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use mosaic_data::graph::Graph;
use mosaic_kernels::{Adjacency, AggregationBackend};

use super::model::{NodeModel, NodeModelConfig};
use super::{adjacency, node_features, NodeInput};
use crate::batches::{seeded_glorot, Progress};
use crate::MosaicError;

const WHAT: &str = "graph::fit";

/// How [`fit`] trains; the defaults are the GCN paper's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeTraining {
    /// Full-batch steps.
    pub epochs: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// The L2 penalty `λ/2 · Σ θ²` on the first layer's parameters (`λ = weight_decay`),
    /// as the GCN paper's code applies it.
    pub weight_decay: f64,
    /// Seed of the initial weights and of every dropout mask.
    pub seed: u64,
}

impl Default for NodeTraining {
    /// 200 epochs, lr 0.01, weight decay 5e-4, seed 0.
    fn default() -> Self {
        NodeTraining {
            epochs: 200,
            lr: 0.01,
            weight_decay: 5e-4,
            seed: 0,
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

/// Trains `config`'s model on `graph`'s training nodes, full batch, and reports the
/// validation and test accuracy at the epoch of best validation accuracy. `progress` is
/// called after every epoch. The same seed gives the same model on every run and thread
/// count.
///
/// # Errors
/// A model whose input width is not the graph's feature width or whose output is narrower
/// than its classes, no training nodes, non-finite features, bad settings, or a loss that
/// diverges.
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
    } = *training;
    if epochs == 0 || !(lr.is_finite() && lr > 0.0) || !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return Err(MosaicError::invalid(
            WHAT,
            format!("epochs {epochs}, lr {lr}, weight_decay {weight_decay}: expected at least one epoch, lr above 0 and weight_decay at least 0"),
        ));
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
    let adjacency: Adjacency<B> = adjacency(graph, config.kind.normalization(), device)?;
    // The same matrix for evaluation on the inner backend.
    let evaluation: Adjacency<B::InnerBackend> =
        super::adjacency(graph, config.kind.normalization(), device)?;
    let x: NodeInput<B> = node_features(graph, device)?;
    let evaluation_x: NodeInput<B::InnerBackend> = node_features(graph, device)?;
    let train = Tensor::<B, 1, Int>::from_data(
        TensorData::new(
            split.train.iter().map(|&v| v as i64).collect(),
            [split.train.len()],
        ),
        device,
    );
    let targets: Vec<i64> = split
        .train
        .iter()
        .map(|&v| graph.labels()[v as usize].map_or(0, i64::from))
        .collect();
    let targets = Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [split.train.len()]), device)
        .unsqueeze_dim(1);

    let mut model: NodeModel<B> = seeded_glorot(config.init::<B>(device)?, seed);
    let mut optimizer = AdamConfig::new().init::<B, NodeModel<B>>();
    let classes = config.d_output;
    let mut losses = Vec::with_capacity(epochs);
    let mut best: Option<(usize, f64, f64, NodeModel<B::InnerBackend>)> = None;
    for epoch in 1..=epochs {
        let logits = model.forward(
            &adjacency,
            x.clone(),
            Some(seed.wrapping_add(epoch as u64 * 7919)),
        )?;
        let log_p = log_softmax(logits.select(0, train.clone()), 1);
        let mut loss = -log_p.gather(1, targets.clone()).mean();
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
        losses.push(value);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(lr, model, grads);

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

    /// The same seed gives the same weights bit for bit, with 1 or 2 threads; the model
    /// learns the factions from the two leaders alone.
    #[test]
    fn deterministic_for_a_seed_and_any_thread_count() {
        let club = karate_club().unwrap();
        let config = NodeModelConfig::new(NodeModelKind::SagePool, 34, 2).with_hidden(vec![8]);
        let training = NodeTraining {
            epochs: 60,
            seed: 4,
            ..NodeTraining::default()
        };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                fit::<Autodiff<Flex>>(&config, &club, &training, &Default::default(), |_| {}).unwrap()
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(parameters(&one.model), parameters(&two.model));
        assert_eq!((one.best_epoch, one.losses.clone()), (two.best_epoch, two.losses));
        assert!(one.test_accuracy > 0.75, "test accuracy {}", one.test_accuracy);
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
    }

    #[test]
    fn accuracy_by_hand() {
        // Rows: argmax 1, 0, 2; labels 1, 1, none.
        let logits = [0.0, 2.0, 1.0, 3.0, 0.0, 0.0, 0.0, 0.0, 5.0];
        let labels = [Some(1), Some(1), None];
        assert_eq!(accuracy(&logits, 3, &labels, &[0, 1, 2]), 0.5);
        assert_eq!(accuracy(&logits, 3, &labels, &[2]), 0.0);
    }
}
