//! `mosaic reproduce --experiment graph`: node classification by neighbourhood aggregation
//! on the citation graphs Cora and CiteSeer (the public Planetoid split), and the karate
//! club's learned 2-D embeddings.
//!
//! The supervised models are trained with the GCN paper's settings (row-normalised
//! features, 16 hidden units, dropout 0.5, Adam lr 0.01, weight decay 5e-4 on the first
//! layer, 200 epochs) for `seeds` seeds, and read at their epoch of best validation accuracy:
//!
//! - GCN (Kipf & Welling 2017), the published figures beside it (81.5% and 70.3%);
//! - GraphSAGE (Hamilton et al. 2017) with the mean and the max-pool aggregator (pooling
//!   width 64), full batch, and with the mean aggregator in mini-batches over sampled
//!   neighbourhoods (fan-outs 25 and 10, the paper's);
//! - unsupervised GraphSAGE (random-walk positives, negative sampling; no labels) read by
//!   a logistic-regression probe fitted on the training nodes;
//! - an MLP on the raw features: the same classifier without the graph.
//!
//! Everything is seeded: the same settings give the same numbers on every run.

mod report;

pub use report::{check_output, csv, markdown, svg, write};

use crate::error::Result;
use burn::tensor::backend::AutodiffBackend;
use mosaic::data::graph::{karate_club, planetoid, Graph};
use mosaic::graph::{
    adjacency, fit, fit_unsupervised, node_embeddings, node_features, probe_nodes, AggregationBackend,
    NodeModelConfig, NodeModelKind, NodeTraining, Sampling, UnsupervisedTraining,
};
use serde::Serialize;

/// The experiment's name, and the stem of its files.
pub const NAME: &str = "graph";

/// The files the experiment writes in its output folder; nothing else there is touched.
pub const FILES: [&str; 3] = ["graph.md", "graph.csv", "graph.svg"];

const CSV_HEADER: &str = "dataset,model,seed,test_accuracy,valid_accuracy,best_epoch";

/// How a model is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// With labels, full batch.
    Full(NodeModelKind),
    /// With labels, GraphSAGE-mean in mini-batches over sampled neighbourhoods.
    Sampled,
    /// Without labels (GraphSAGE-mean), then a logistic-regression probe.
    Unsupervised,
}

impl Method {
    /// Its name in the reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Full(kind) => kind.name(),
            Method::Sampled => "GraphSAGE-mean, sampled",
            Method::Unsupervised => "GraphSAGE unsupervised + probe",
        }
    }
}

/// The models compared, in the tables' order.
pub const MODELS: [Method; 6] = [
    Method::Full(NodeModelKind::Gcn),
    Method::Full(NodeModelKind::SageMean),
    Method::Full(NodeModelKind::SagePool),
    Method::Sampled,
    Method::Unsupervised,
    Method::Full(NodeModelKind::Mlp),
];

/// The graphs, and the GCN paper's test accuracy on each (Kipf & Welling 2017, Table 2).
pub const DATASETS: [(&str, f64); 2] = [("cora", 81.5), ("citeseer", 70.3)];

/// The experiment's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// The first seed; seeds `seed..seed + seeds` are run.
    pub seed: u64,
    /// Seeds per model and graph.
    pub seeds: usize,
    /// Epochs of the supervised models.
    pub epochs: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// The first layer's L2 penalty.
    pub weight_decay: f64,
    /// Hidden units.
    pub hidden: usize,
    /// Dropout before each layer.
    pub dropout: f64,
    /// GraphSAGE's max-pool width.
    pub pool_width: usize,
    /// Training nodes per mini-batch of the sampled model.
    pub batch_size: usize,
    /// The sampled model's fan-outs, the layer next to the output first.
    pub fanouts: Vec<usize>,
    /// Epochs of unsupervised GraphSAGE.
    pub unsupervised_epochs: usize,
    /// Hidden and embedding width of unsupervised GraphSAGE.
    pub embedding: usize,
    /// Random-walk steps that give unsupervised GraphSAGE's positives.
    pub walk_length: usize,
}

impl Default for Settings {
    /// The GCN paper's settings, 10 seeds; GraphSAGE's fan-outs 25 and 10 in batches of 64;
    /// unsupervised GraphSAGE 64 wide, 100 epochs, walks of 2 steps.
    fn default() -> Self {
        Settings {
            seed: 0,
            seeds: 10,
            epochs: 200,
            lr: 0.01,
            weight_decay: 5e-4,
            hidden: 16,
            dropout: 0.5,
            pool_width: 64,
            batch_size: 64,
            fanouts: vec![25, 10],
            unsupervised_epochs: 100,
            embedding: 64,
            walk_length: 2,
        }
    }
}

/// One trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Its graph.
    pub dataset: &'static str,
    /// How it was trained.
    pub model: Method,
    /// Its seed.
    pub seed: u64,
    /// Test and validation accuracy at the best epoch, in [0, 1].
    pub test: f64,
    /// Validation accuracy at the best epoch.
    pub valid: f64,
    /// The epoch of best validation accuracy (unsupervised: the last epoch).
    pub best_epoch: usize,
}

/// The karate club's members in the trained GCN's 2-D output space.
#[derive(Debug, Clone, PartialEq)]
pub struct Karate {
    /// Each member's two outputs.
    pub points: Vec<[f64; 2]>,
    /// Each member's faction.
    pub factions: Vec<u32>,
    /// Test accuracy on the 32 members other than the two leaders.
    pub accuracy: f64,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The settings it ran with.
    pub settings: Settings,
    /// Every run, by graph, model and seed.
    pub runs: Vec<Run>,
    /// The karate club.
    pub karate: Karate,
    /// Seconds the run took.
    pub seconds: f64,
}

