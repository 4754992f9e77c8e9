//! Neighbour sampling for mini-batches on graphs too large for full batch (GraphSAGE,
//! Hamilton et al. 2017, Algorithm 2): from a batch of target nodes, each layer keeps at most
//! `fan-out` neighbours of every node of the layer above, and the layers' nodes become the
//! bipartite blocks the model aggregates over, outermost first.

use super::Graph;
use crate::rng::SplitMix64;
use crate::{DataError, Result};

/// Every node's neighbours in compressed form: node `v`'s are `neighbours[offsets[v]..offsets[v + 1]]`
/// (both directions of each edge, in edge order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourLists {
    offsets: Vec<u32>,
    neighbours: Vec<u32>,
}

impl NeighbourLists {
    /// `graph`'s neighbour lists.
    pub fn new(graph: &Graph) -> Self {
        let mut offsets = vec![0u32; graph.nodes() + 1];
        for &[u, v] in graph.edges() {
            offsets[u as usize + 1] += 1;
            offsets[v as usize + 1] += 1;
        }
        for i in 0..graph.nodes() {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut neighbours = vec![0u32; offsets[graph.nodes()] as usize];
        for &[u, v] in graph.edges() {
            for (a, b) in [(u, v), (v, u)] {
                neighbours[next[a as usize] as usize] = b;
                next[a as usize] += 1;
            }
        }
        NeighbourLists { offsets, neighbours }
    }

    /// Node `v`'s neighbours.
    pub fn of(&self, v: u32) -> &[u32] {
        &self.neighbours[self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize]
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.offsets.len() - 1
    }
}

/// One layer's bipartite block: `targets` nodes receive from `sources` nodes, the targets
/// being the first `targets` of the sources (so a layer's own features are at hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Number of target nodes `n`.
    pub targets: usize,
    /// The sources' global node ids `[m]`, targets first.
    pub nodes: Vec<u32>,
    /// Each sampled edge's target, a local index `< n`.
    pub edge_targets: Vec<u32>,
    /// Each sampled edge's source, a local index `< m`.
    pub edge_sources: Vec<u32>,
}

/// Samples the blocks of a mini-batch: for `fanouts = [f_1, …, f_L]` (the layer next to the
/// output first), block `L` holds the batch and at most `f_1` sampled neighbours of each
/// batch node, block `L - 1` at most `f_2` neighbours of each of those, and so on. Returns
/// the blocks outermost first (the order a model applies them in). A node with at most `f`
/// neighbours keeps all of them; others keep `f` drawn without replacement (a partial
/// Fisher–Yates shuffle of their list). The same seed gives the same blocks.
///
/// # Errors
/// No fan-outs, a fan-out of 0, an empty batch, or a batch node out of range.
pub fn sample_blocks(
    lists: &NeighbourLists,
    batch: &[u32],
    fanouts: &[usize],
    seed: u64,
) -> Result<Vec<Block>> {
    if fanouts.is_empty() || fanouts.contains(&0) {
        return Err(DataError::Invalid(format!(
            "fan-outs {fanouts:?}: expected at least one layer, each keeping at least 1 neighbour"
        )));
    }
    if batch.is_empty() {
        return Err(DataError::Invalid("an empty batch of target nodes".into()));
    }
    if let Some(&v) = batch.iter().find(|&&v| v as usize >= lists.nodes()) {
        return Err(DataError::Invalid(format!(
            "batch node {v} is out of range for {} nodes",
            lists.nodes()
        )));
    }
    let mut rng = SplitMix64::new(seed);
    let mut blocks = Vec::with_capacity(fanouts.len());
    let mut frontier: Vec<u32> = batch.to_vec();
    // Each node's local index in the block being built (`UNSEEN` elsewhere): one array for
    // all blocks, reset after each through the block's own node list.
    const UNSEEN: u32 = u32::MAX;
    let mut local = vec![UNSEEN; lists.nodes()];
    let mut scratch = Vec::new();
    for &fanout in fanouts {
        let mut nodes = Vec::with_capacity(frontier.len() * (fanout + 1));
        for &v in &frontier {
            if local[v as usize] == UNSEEN {
                local[v as usize] = nodes.len() as u32;
            }
            nodes.push(v);
        }
        let (mut edge_targets, mut edge_sources) = (Vec::new(), Vec::new());
        for (t, &v) in frontier.iter().enumerate() {
            let all = lists.of(v);
            let picked: &[u32] = if all.len() <= fanout {
                all
            } else {
                scratch.clear();
                scratch.extend_from_slice(all);
                for i in 0..fanout {
                    let j = i + (rng.next_u64() % (scratch.len() - i) as u64) as usize;
                    scratch.swap(i, j);
                }
                &scratch[..fanout]
            };
            for &u in picked {
                if local[u as usize] == UNSEEN {
                    local[u as usize] = nodes.len() as u32;
                    nodes.push(u);
                }
                edge_targets.push(t as u32);
                edge_sources.push(local[u as usize]);
            }
        }
        for &v in &nodes {
            local[v as usize] = UNSEEN;
        }
        blocks.push(Block {
            targets: frontier.len(),
            nodes: nodes.clone(),
            edge_targets,
            edge_sources,
        });
        frontier = nodes;
    }
    blocks.reverse();
    Ok(blocks)
}

