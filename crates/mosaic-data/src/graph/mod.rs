//! Graphs with node features and labels: the citation graphs Cora and CiteSeer with the
//! public Planetoid split ([`planetoid`]), Zachary's karate club ([`karate_club`]), and a
//! generator of large graphs with community structure ([`community_graph`]), and the
//! neighbour sampler of mini-batch training ([`sample_blocks`]).
//!
//! A [`Graph`] keeps its undirected edges once each; [`Graph::entries`] turns them into the
//! directed entries of a sparse matrix that the aggregation op takes (both directions, and
//! the normalisation a layer wants):
//!
//! | [`Normalization`] | matrix | used by |
//! |---|---|---|
//! | `Gcn` | `D̂^-1/2 (A + I) D̂^-1/2`, `D̂ = diag(deg + 1)` | GCN (Kipf & Welling 2017) |
//! | `Mean` | `D^-1 A` (rows of isolated nodes empty) | GraphSAGE's mean aggregator |
//! | `None` | `A` (all entries 1) | sums, GraphSAGE's max-pool aggregator |
//!
//! ```
//! use mosaic_data::graph::{planetoid, Normalization};
//!
//! let cora = planetoid("cora")?;
//! assert_eq!((cora.nodes(), cora.edges().len(), cora.feature_width()), (2708, 5278, 1433));
//! let a = cora.entries(Normalization::Gcn);
//! assert_eq!(a.targets.len(), 2 * 5278 + 2708); // both directions and a self loop each
//! # Ok::<(), mosaic_data::DataError>(())
//! ```

mod community;
mod karate;
mod planetoid;
mod sampler;

pub use community::{community_graph, CommunityConfig};
pub use karate::karate_club;
pub use planetoid::{planetoid, planetoid_from_bytes, PLANETOID};
pub use sampler::{sample_blocks, walk_positives, Block, NeighbourLists};

use crate::{DataError, Result};

/// The nodes of each split.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSplit {
    /// Labelled nodes to train on.
    pub train: Vec<u32>,
    /// Nodes to choose settings on.
    pub valid: Vec<u32>,
    /// Nodes to report on.
    pub test: Vec<u32>,
}

/// An undirected graph with a feature vector and at most one label per node.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    name: String,
    nodes: usize,
    edges: Vec<[u32; 2]>,
    features: Vec<f32>,
    feature_width: usize,
    labels: Vec<Option<u32>>,
    classes: usize,
    split: NodeSplit,
}

/// Which matrix [`Graph::entries`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// `D̂^-1/2 (A + I) D̂^-1/2` with `D̂ = diag(deg + 1)`: every node gets a self loop.
    Gcn,
    /// `D^-1 A`: each row averages the node's neighbours.
    Mean,
    /// `A`: every entry 1.
    None,
}

/// The entries of a sparse `[nodes, nodes]` matrix: row `targets[k]` receives from
/// `sources[k]` with value `weights[k]` (1 when `weights` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entries {
    /// Rows and columns.
    pub nodes: usize,
    /// The row of each entry.
    pub targets: Vec<u32>,
    /// The column of each entry.
    pub sources: Vec<u32>,
    /// The value of each entry, if not all 1.
    pub weights: Option<Vec<f32>>,
}

