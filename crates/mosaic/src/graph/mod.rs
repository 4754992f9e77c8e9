//! Graph node embeddings by recursive neighbourhood aggregation: a node's representation is
//! computed from its neighbours' through layers with parameters of their own (GCN,
//! GraphSAGE), trained with labels ([`fit`]).
//!
//! Every layer aggregates over a sparse adjacency with `mosaic-kernels`' aggregation op
//! ([`AggregationBackend`]: CSR, fused on flex and on cubecl backends, one autodiff node);
//! nothing of size `N × N` is ever built. Graphs come from [`mosaic::data::graph`]
//! (Cora, CiteSeer, the karate club, generated community graphs).
//!
//! ```
//! use mosaic::backend::{Cpu, CpuDevice};
//! use mosaic::data::graph::karate_club;
//! use mosaic::graph::{fit, NodeModelConfig, NodeModelKind, NodeTraining};
//!
//! type Train = burn::backend::Autodiff<Cpu>;
//! let club = karate_club()?;
//! // Two labelled members, the two leaders; every other member's faction is predicted.
//! let config = NodeModelConfig::new(NodeModelKind::Gcn, 34, 2).with_hidden(vec![8]).with_dropout(0.0);
//! let training = NodeTraining { epochs: 100, ..NodeTraining::default() };
//! let fitted = fit::<Train>(&config, &club, &training, &CpuDevice::default(), |_| {})?;
//! assert!(fitted.test_accuracy > 0.8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`mosaic::data::graph`]: crate::data::graph

mod conv;
mod input;
mod model;
mod train;

pub use conv::{GcnConv, GcnConvConfig, SageAggregator, SageConv, SageConvConfig};
pub use input::NodeInput;
pub use model::{GraphLayer, NodeModel, NodeModelConfig, NodeModelKind};
pub use mosaic_kernels::{Adjacency, AggregationBackend, Csr, Reduce};
pub use train::{accuracy, fit, NodeFit, NodeTraining};

use burn::tensor::{ops::FloatElem, Tensor, TensorData};
use mosaic_data::graph::{Entries, Graph, Normalization};

use crate::MosaicError;

/// The sparse matrix of `entries` on `device`.
///
/// # Errors
/// Entries the CSR builder refuses (an index out of range, a non-finite value), named.
pub fn adjacency_of<B: AggregationBackend>(
    entries: &Entries,
    device: &B::Device,
) -> crate::Result<Adjacency<B>> {
    let csr = Csr::from_entries(
        entries.nodes,
        entries.nodes,
        &entries.targets,
        &entries.sources,
        entries.weights.as_deref(),
    )
    .map_err(|e| MosaicError::invalid("adjacency", e.to_string()))?;
    Ok(Adjacency::new(csr, device))
}

/// `graph`'s adjacency with `normalization`, on `device`.
///
/// # Errors
/// As [`adjacency_of`].
pub fn adjacency<B: AggregationBackend>(
    graph: &Graph,
    normalization: Normalization,
    device: &B::Device,
) -> crate::Result<Adjacency<B>> {
    adjacency_of(&graph.entries(normalization), device)
}

/// Below this share of non-zero values, [`node_features`] keeps features sparse.
pub const SPARSE_FEATURES_BELOW: f64 = 0.25;

/// `graph`'s node features `[N, F]` on `device`: sparse (a CSR matrix of the non-zero
/// values) when fewer than [`SPARSE_FEATURES_BELOW`] of them are non-zero, dense otherwise.
///
/// # Errors
/// A non-finite feature, named with its node.
pub fn node_features<B: AggregationBackend>(
    graph: &Graph,
    device: &B::Device,
) -> crate::Result<NodeInput<B>> {
    let (width, values) = (graph.feature_width(), graph.features());
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(MosaicError::invalid(
            "graph features",
            format!(
                "graph `{}`: node {} holds {}",
                graph.name(),
                i / width.max(1),
                values[i]
            ),
        ));
    }
    let non_zero = values.iter().filter(|&&v| v != 0.0).count();
    if (non_zero as f64) < SPARSE_FEATURES_BELOW * values.len() as f64 {
        let mut row_ptr = vec![0u32];
        let (mut col, mut weight) = (Vec::with_capacity(non_zero), Vec::with_capacity(non_zero));
        for row in values.chunks(width.max(1)) {
            for (j, &v) in row.iter().enumerate().filter(|(_, &v)| v != 0.0) {
                col.push(j as u32);
                weight.push(v);
            }
            row_ptr.push(col.len() as u32);
        }
        let csr = Csr::new(graph.nodes(), width, row_ptr, col, Some(weight))
            .map_err(|e| MosaicError::invalid("graph features", e.to_string()))?;
        return Ok(NodeInput::Sparse(Adjacency::new(csr, device)));
    }
    let data = TensorData::new(values.to_vec(), [graph.nodes(), width]).convert::<FloatElem<B>>();
    Ok(NodeInput::Dense(Tensor::from_data(data, device)))
}
