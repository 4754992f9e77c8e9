//! Cross-modal retrieval: rank a gallery (say images) for each query (say a spoken digit) by
//! cosine similarity, and score the rankings against labels, an item being relevant to a
//! query when it has the query's label.
//!
//! For a query whose ranked gallery has relevant items at positions `r₁ < r₂ < … < r_R`
//! (1-based):
//!
//! ```text
//! AP         = (1/R) Σ_j j / r_j                 (average precision)
//! hit@k      = 1 if r₁ ≤ k, else 0
//! first rank = r₁
//! ```
//!
//! and over the queries: mAP = mean AP, recall@k = mean hit@k (the share of queries with a
//! relevant item among the first `k`, as retrieval papers report it), median rank = median
//! first rank. Ties of similarity keep the gallery's order. Queries `[n_q, d]` and gallery
//! `[n_g, d]` must be in one space (the same `d`).

use super::Matrix;
use crate::{MosaicError, Result};

const WHAT: &str = "retrieval";

/// The scores of a set of rankings.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieval {
    /// Mean average precision.
    pub map: f64,
    /// `(k, recall@k)` for each requested `k`.
    pub recall: Vec<(usize, f64)>,
    /// Median over queries of the first relevant item's rank (1-based).
    pub median_rank: f64,
    /// Queries scored (those with at least one relevant item in the gallery).
    pub queries: usize,
}

impl Retrieval {
    /// recall@`k`, if it was requested.
    pub fn recall_at(&self, k: usize) -> Option<f64> {
        self.recall.iter().find(|(kk, _)| *kk == k).map(|(_, r)| *r)
    }
}

/// The gallery's indices by decreasing similarity (ties in index order).
pub fn rank(similarities: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..similarities.len()).collect();
    order.sort_by(|&a, &b| similarities[b].total_cmp(&similarities[a]).then(a.cmp(&b)));
    order
}

/// Scores rankings: `rankings[q]` lists gallery indices best first.
///
/// # Errors
/// No query with a relevant item.
pub fn score(
    rankings: &[Vec<usize>],
    query_labels: &[usize],
    gallery_labels: &[usize],
    ks: &[usize],
) -> Result<Retrieval> {
    let mut aps = Vec::new();
    let mut firsts = Vec::new();
    for (ranking, &label) in rankings.iter().zip(query_labels) {
        let positions: Vec<usize> = ranking
            .iter()
            .enumerate()
            .filter(|(_, &g)| gallery_labels[g] == label)
            .map(|(p, _)| p + 1)
            .collect();
        let Some(&first) = positions.first() else {
            continue;
        };
        let ap = positions
            .iter()
            .enumerate()
            .map(|(j, &r)| (j + 1) as f64 / r as f64)
            .sum::<f64>()
            / positions.len() as f64;
        aps.push(ap);
        firsts.push(first);
    }
    if aps.is_empty() {
        return Err(MosaicError::invalid(
            WHAT,
            "no query has a relevant item in the gallery",
        ));
    }
    let n = aps.len() as f64;
    let recall = ks
        .iter()
        .map(|&k| (k, firsts.iter().filter(|&&r| r <= k).count() as f64 / n))
        .collect();
    firsts.sort_unstable();
    let mid = firsts.len() / 2;
    let median_rank = if firsts.len() % 2 == 1 {
        firsts[mid] as f64
    } else {
        (firsts[mid - 1] + firsts[mid]) as f64 / 2.0
    };
    Ok(Retrieval {
        map: aps.iter().sum::<f64>() / n,
        recall,
        median_rank,
        queries: aps.len(),
    })
}

/// Cosine similarity of `a` and `b` (0 when either is zero).
fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator == 0.0 {
        0.0
    } else {
        dot / denominator
    }
}