impl Report {
    /// Mean and sample standard deviation (percent) of the test accuracy of `model` on `dataset`.
    pub fn summary(&self, dataset: &str, model: Method) -> (f64, f64) {
        let values: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.dataset == dataset && r.model == model)
            .map(|r| 100.0 * r.test)
            .collect();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        (mean, sd)
    }
}

fn config(settings: &Settings, kind: NodeModelKind, graph: &Graph) -> NodeModelConfig {
    NodeModelConfig::new(kind, graph.feature_width(), graph.classes())
        .with_hidden(vec![settings.hidden])
        .with_dropout(settings.dropout)
        .with_pool_width(Some(settings.pool_width))
}

/// The settings' supervised training for `seed`.
fn training(settings: &Settings, seed: u64, sampling: Option<Sampling>) -> NodeTraining {
    NodeTraining {
        epochs: settings.epochs,
        lr: settings.lr,
        weight_decay: settings.weight_decay,
        seed,
        sampling,
    }
}

/// Trains `method` on `graph` with `seed`.
fn train<B>(
    settings: &Settings,
    method: Method,
    graph: &Graph,
    seed: u64,
    device: &B::Device,
) -> Result<(f64, f64, usize)>
where
    B: AutodiffBackend + AggregationBackend,
    B::InnerBackend: AggregationBackend,
{
    let supervised = |kind, sampling| -> Result<(f64, f64, usize)> {
        let fitted = fit::<B>(
            &config(settings, kind, graph),
            graph,
            &training(settings, seed, sampling),
            device,
            |_| {},
        )?;
        Ok((fitted.test_accuracy, fitted.valid_accuracy, fitted.best_epoch))
    };
    match method {
        Method::Full(kind) => supervised(kind, None),
        Method::Sampled => supervised(
            NodeModelKind::SageMean,
            Some(Sampling {
                batch_size: settings.batch_size,
                fanouts: settings.fanouts.clone(),
            }),
        ),
        Method::Unsupervised => {
            let kind = NodeModelKind::SageMean;
            let config = NodeModelConfig::new(kind, graph.feature_width(), settings.embedding)
                .with_hidden(vec![settings.embedding])
                .with_dropout(settings.dropout);
            let training = UnsupervisedTraining {
                epochs: settings.unsupervised_epochs,
                lr: settings.lr,
                walk_length: settings.walk_length,
                negatives: 1,
                seed,
            };
            let fitted = fit_unsupervised::<B>(&config, graph, &training, device, |_| {})?;
            let embeddings = node_embeddings(&fitted.model, graph, kind.normalization(), device)?;
            let probe = probe_nodes(graph, &embeddings)?;
            Ok((
                probe.test_accuracy,
                probe.valid_accuracy,
                settings.unsupervised_epochs,
            ))
        }
    }
}

/// Trains every model on both graphs for every seed, then the karate club's GCN; `log` gets a
/// line per model and graph.
///
/// # Errors
/// Bad settings, or a training error.
pub fn run<B>(settings: &Settings, device: &B::Device, mut log: impl FnMut(&str)) -> Result<Report>
where
    B: AutodiffBackend + AggregationBackend,
    B::InnerBackend: AggregationBackend,
{
    let started = std::time::Instant::now();
    if settings.seeds == 0 {
        return Err(mosaic::MosaicError::invalid(NAME, "seeds 0: expected at least one seed").into());
    }
    let mut runs = Vec::new();
    for (dataset, _) in DATASETS {
        let mut graph = planetoid(dataset)?;
        graph.row_normalize_features();
        for kind in MODELS {
            let model_started = std::time::Instant::now();
            for seed in settings.seed..settings.seed + settings.seeds as u64 {
                let (test, valid, best_epoch) = train::<B>(settings, kind, &graph, seed, device)?;
                runs.push(Run {
                    dataset,
                    model: kind,
                    seed,
                    test,
                    valid,
                    best_epoch,
                });
            }
            let values: Vec<f64> = runs
                .iter()
                .rev()
                .take(settings.seeds)
                .map(|r| 100.0 * r.test)
                .collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            log(&format!(
                "{dataset} {}: test accuracy {mean:.1}% (mean of {} seeds, {:.1} s)",
                kind.name(),
                settings.seeds,
                model_started.elapsed().as_secs_f64()
            ));
        }
    }
    let karate = karate::<B>(settings, device)?;
    log(&format!(
        "karate club GCN: {:.1}% of the 32 members placed in their faction",
        100.0 * karate.accuracy
    ));
    Ok(Report {
        settings: settings.clone(),
        runs,
        karate,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A GCN on the karate club (one-hot features, 16 hidden units, two outputs), trained on the
/// two leaders' factions alone: the members' outputs are their learned 2-D embedding.
fn karate<B>(settings: &Settings, device: &B::Device) -> Result<Karate>
where
    B: AutodiffBackend + AggregationBackend,
    B::InnerBackend: AggregationBackend,
{
    let club = karate_club()?;
    let config = config(settings, NodeModelKind::Gcn, &club).with_dropout(0.0);
    let training = training(settings, settings.seed, None);
    let fitted = fit::<B>(&config, &club, &training, device, |_| {})?;
    let a = adjacency::<B::InnerBackend>(&club, NodeModelKind::Gcn.normalization(), device)?;
    let x = node_features::<B::InnerBackend>(&club, device)?;
    let outputs: Vec<f64> = fitted
        .model
        .forward(&a, x, None)?
        .into_data()
        .iter::<f64>()
        .collect();
    Ok(Karate {
        points: outputs.chunks(2).map(|p| [p[0], p[1]]).collect(),
        factions: club.labels().iter().map(|l| l.unwrap_or(0)).collect(),
        accuracy: fitted.test_accuracy,
    })
}
