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
mod unsupervised;

pub use conv::{GcnConv, GcnConvConfig, SageAggregator, SageConv, SageConvConfig};
pub use input::NodeInput;
pub use model::{GraphLayer, NodeModel, NodeModelConfig, NodeModelKind};
pub use mosaic_kernels::{Adjacency, AggregationBackend, Csr, Reduce};
pub use train::{accuracy, fit, NodeFit, NodeTraining, Sampling};
pub use unsupervised::{
    fit_unsupervised, node_embeddings, probe_nodes, EmbeddingFit, NodeProbe, UnsupervisedTraining,
};

use burn::tensor::{backend::Backend, ops::FloatElem, Int, Tensor, TensorData};
use mosaic_data::graph::{Block, Entries, Graph, Normalization};

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

/// A sampled block's adjacency `[n, m]` (`n` targets, `m` sources) on `device`, for
/// GraphSAGE's aggregators: `1 / k` on each of a target's `k` sampled edges
/// (`Normalization::Mean`), or 1 (`Normalization::None`, the max-pool aggregator's).
///
/// # Errors
/// `Normalization::Gcn` (its symmetric degrees need every neighbour, not a sample), or a
/// block whose indices are out of range.
pub fn block_adjacency<B: AggregationBackend>(
    block: &Block,
    normalization: Normalization,
    device: &B::Device,
) -> crate::Result<Adjacency<B>> {
    let weights = match normalization {
        Normalization::Gcn => {
            return Err(MosaicError::invalid(
                "block adjacency",
                "GCN's normalisation D^-1/2 (A + I) D^-1/2 needs every neighbour's degree: \
                 sampled blocks serve GraphSAGE (mean or max-pool) and MLP layers",
            ))
        }
        Normalization::None => None,
        Normalization::Mean => {
            let mut count = vec![0u32; block.targets];
            for &t in &block.edge_targets {
                count[t as usize] += 1;
            }
            Some(
                block
                    .edge_targets
                    .iter()
                    .map(|&t| 1.0 / count[t as usize] as f32)
                    .collect::<Vec<_>>(),
            )
        }
    };
    let csr = Csr::from_entries(
        block.targets,
        block.nodes.len(),
        &block.edge_targets,
        &block.edge_sources,
        weights.as_deref(),
    )
    .map_err(|e| MosaicError::invalid("block adjacency", e.to_string()))?;
    Ok(Adjacency::new(csr, device))
}

/// `nodes` as an index tensor (for `select`).
fn indices<B: Backend>(nodes: &[u32], device: &B::Device) -> Tensor<B, 1, Int> {
    Tensor::from_data(
        TensorData::new(nodes.iter().map(|&v| i64::from(v)).collect(), [nodes.len()]),
        device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use mosaic_data::graph::karate_club;

    /// A block's mean weights by hand: target 0 samples sources 1, 2 and 2 again, target 1
    /// samples source 0; `NodeInput::rows` gives the features of its rows in their order,
    /// `NodeInput::first` the first rows.
    #[test]
    fn block_weights_and_rows_by_hand() {
        let device = Default::default();
        let block = Block {
            targets: 2,
            nodes: vec![5, 9, 0],
            edge_targets: vec![0, 0, 0, 1],
            edge_sources: vec![1, 2, 2, 0],
        };
        let a = block_adjacency::<NdArray>(&block, Normalization::Mean, &device).unwrap();
        let x = Tensor::<NdArray, 2>::from_floats([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]], &device);
        let h = NdArray::aggregate(&a, x.clone(), mosaic_kernels::Reduce::Sum);
        h.into_data().assert_approx_eq::<f32>(
            &TensorData::from([[(2.0 + 4.0 + 4.0) / 3.0, (20.0 + 40.0 + 40.0) / 3.0], [1.0, 10.0]]),
            burn::tensor::Tolerance::absolute(1e-5),
        );
        let plain = block_adjacency::<NdArray>(&block, Normalization::None, &device).unwrap();
        let h = NdArray::aggregate(&plain, x, mosaic_kernels::Reduce::Sum);
        h.into_data()
            .assert_eq(&TensorData::from([[10.0f32, 100.0], [1.0, 10.0]]), false);

        let club = karate_club().unwrap();
        let features = node_features::<NdArray>(&club, &device).unwrap();
        let NodeInput::Sparse(rows) = features.rows(&[7, 0, 33], &device).unwrap() else {
            panic!("one-hot features are sparse");
        };
        assert_eq!(rows.csr().col(), &[7, 0, 33]);
        let NodeInput::Sparse(first) = features.first(2, &device) else {
            panic!("the first rows of sparse features are sparse");
        };
        assert_eq!(first.csr().col(), &[0, 1]);
        let err = features.rows(&[34], &device).unwrap_err().to_string();
        assert!(err.contains("row 34 is out of range for 34 nodes"), "{err}");
        let dense = NodeInput::Dense(Tensor::<NdArray, 2>::from_floats(
            [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
            &device,
        ));
        let NodeInput::Dense(picked) = dense.rows(&[2, 0], &device).unwrap() else {
            unreachable!("dense rows stay dense")
        };
        picked
            .into_data()
            .assert_eq(&TensorData::from([[5.0f32, 6.0], [1.0, 2.0]]), false);
    }
}
