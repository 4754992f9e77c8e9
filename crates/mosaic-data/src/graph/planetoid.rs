//! Cora and CiteSeer with the public Planetoid split (Yang, Cohen & Salakhutdinov 2016),
//! shipped in `data/graphs/` as converted by `data/graphs/convert_planetoid.py` (Kipf &
//! Welling's loading procedure). Tensors, all i64: `feature_index [nnz, 2]` (node, feature)
//! of the binary bag-of-words, `feature_shape [2]`, `edges [E, 2]` (each undirected edge once),
//! `labels [N]` (-1: none), `train_index`, `val_index`, `test_index`.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::{Graph, NodeSplit};
use crate::{DataError, Result};

/// The shipped Planetoid graphs: name, file (for messages) and bytes.
pub const PLANETOID: [(&str, &str, &[u8]); 2] = [
    (
        "cora",
        "crates/mosaic-data/data/graphs/cora.safetensors",
        include_bytes!("../../data/graphs/cora.safetensors"),
    ),
    (
        "citeseer",
        "crates/mosaic-data/data/graphs/citeseer.safetensors",
        include_bytes!("../../data/graphs/citeseer.safetensors"),
    ),
];

const KEYS: [&str; 7] = [
    "feature_index",
    "feature_shape",
    "edges",
    "labels",
    "train_index",
    "val_index",
    "test_index",
];

/// `cora` (2708 nodes, 5278 edges, 1433 features, 7 classes) or `citeseer` (3327, 4552,
/// 3703, 6; 15 isolated test-range nodes without a label), with the public split: 20
/// labelled nodes per class to train on, 500 to validate, 1000 to test. Features are the raw
/// binary bag-of-words ([`Graph::row_normalize_features`] gives the GCN paper's input).
///
/// # Errors
/// Another name (the message lists the shipped ones), or a damaged file.
pub fn planetoid(name: &str) -> Result<Graph> {
    let (_, path, bytes) = PLANETOID.iter().find(|(n, _, _)| *n == name).ok_or_else(|| {
        DataError::Invalid(format!(
            "no Planetoid graph `{name}`: the shipped ones are `cora` and `citeseer`"
        ))
    })?;
    planetoid_from_bytes(name, bytes, Path::new(path))
}

/// A Planetoid graph from the bytes of a file in the layout above (`path` for messages).
///
/// # Errors
/// Bytes that are not safetensors, a missing tensor, a tensor of another dtype or shape,
/// or values out of range: each names the file and the tensor.
pub fn planetoid_from_bytes(name: &str, bytes: &[u8], path: &Path) -> Result<Graph> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| DataError::layout(path, format!("not a safetensors file ({e})")))?;
    let mut tensors: HashMap<&str, (Vec<usize>, Vec<i64>)> = HashMap::new();
    for key in KEYS {
        let view = file
            .tensor(key)
            .map_err(|_| DataError::layout(path, format!("no tensor `{key}`")))?;
        if view.dtype() != Dtype::I64 {
            return Err(DataError::layout(
                path,
                format!("`{key}` is {:?}, expected I64", view.dtype()),
            ));
        }
        let values = view
            .data()
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        tensors.insert(key, (view.shape().to_vec(), values));
    }
    let (_, shape) = &tensors["feature_shape"];
    let [nodes, width] = match shape.as_slice() {
        &[n, f] if n > 0 && f >= 0 => [n as usize, f as usize],
        other => {
            return Err(DataError::layout(
                path,
                format!("`feature_shape` is {other:?}, expected [nodes, features]"),
            ))
        }
    };
    let pairs = |key: &str, bounds: [usize; 2]| -> Result<Vec<[u32; 2]>> {
        let (shape, values) = &tensors[key];
        if shape.len() != 2 || shape[1] != 2 {
            return Err(DataError::layout(
                path,
                format!("`{key}` is {shape:?}, expected [n, 2]"),
            ));
        }
        values
            .chunks_exact(2)
            .enumerate()
            .map(|(k, p)| {
                let ok = (0..bounds[0] as i64).contains(&p[0]) && (0..bounds[1] as i64).contains(&p[1]);
                ok.then_some([p[0] as u32, p[1] as u32]).ok_or_else(|| {
                    DataError::layout(path, format!("`{key}` row {k} is {p:?}, out of range {bounds:?}"))
                })
            })
            .collect()
    };
    let mut features = vec![0f32; nodes * width];
    for [node, feature] in pairs("feature_index", [nodes, width])? {
        features[node as usize * width + feature as usize] = 1.0;
    }
    let edges = pairs("edges", [nodes, nodes])?;
    let (_, labels) = &tensors["labels"];
    if labels.len() != nodes || labels.iter().any(|&l| l < -1) {
        return Err(DataError::layout(
            path,
            format!("`labels` must hold {nodes} values of -1 or a class"),
        ));
    }
    let classes = labels.iter().copied().max().unwrap_or(-1) + 1;
    let labels = labels.iter().map(|&l| (l >= 0).then_some(l as u32)).collect();
    let index = |key: &str| -> Result<Vec<u32>> {
        let (_, values) = &tensors[key];
        values
            .iter()
            .map(|&v| {
                (0..nodes as i64)
                    .contains(&v)
                    .then_some(v as u32)
                    .ok_or_else(|| DataError::layout(path, format!("`{key}` holds node {v}, out of range")))
            })
            .collect()
    };
    let split = NodeSplit {
        train: index("train_index")?,
        valid: index("val_index")?,
        test: index("test_index")?,
    };
    Graph::new(
        name,
        nodes,
        edges,
        features,
        width,
        labels,
        classes as usize,
        split,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts every GCN paper reports for the public split.
    #[test]
    fn shipped_graphs_have_the_published_counts() {
        for (name, nodes, edges, width, classes, unlabelled) in [
            ("cora", 2708, 5278, 1433, 7, 0),
            ("citeseer", 3327, 4552, 3703, 6, 15),
        ] {
            let g = planetoid(name).unwrap();
            assert_eq!(
                (g.nodes(), g.edges().len(), g.feature_width(), g.classes()),
                (nodes, edges, width, classes),
                "{name}"
            );
            assert_eq!(
                g.labels().iter().filter(|l| l.is_none()).count(),
                unlabelled,
                "{name}"
            );
            let split = g.split();
            assert_eq!(
                (split.train.len(), split.valid.len(), split.test.len()),
                (20 * classes, 500, 1000),
                "{name}"
            );
            for c in 0..classes as u32 {
                let per_class = split
                    .train
                    .iter()
                    .filter(|&&v| g.labels()[v as usize] == Some(c))
                    .count();
                assert_eq!(per_class, 20, "{name}: class {c}");
            }
            assert!(
                g.edges().iter().all(|&[u, v]| u < v),
                "{name}: each edge once, no self loops"
            );
            assert!(
                g.features().iter().all(|&x| x == 0.0 || x == 1.0),
                "{name}: binary features"
            );
        }
    }

    #[test]
    fn unknown_and_damaged_files_are_named() {
        assert!(planetoid("pubmed")
            .unwrap_err()
            .to_string()
            .contains("`cora` and `citeseer`"));
        let err = planetoid_from_bytes("x", b"not a file", Path::new("x.safetensors")).unwrap_err();
        assert!(
            err.to_string().contains("x.safetensors: not a safetensors file"),
            "{err}"
        );
    }
}
