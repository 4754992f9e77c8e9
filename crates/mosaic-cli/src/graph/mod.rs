//! `mosaic reproduce --experiment graph`: node classification by neighbourhood aggregation
//! on the citation graphs Cora and CiteSeer (the public Planetoid split), and the karate
//! club's learned 2-D embeddings.
//!
//! Each model is trained full batch with the GCN paper's settings (row-normalised features,
//! 16 hidden units, dropout 0.5, Adam lr 0.01, weight decay 5e-4 on the first layer, 200
//! epochs) for `seeds` seeds, and read at its epoch of best validation accuracy:
//!
//! - GCN (Kipf & Welling 2017), the published figures beside it (81.5% and 70.3%);
//! - GraphSAGE (Hamilton et al. 2017) with the mean and the max-pool aggregator (pooling
//!   width 64), supervised;
//! - an MLP on the raw features: the same classifier without the graph.
//!
//! Everything is seeded: the same settings give the same numbers on every run.

mod report;

pub use report::{check_output, csv, markdown, svg, write};

use crate::error::Result;
use burn::tensor::backend::AutodiffBackend;
use mosaic::data::graph::{karate_club, planetoid, Graph};
use mosaic::graph::{
    adjacency, fit, node_features, AggregationBackend, NodeModelConfig, NodeModelKind, NodeTraining,
};
use serde::Serialize;

/// The experiment's name, and the stem of its files.
pub const NAME: &str = "graph";

/// The files the experiment writes in its output folder; nothing else there is touched.
pub const FILES: [&str; 3] = ["graph.md", "graph.csv", "graph.svg"];

const CSV_HEADER: &str = "dataset,model,seed,test_accuracy,valid_accuracy,best_epoch";

/// The models compared, in the tables' order.
pub const MODELS: [NodeModelKind; 4] = [
    NodeModelKind::Gcn,
    NodeModelKind::SageMean,
    NodeModelKind::SagePool,
    NodeModelKind::Mlp,
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
    /// Full-batch epochs.
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
}

impl Default for Settings {
    /// The GCN paper's settings, 10 seeds.
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
        }
    }
}

/// One trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Its graph.
    pub dataset: &'static str,
    /// Its kind.
    pub model: NodeModelKind,
    /// Its seed.
    pub seed: u64,
    /// Test and validation accuracy at the best epoch, in [0, 1].
    pub test: f64,
    /// Validation accuracy at the best epoch.
    pub valid: f64,
    /// The epoch of best validation accuracy.
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
    pub fn summary(&self, dataset: &str, model: NodeModelKind) -> (f64, f64) {
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
                let training = NodeTraining {
                    epochs: settings.epochs,
                    lr: settings.lr,
                    weight_decay: settings.weight_decay,
                    seed,
                };
                let fitted = fit::<B>(&config(settings, kind, &graph), &graph, &training, device, |_| {})?;
                runs.push(Run {
                    dataset,
                    model: kind,
                    seed,
                    test: fitted.test_accuracy,
                    valid: fitted.valid_accuracy,
                    best_epoch: fitted.best_epoch,
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
    let training = NodeTraining {
        epochs: settings.epochs,
        lr: settings.lr,
        weight_decay: settings.weight_decay,
        seed: settings.seed,
    };
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
