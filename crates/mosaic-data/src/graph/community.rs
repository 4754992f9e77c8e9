//! Large random graphs with community structure and informative features, for scale tests
//! and benchmarks.

use super::{Graph, NodeSplit};
use crate::rng::SplitMix64;
use crate::Result;

/// The shape of a [`community_graph`].
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityConfig {
    /// Nodes `N`.
    pub nodes: usize,
    /// Undirected edges `E` (self loops are never drawn; repeated pairs may be).
    pub edges: usize,
    /// Feature width `F`.
    pub features: usize,
    /// Communities, the classes.
    pub communities: usize,
    /// Probability that an edge stays within its first node's community.
    pub within: f64,
    /// Standard deviation of the features' noise around their community's centre.
    pub noise: f32,
    /// Seed of everything drawn.
    pub seed: u64,
}

impl Default for CommunityConfig {
    /// 10,000 nodes, 100,000 edges, 64 features, 8 communities, 80% of edges within.
    fn default() -> Self {
        CommunityConfig {
            nodes: 10_000,
            edges: 100_000,
            features: 64,
            communities: 8,
            within: 0.8,
            noise: 1.0,
            seed: 0,
        }
    }
}

/// A graph where node `i` belongs to community `i mod C`: each edge joins a uniformly drawn
/// node to a node of the same community (probability `within`) or to any other node;
/// features are the community's centre (standard normal, drawn once) plus Gaussian noise.
/// Split: nodes `i ≡ 0 (mod 10)` train, `≡ 1` valid, the rest test. Memory `O(E + N F)`.
///
/// # Errors
/// Fewer than two nodes with edges asked for, no communities, or the sizes
/// [`Graph::new`] refuses.
pub fn community_graph(config: &CommunityConfig) -> Result<Graph> {
    let CommunityConfig {
        nodes,
        edges,
        features,
        communities,
        within,
        noise,
        seed,
    } = *config;
    if communities == 0 || communities > nodes || (edges > 0 && nodes < 2) {
        return Err(crate::DataError::Invalid(format!(
            "community graph: {nodes} nodes, {edges} edges and {communities} communities (expected 1 ≤ communities ≤ nodes, and 2 nodes for an edge)"
        )));
    }
    let mut rng = SplitMix64::new(seed);
    let below = |rng: &mut SplitMix64, n: usize| (rng.next_u64() % n as u64) as usize;
    let mut pairs = Vec::with_capacity(edges);
    while pairs.len() < edges {
        let u = below(&mut rng, nodes);
        let community = u % communities;
        let members = (nodes - community).div_ceil(communities);
        let v = if rng.uniform() < within && members > 1 {
            community + communities * below(&mut rng, members)
        } else {
            below(&mut rng, nodes)
        };
        if u != v {
            pairs.push([u as u32, v as u32]);
        }
    }
    let centres: Vec<f32> = (0..communities * features).map(|_| rng.normal()).collect();
    let mut values = Vec::with_capacity(nodes * features);
    for i in 0..nodes {
        let centre = &centres[(i % communities) * features..][..features];
        values.extend(centre.iter().map(|c| c + noise * rng.normal()));
    }
    let labels = (0..nodes).map(|i| Some((i % communities) as u32)).collect();
    let part = |r: u32| (0..nodes as u32).filter(|i| i % 10 == r).collect();
    let split = NodeSplit {
        train: part(0),
        valid: part(1),
        test: (0..nodes as u32).filter(|i| i % 10 >= 2).collect(),
    };
    Graph::new(
        "community",
        nodes,
        pairs,
        values,
        features,
        labels,
        communities,
        split,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_mostly_stay_within_communities() {
        let config = CommunityConfig {
            nodes: 1000,
            edges: 20_000,
            ..CommunityConfig::default()
        };
        let g = community_graph(&config).unwrap();
        assert_eq!(
            (g.nodes(), g.edges().len(), g.feature_width()),
            (1000, 20_000, 64)
        );
        let within = g.edges().iter().filter(|&&[u, v]| u % 8 == v % 8).count() as f64 / 20_000.0;
        // 0.8 drawn within, plus 1/8 of the 0.2 drawn anywhere.
        assert!((within - 0.825).abs() < 0.02, "share within {within}");
        assert!(g.edges().iter().all(|&[u, v]| u != v));
        assert_eq!(g, community_graph(&config).unwrap(), "deterministic for a seed");
    }

    #[test]
    fn impossible_shapes_are_refused() {
        let err = |c: CommunityConfig| community_graph(&c).unwrap_err().to_string();
        let base = CommunityConfig::default;
        assert!(err(CommunityConfig {
            communities: 0,
            ..base()
        })
        .contains("0 communities"));
        assert!(err(CommunityConfig {
            nodes: 1,
            communities: 1,
            ..base()
        })
        .contains("2 nodes for an edge"));
    }
}