/// Positive pairs for unsupervised GraphSAGE (Hamilton et al. 2017, eq. 1): for each node of
/// `anchors`, a node that co-occurs with it on a random walk. From the anchor, the walk takes
/// `walk_length` uniform steps along edges; the positive is the node reached after a step
/// drawn uniformly from `1..=walk_length` (a node without neighbours is its own positive).
/// The same seed gives the same positives.
///
/// # Errors
/// A walk length of 0, or an anchor out of range.
pub fn walk_positives(
    lists: &NeighbourLists,
    anchors: &[u32],
    walk_length: usize,
    seed: u64,
) -> Result<Vec<u32>> {
    if walk_length == 0 {
        return Err(DataError::Invalid(
            "walk length 0: expected at least one step".into(),
        ));
    }
    if let Some(&v) = anchors.iter().find(|&&v| v as usize >= lists.nodes()) {
        return Err(DataError::Invalid(format!(
            "anchor node {v} is out of range for {} nodes",
            lists.nodes()
        )));
    }
    let mut rng = SplitMix64::new(seed);
    Ok(anchors
        .iter()
        .map(|&anchor| {
            let stop = 1 + (rng.next_u64() % walk_length as u64) as usize;
            let mut at = anchor;
            for _ in 0..stop {
                let next = lists.of(at);
                if next.is_empty() {
                    break;
                }
                at = next[(rng.next_u64() % next.len() as u64) as usize];
            }
            at
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{community_graph, CommunityConfig};

    fn graph() -> Graph {
        let config = CommunityConfig {
            nodes: 500,
            edges: 4000,
            features: 1,
            ..CommunityConfig::default()
        };
        community_graph(&config).unwrap()
    }

    /// Every sampled edge is an edge of the graph, every node keeps at most its fan-out (all
    /// its neighbours when it has fewer), each block's targets are its first nodes and the
    /// next block's sources, and a seed gives the same blocks.
    #[test]
    fn samples_true_neighbours_within_the_fanout() {
        let graph = graph();
        let lists = NeighbourLists::new(&graph);
        let batch = [3u32, 77, 250, 499];
        let blocks = sample_blocks(&lists, &batch, &[5, 3], 11).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(&blocks[1].nodes[..4], &batch);
        assert_eq!(blocks[1].targets, 4);
        assert_eq!(blocks[0].targets, blocks[1].nodes.len());
        assert_eq!(&blocks[0].nodes[..blocks[0].targets], &blocks[1].nodes[..]);
        for (block, fanout) in blocks.iter().rev().zip([5, 3]) {
            for t in 0..block.targets {
                let target = block.nodes[t];
                let sampled: Vec<u32> = (0..block.edge_targets.len())
                    .filter(|&k| block.edge_targets[k] as usize == t)
                    .map(|k| block.nodes[block.edge_sources[k] as usize])
                    .collect();
                let degree = lists.of(target).len();
                assert_eq!(sampled.len(), degree.min(fanout), "node {target}");
                for s in &sampled {
                    assert!(lists.of(target).contains(s), "{s} is no neighbour of {target}");
                }
            }
        }
        assert_eq!(blocks, sample_blocks(&lists, &batch, &[5, 3], 11).unwrap());
        assert_ne!(blocks, sample_blocks(&lists, &batch, &[5, 3], 12).unwrap());
    }

    #[test]
    fn neighbour_lists_hold_both_directions() {
        let graph = graph();
        let lists = NeighbourLists::new(&graph);
        let degrees = graph.degrees();
        for v in 0..graph.nodes() as u32 {
            assert_eq!(lists.of(v).len(), degrees[v as usize] as usize);
        }
        let [u, v] = graph.edges()[0];
        assert!(lists.of(u).contains(&v) && lists.of(v).contains(&u));
    }

    #[test]
    fn bad_requests_are_named() {
        let lists = NeighbourLists::new(&graph());
        let err = |r: Result<Vec<Block>>| r.unwrap_err().to_string();
        assert!(err(sample_blocks(&lists, &[1], &[], 0)).contains("at least one layer"));
        assert!(err(sample_blocks(&lists, &[1], &[3, 0], 0)).contains("fan-outs [3, 0]"));
        assert!(err(sample_blocks(&lists, &[], &[3], 0)).contains("empty batch"));
        assert!(err(sample_blocks(&lists, &[500], &[3], 0))
            .contains("batch node 500 is out of range for 500 nodes"));
    }

    /// A walk of one step reaches a neighbour; longer walks reach nodes within that many
    /// hops (checked by breadth-first search); an isolated node is its own positive.
    #[test]
    fn walk_positives_stay_within_the_walk() {
        let graph = graph();
        let lists = NeighbourLists::new(&graph);
        let anchors: Vec<u32> = (0..graph.nodes() as u32).collect();
        let one = walk_positives(&lists, &anchors, 1, 4).unwrap();
        for (&a, &p) in anchors.iter().zip(&one) {
            assert!(
                lists.of(a).contains(&p) || (lists.of(a).is_empty() && p == a),
                "{a} -> {p}"
            );
        }
        let hops = |from: u32| {
            let mut distance = vec![usize::MAX; lists.nodes()];
            distance[from as usize] = 0;
            let mut queue = std::collections::VecDeque::from([from]);
            while let Some(v) = queue.pop_front() {
                for &u in lists.of(v) {
                    if distance[u as usize] == usize::MAX {
                        distance[u as usize] = distance[v as usize] + 1;
                        queue.push_back(u);
                    }
                }
            }
            distance
        };
        let three = walk_positives(&lists, &anchors, 3, 4).unwrap();
        let mut beyond_one = 0;
        for (&a, &p) in anchors.iter().zip(&three).take(100) {
            let d = hops(a)[p as usize];
            assert!(d <= 3, "{a} -> {p} is {d} hops away");
            beyond_one += usize::from(d >= 2);
        }
        assert!(beyond_one > 0, "some walks of 3 steps end 2 or 3 hops away");
        assert_eq!(three, walk_positives(&lists, &anchors, 3, 4).unwrap());
        let isolated = Graph::new(
            "isolated",
            3,
            vec![[0, 1]],
            vec![0.0; 3],
            1,
            vec![None; 3],
            1,
            Default::default(),
        )
        .unwrap();
        let lists = NeighbourLists::new(&isolated);
        assert_eq!(walk_positives(&lists, &[0, 1, 2], 2, 0).unwrap()[2], 2);
        assert!(walk_positives(&lists, &[0], 0, 0)
            .unwrap_err()
            .to_string()
            .contains("walk length 0"));
        assert!(walk_positives(&lists, &[3], 1, 0)
            .unwrap_err()
            .to_string()
            .contains("anchor node 3 is out of range for 3 nodes"));
    }
}