impl Graph {
    /// A graph from its parts. `features` is row-major `[nodes, feature_width]`; `edges` are
    /// undirected (`[u, v]` and `[v, u]` are the same edge; repeat an edge to weight it
    /// twice); self loops are allowed.
    ///
    /// # Errors
    /// A graph without nodes; an edge, label or split node out of range (named with its
    /// position); features or labels not one per node; a split node without a label in
    /// `train`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: impl Into<String>,
        nodes: usize,
        edges: Vec<[u32; 2]>,
        features: Vec<f32>,
        feature_width: usize,
        labels: Vec<Option<u32>>,
        classes: usize,
        split: NodeSplit,
    ) -> Result<Graph> {
        let name = name.into();
        let bad = |message: String| Err(DataError::Invalid(format!("graph `{name}`: {message}")));
        if nodes == 0 {
            return bad("a graph needs at least one node".into());
        }
        if nodes > i32::MAX as usize || edges.len() > (i32::MAX as usize - nodes) / 2 {
            return bad(format!(
                "{nodes} nodes and {} edges: too many for 32-bit indices",
                edges.len()
            ));
        }
        if let Some(k) = edges.iter().position(|e| e.iter().any(|&v| v as usize >= nodes)) {
            return bad(format!(
                "edge {k} ({} - {}) is out of range for {nodes} nodes",
                edges[k][0], edges[k][1]
            ));
        }
        if features.len() != nodes * feature_width {
            return bad(format!(
                "features: expected {nodes} rows of {feature_width} ({} values), got {} values",
                nodes * feature_width,
                features.len()
            ));
        }
        if labels.len() != nodes {
            return bad(format!(
                "labels: expected {nodes} (one per node), got {}",
                labels.len()
            ));
        }
        if let Some(i) = labels
            .iter()
            .position(|l| l.is_some_and(|c| c as usize >= classes))
        {
            return bad(format!(
                "node {i} has label {:?}, expected one of {classes} classes",
                labels[i]
            ));
        }
        for (part, members) in [
            ("train", &split.train),
            ("valid", &split.valid),
            ("test", &split.test),
        ] {
            if let Some(&v) = members.iter().find(|&&v| v as usize >= nodes) {
                return bad(format!(
                    "{part} split: node {v} is out of range for {nodes} nodes"
                ));
            }
        }
        if let Some(&v) = split.train.iter().find(|&&v| labels[v as usize].is_none()) {
            return bad(format!("train split: node {v} has no label"));
        }
        Ok(Graph {
            name,
            nodes,
            edges,
            features,
            feature_width,
            labels,
            classes,
            split,
        })
    }

    /// The graph's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of nodes `N`.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The undirected edges, each once.
    pub fn edges(&self) -> &[[u32; 2]] {
        &self.edges
    }

    /// Row-major `[N, F]` node features.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// Feature width `F`.
    pub fn feature_width(&self) -> usize {
        self.feature_width
    }

    /// Each node's label, if any.
    pub fn labels(&self) -> &[Option<u32>] {
        &self.labels
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The split's nodes.
    pub fn split(&self) -> &NodeSplit {
        &self.split
    }

    /// Scales each node's features to sum to 1 (rows summing to 0 are left as they are): the
    /// preprocessing of the GCN paper's experiments.
    pub fn row_normalize_features(&mut self) {
        if self.feature_width == 0 {
            return;
        }
        for row in self.features.chunks_mut(self.feature_width) {
            let sum: f32 = row.iter().sum();
            if sum != 0.0 {
                row.iter_mut().for_each(|v| *v /= sum);
            }
        }
    }

    /// Each node's degree: the number of edge ends at it (a self loop counts twice).
    pub fn degrees(&self) -> Vec<u32> {
        let mut degrees = vec![0u32; self.nodes];
        for &[u, v] in &self.edges {
            degrees[u as usize] += 1;
            degrees[v as usize] += 1;
        }
        degrees
    }

    /// Every node's neighbours, each edge giving `u → v` and `v → u` (a self loop gives two
    /// entries `u → u`), in edge order.
    pub fn neighbours(&self) -> Vec<Vec<u32>> {
        let mut lists = vec![Vec::new(); self.nodes];
        for &[u, v] in &self.edges {
            lists[u as usize].push(v);
            lists[v as usize].push(u);
        }
        lists
    }

    /// The directed entries of the normalised adjacency (see [`Normalization`]): for each edge
    /// `u - v` the entries `(u, v)` and `(v, u)`, in edge order, then (`Gcn`) one self loop
    /// per node.
    pub fn entries(&self, normalization: Normalization) -> Entries {
        let degrees = self.degrees();
        let mut targets = Vec::with_capacity(2 * self.edges.len() + self.nodes);
        let mut sources = Vec::with_capacity(targets.capacity());
        for &[u, v] in &self.edges {
            targets.extend([u, v]);
            sources.extend([v, u]);
        }
        if normalization == Normalization::Gcn {
            targets.extend(0..self.nodes as u32);
            sources.extend(0..self.nodes as u32);
        }
        let weights = match normalization {
            Normalization::None => None,
            Normalization::Mean => Some(
                targets
                    .iter()
                    .map(|&t| 1.0 / degrees[t as usize] as f32)
                    .collect(),
            ),
            Normalization::Gcn => {
                let scale: Vec<f64> = degrees.iter().map(|&d| 1.0 / (d as f64 + 1.0).sqrt()).collect();
                Some(
                    targets
                        .iter()
                        .zip(&sources)
                        .map(|(&t, &s)| (scale[t as usize] * scale[s as usize]) as f32)
                        .collect(),
                )
            }
        };
        Entries {
            nodes: self.nodes,
            targets,
            sources,
            weights,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path 0 - 1 - 2 plus the edge 1 - 3: degrees 1, 3, 1, 1.
    fn star() -> Graph {
        Graph::new(
            "star",
            4,
            vec![[0, 1], [1, 2], [1, 3]],
            vec![0.0; 4],
            1,
            vec![None; 4],
            1,
            NodeSplit::default(),
        )
        .unwrap()
    }

    /// Â = A + I with D̂ = diag(2, 4, 2, 2): Â[0, 1] = 1/√(2·4), Â[1, 1] = 1/4, Â[0, 0] = 1/2.
    #[test]
    fn gcn_normalization_by_hand() {
        let e = star().entries(Normalization::Gcn);
        let mut dense = [[0.0f64; 4]; 4];
        for k in 0..e.targets.len() {
            dense[e.targets[k] as usize][e.sources[k] as usize] += e.weights.as_ref().unwrap()[k] as f64;
        }
        let h = 1.0 / 8f64.sqrt();
        let want = [
            [0.5, h, 0.0, 0.0],
            [h, 0.25, h, h],
            [0.0, h, 0.5, 0.0],
            [0.0, h, 0.0, 0.5],
        ];
        for (i, (row, want)) in dense.iter().zip(want).enumerate() {
            for (j, (a, w)) in row.iter().zip(want).enumerate() {
                assert!((a - w).abs() < 1e-7, "Â[{i}, {j}] = {a}, expected {w}");
            }
        }
    }

    #[test]
    fn mean_rows_average_the_neighbours() {
        let e = star().entries(Normalization::Mean);
        let w = e.weights.unwrap();
        let row1: Vec<f32> = (0..w.len())
            .filter(|&k| e.targets[k] == 1)
            .map(|k| w[k])
            .collect();
        assert_eq!(row1, vec![1.0 / 3.0; 3]);
        assert!(
            e.targets.iter().zip(&e.sources).all(|(t, s)| t != s),
            "no self loops"
        );
    }

    /// The normalised adjacency's largest eigenvalue is 1, with eigenvector `√(deg + 1)`:
    /// `Â v = v` exactly, and power iteration on `Â` (all of whose eigenvalues lie in
    /// (-1, 1]) from a positive start converges to 1.
    #[test]
    fn largest_eigenvalue_of_the_gcn_matrix_is_one() {
        let graph = community_graph(&CommunityConfig {
            nodes: 300,
            edges: 1200,
            features: 1,
            ..CommunityConfig::default()
        })
        .unwrap();
        let e = graph.entries(Normalization::Gcn);
        let multiply = |x: &[f64]| {
            let mut y = vec![0.0; x.len()];
            for k in 0..e.targets.len() {
                y[e.targets[k] as usize] += e.weights.as_ref().unwrap()[k] as f64 * x[e.sources[k] as usize];
            }
            y
        };
        let v: Vec<f64> = graph.degrees().iter().map(|&d| (d as f64 + 1.0).sqrt()).collect();
        for (a, b) in multiply(&v).iter().zip(&v) {
            assert!((a - b).abs() < 1e-5 * b, "Â v = {a}, v = {b}");
        }
        let mut x: Vec<f64> = (0..graph.nodes()).map(|i| 1.0 + (i % 7) as f64).collect();
        let mut rayleigh = 0.0;
        for _ in 0..500 {
            let y = multiply(&x);
            let norm = y.iter().map(|v| v * v).sum::<f64>().sqrt();
            rayleigh =
                x.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>() / x.iter().map(|v| v * v).sum::<f64>();
            x = y.into_iter().map(|v| v / norm).collect();
        }
        assert!((rayleigh - 1.0).abs() < 1e-5, "largest eigenvalue {rayleigh}");
    }

    #[test]
    fn bad_graphs_are_named() {
        let err = |r: Result<Graph>| r.unwrap_err().to_string();
        let split = NodeSplit::default;
        assert!(err(Graph::new("g", 0, vec![], vec![], 1, vec![], 1, split())).contains("at least one node"));
        assert!(err(Graph::new(
            "g",
            2,
            vec![[0, 2]],
            vec![0.0; 2],
            1,
            vec![None; 2],
            1,
            split()
        ))
        .contains("edge 0 (0 - 2) is out of range for 2 nodes"));
        assert!(err(Graph::new(
            "g",
            2,
            vec![],
            vec![0.0; 3],
            1,
            vec![None; 2],
            1,
            split()
        ))
        .contains("features: expected 2 rows of 1 (2 values), got 3"));
        assert!(err(Graph::new(
            "g",
            2,
            vec![],
            vec![0.0; 2],
            1,
            vec![None],
            1,
            split()
        ))
        .contains("labels: expected 2"));
        assert!(err(Graph::new(
            "g",
            2,
            vec![],
            vec![0.0; 2],
            1,
            vec![Some(3), None],
            2,
            split()
        ))
        .contains("node 0 has label Some(3), expected one of 2 classes"));
        let train = NodeSplit {
            train: vec![1],
            ..split()
        };
        assert!(err(Graph::new(
            "g",
            2,
            vec![],
            vec![0.0; 2],
            1,
            vec![None; 2],
            1,
            train
        ))
        .contains("node 1 has no label"));
        let test = NodeSplit {
            test: vec![5],
            ..split()
        };
        assert!(err(Graph::new(
            "g",
            2,
            vec![],
            vec![0.0; 2],
            1,
            vec![None; 2],
            1,
            test
        ))
        .contains("test split: node 5"));
    }
}