/// Ranks `gallery` for each row of `queries` by cosine similarity and [`score`]s the rankings.
///
/// # Errors
/// Representations of different widths, labels that do not match the rows, or no query with
/// a relevant item.
pub fn retrieve(
    queries: &Matrix,
    query_labels: &[usize],
    gallery: &Matrix,
    gallery_labels: &[usize],
    ks: &[usize],
) -> Result<Retrieval> {
    if queries.cols() != gallery.cols() {
        return Err(MosaicError::invalid(
            WHAT,
            format!(
                "queries have {} features and the gallery {}; retrieval needs one space",
                queries.cols(),
                gallery.cols()
            ),
        ));
    }
    if queries.rows() != query_labels.len() || gallery.rows() != gallery_labels.len() {
        return Err(MosaicError::invalid(
            WHAT,
            format!(
                "{} queries with {} labels, {} gallery items with {} labels",
                queries.rows(),
                query_labels.len(),
                gallery.rows(),
                gallery_labels.len()
            ),
        ));
    }
    let rankings: Vec<Vec<usize>> = (0..queries.rows())
        .map(|q| {
            rank(
                &(0..gallery.rows())
                    .map(|g| cosine(queries.row(q), gallery.row(g)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    score(&rankings, query_labels, gallery_labels, ks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_hand_computed_rankings() {
        // Query 0 (label 1): relevant at ranks 1 and 3 → AP = (1/1 + 2/3) / 2 = 5/6.
        // Query 1 (label 0): relevant at ranks 2 and 4 → AP = (1/2 + 2/4) / 2 = 1/2.
        // Query 2 (label 2): relevant at rank 4 → AP = 1/4.
        let gallery_labels = [1, 0, 1, 0, 2];
        let rankings = vec![vec![0, 1, 2, 3, 4], vec![2, 1, 4, 3, 0], vec![0, 1, 2, 4, 3]];
        let r = score(&rankings, &[1, 0, 2], &gallery_labels, &[1, 2, 5]).unwrap();
        assert!((r.map - (5.0 / 6.0 + 0.5 + 0.25) / 3.0).abs() < 1e-15);
        assert_eq!(r.recall, [(1, 1.0 / 3.0), (2, 2.0 / 3.0), (5, 1.0)]);
        // First ranks 1, 2, 4.
        assert_eq!((r.median_rank, r.queries), (2.0, 3));
        assert_eq!(r.recall_at(2), Some(2.0 / 3.0));
    }

    #[test]
    fn ranks_by_cosine_similarity() {
        // Queries along x and y; the gallery at 10°, 80°, 45° and along -x.
        let angle = |deg: f64| [deg.to_radians().cos(), deg.to_radians().sin()];
        let gallery: Vec<f64> = [angle(10.0), angle(80.0), angle(45.0), [-3.0, 0.0]].concat();
        let gallery = Matrix::new(4, 2, gallery).unwrap();
        let queries = Matrix::new(2, 2, vec![2.0, 0.0, 0.0, 0.5]).unwrap();
        assert_eq!(rank(&[0.1, 0.3, 0.3, -1.0]), [1, 2, 0, 3]);
        // Query 0 ranks 0, 2, 1, 3; query 1 ranks 1, 2, 0, 3.
        let r = retrieve(&queries, &[0, 1], &gallery, &[3, 3, 1, 0], &[1]).unwrap();
        // Query 0: its one relevant item (3) is last → AP 1/4; query 1: item 2 at rank 2 → 1/2.
        assert!((r.map - 0.375).abs() < 1e-15);
        assert_eq!((r.recall_at(1), r.median_rank), (Some(0.0), 3.0));
    }

    #[test]
    fn bad_input_is_named() {
        let q = Matrix::new(1, 2, vec![1.0, 0.0]).unwrap();
        let g = Matrix::new(1, 3, vec![1.0, 0.0, 0.0]).unwrap();
        assert_eq!(
            retrieve(&q, &[0], &g, &[0], &[1]).unwrap_err().to_string(),
            "retrieval: queries have 2 features and the gallery 3; retrieval needs one space"
        );
        let g = Matrix::new(1, 2, vec![1.0, 0.0]).unwrap();
        assert_eq!(
            retrieve(&q, &[0], &g, &[1], &[1]).unwrap_err().to_string(),
            "retrieval: no query has a relevant item in the gallery"
        );
    }
}
