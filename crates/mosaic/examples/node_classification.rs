//! Trains a node classifier on a shipped graph for several seeds and prints the test
//! accuracy at the best validation epoch, with its mean and standard deviation.
//!
//! ```sh
//! cargo run --release -p mosaic --features flex --example node_classification -- cora gcn 10
//! ```
//! Arguments: `cora` | `citeseer`, `gcn` | `sage-mean` | `sage-pool` | `mlp`, seeds.

use burn::backend::Autodiff;
use mosaic::backend::{Cpu, CpuDevice};
use mosaic::data::graph::planetoid;
use mosaic::graph::{fit, NodeModelConfig, NodeModelKind, NodeTraining};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("cora", String::as_str);
    let kind = match args.get(1).map_or("gcn", String::as_str) {
        "gcn" => NodeModelKind::Gcn,
        "sage-mean" => NodeModelKind::SageMean,
        "sage-pool" => NodeModelKind::SagePool,
        "mlp" => NodeModelKind::Mlp,
        other => return Err(format!("unknown model `{other}`: gcn, sage-mean, sage-pool or mlp").into()),
    };
    let seeds: u64 = args.get(2).map_or(Ok(10), |s| s.parse())?;
    let mut graph = planetoid(name)?;
    graph.row_normalize_features();
    let config = NodeModelConfig::new(kind, graph.feature_width(), graph.classes()).with_pool_width(Some(64));
    let start = std::time::Instant::now();
    let mut accuracies = Vec::new();
    for seed in 0..seeds {
        let training = NodeTraining {
            seed,
            ..NodeTraining::default()
        };
        let fitted = fit::<Autodiff<Cpu>>(&config, &graph, &training, &CpuDevice::default(), |_| {})?;
        println!(
            "{name} {} seed {seed}: test {:.1}% (valid {:.1}%, epoch {})",
            kind.name(),
            100.0 * fitted.test_accuracy,
            100.0 * fitted.valid_accuracy,
            fitted.best_epoch
        );
        accuracies.push(100.0 * fitted.test_accuracy);
    }
    let n = accuracies.len() as f64;
    let mean = accuracies.iter().sum::<f64>() / n;
    let sd = (accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    println!(
        "{name} {}: {mean:.1} ± {sd:.1}% over {seeds} seeds ({:.1} s)",
        kind.name(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
