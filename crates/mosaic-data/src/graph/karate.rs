//! Zachary's karate club (1977), shipped as `data/graphs/karate.txt`: 34 members, 78
//! friendships, and the faction each member joined when the club split.

use std::path::Path;

use super::{Graph, NodeSplit};
use crate::{DataError, Result};

const PATH: &str = "crates/mosaic-data/data/graphs/karate.txt";
const TEXT: &str = include_str!("../../data/graphs/karate.txt");

/// The karate club: one-hot features (the `[34, 34]` identity, as in Kipf & Welling's
/// demonstration), label = faction (0: Mr. Hi's, 1: the Officer's), trained on the two
/// leaders alone (members 0 and 33), tested on the other 32.
///
/// # Errors
/// None with the shipped file; a damaged checkout is reported with the file and line.
pub fn karate_club() -> Result<Graph> {
    parse(TEXT, Path::new(PATH))
}

fn parse(text: &str, path: &Path) -> Result<Graph> {
    let mut factions: Option<Vec<u32>> = None;
    let mut edges = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || DataError::layout(path, format!("line {}: `{line}`", number + 1));
        if let Some(rest) = line.strip_prefix("factions ") {
            factions = Some(
                rest.split_whitespace()
                    .map(|v| v.parse().map_err(|_| bad()))
                    .collect::<Result<_>>()?,
            );
            continue;
        }
        let pair: Vec<u32> = line
            .split_whitespace()
            .map(|v| v.parse().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        edges.push(<[u32; 2]>::try_from(pair).map_err(|_| bad())?);
    }
    let factions = factions.ok_or_else(|| DataError::layout(path, "no `factions` line"))?;
    let nodes = factions.len();
    let mut features = vec![0f32; nodes * nodes];
    for i in 0..nodes {
        features[i * nodes + i] = 1.0;
    }
    let split = NodeSplit {
        train: vec![0, nodes as u32 - 1],
        valid: Vec::new(),
        test: (1..nodes as u32 - 1).collect(),
    };
    let labels = factions.into_iter().map(Some).collect();
    Graph::new("karate", nodes, edges, features, nodes, labels, 2, split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_club_as_published() {
        let g = karate_club().unwrap();
        assert_eq!((g.nodes(), g.edges().len()), (34, 78));
        let officers = g.labels().iter().filter(|&&l| l == Some(1)).count();
        assert_eq!(officers, 17);
        // Mr. Hi (0) and the Officer (33) are the two most connected members.
        let degrees = g.degrees();
        assert_eq!((degrees[0], degrees[33]), (16, 17));
        assert!(degrees
            .iter()
            .enumerate()
            .all(|(i, &d)| i == 0 || i == 33 || d < 16));
    }

    #[test]
    fn damaged_lines_are_named() {
        let err = parse("factions 0 1\n0 x\n", Path::new("k.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("k.txt: line 2: `0 x`"), "{err}");
        let err = parse("0 1\n", Path::new("k.txt")).unwrap_err().to_string();
        assert!(err.contains("no `factions` line"), "{err}");
        let err = parse("factions 0 1\n0 5\n", Path::new("k.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("edge 0 (0 - 5) is out of range"), "{err}");
    }
}
