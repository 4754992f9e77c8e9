//! Compressed sparse rows: the adjacency format of the aggregation op, built and checked on
//! the host.

use std::fmt;

/// Why a [`Csr`] could not be built: names the array and the offending entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrError(String);

impl fmt::Display for CsrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CsrError {}

/// The largest number of rows, columns or entries: indices travel as `i32` on the GPU.
pub const MAX_INDEX: usize = i32::MAX as usize;

/// A sparse `[rows, cols]` matrix in compressed sparse row form: row `i`'s entries are
/// `col[row_ptr[i]..row_ptr[i + 1]]`, with values `weight[…]` (all 1 when `weight` is
/// `None`). Duplicate entries are allowed and count as many times as they appear; the order
/// of a row's entries is kept, and it is the order every backend sums them in.
///
/// Memory: `4 (rows + 1) + 4 E (+ 4 E with weights)` bytes for `E` entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    rows: usize,
    cols: usize,
    row_ptr: Vec<u32>,
    col: Vec<u32>,
    weight: Option<Vec<f32>>,
}

fn invalid(message: String) -> CsrError {
    CsrError(message)
}

impl Csr {
    /// A matrix from its three arrays.
    ///
    /// # Errors
    /// `row_ptr` not of length `rows + 1`, not starting at 0, decreasing or not ending at
    /// `col.len()`; a column index `≥ cols`; `weight` not of length `col.len()` or holding a
    /// non-finite value; sizes beyond [`MAX_INDEX`].
    pub fn new(
        rows: usize,
        cols: usize,
        row_ptr: Vec<u32>,
        col: Vec<u32>,
        weight: Option<Vec<f32>>,
    ) -> Result<Self, CsrError> {
        let edges = col.len();
        if rows > MAX_INDEX || cols > MAX_INDEX || edges > MAX_INDEX {
            return Err(invalid(format!(
                "a sparse matrix of {rows} x {cols} with {edges} entries: at most {MAX_INDEX} of each"
            )));
        }
        if row_ptr.len() != rows + 1 {
            return Err(invalid(format!(
                "row pointers: expected {} (rows + 1), got {}",
                rows + 1,
                row_ptr.len()
            )));
        }
        if row_ptr[0] != 0 || row_ptr[rows] as usize != edges {
            return Err(invalid(format!(
                "row pointers must run from 0 to the number of entries ({edges}), got {} to {}",
                row_ptr[0], row_ptr[rows]
            )));
        }
        if let Some(i) = row_ptr.windows(2).position(|w| w[1] < w[0]) {
            return Err(invalid(format!(
                "row pointers decrease at row {i}: {} then {}",
                row_ptr[i],
                row_ptr[i + 1]
            )));
        }
        if let Some(k) = col.iter().position(|&c| c as usize >= cols) {
            return Err(invalid(format!(
                "entry {k}: column {} out of range for {cols} columns",
                col[k]
            )));
        }
        if let Some(weight) = &weight {
            if weight.len() != edges {
                return Err(invalid(format!(
                    "weights: expected {edges} (one per entry), got {}",
                    weight.len()
                )));
            }
            if let Some(k) = weight.iter().position(|w| !w.is_finite()) {
                return Err(invalid(format!("entry {k}: weight {} is not finite", weight[k])));
            }
        }
        Ok(Csr {
            rows,
            cols,
            row_ptr,
            col,
            weight,
        })
    }

    /// The matrix with entry `(targets[k], sources[k])` of value `weight[k]` for every `k`:
    /// row `i` aggregates from the sources of the edges whose target is `i`. Entries keep
    /// their order within a row (a stable counting sort).
    ///
    /// # Errors
    /// `targets`, `sources` and `weight` of different lengths, an index out of range (named
    /// with its position), or any error of [`Csr::new`].
    pub fn from_entries(
        rows: usize,
        cols: usize,
        targets: &[u32],
        sources: &[u32],
        weight: Option<&[f32]>,
    ) -> Result<Self, CsrError> {
        if targets.len() != sources.len() || weight.is_some_and(|w| w.len() != targets.len()) {
            return Err(invalid(format!(
                "entries: {} targets, {} sources and {} weights, expected as many of each",
                targets.len(),
                sources.len(),
                weight.map_or(targets.len(), <[f32]>::len)
            )));
        }
        if let Some(k) = targets.iter().position(|&t| t as usize >= rows) {
            return Err(invalid(format!(
                "entry {k}: target {} out of range for {rows} rows",
                targets[k]
            )));
        }
        if targets.len() > MAX_INDEX {
            return Err(invalid(format!("{} entries: at most {MAX_INDEX}", targets.len())));
        }
        let mut row_ptr = vec![0u32; rows + 1];
        for &t in targets {
            row_ptr[t as usize + 1] += 1;
        }
        for i in 0..rows {
            row_ptr[i + 1] += row_ptr[i];
        }
        let mut next = row_ptr.clone();
        let mut col = vec![0u32; targets.len()];
        let mut values = weight.map(|w| vec![0f32; w.len()]);
        for (k, (&t, &s)) in targets.iter().zip(sources).enumerate() {
            let slot = next[t as usize] as usize;
            next[t as usize] += 1;
            col[slot] = s;
            if let (Some(values), Some(weight)) = (values.as_mut(), weight) {
                values[slot] = weight[k];
            }
        }
        Csr::new(rows, cols, row_ptr, col, values)
    }

    /// Number of rows (the nodes that receive).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (the nodes that send).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of stored entries `E`.
    pub fn entries(&self) -> usize {
        self.col.len()
    }

    /// Row pointers `[rows + 1]`.
    pub fn row_ptr(&self) -> &[u32] {
        &self.row_ptr
    }

    /// Column index of every entry `[E]`.
    pub fn col(&self) -> &[u32] {
        &self.col
    }

    /// Value of every entry `[E]`, if not all 1.
    pub fn weight(&self) -> Option<&[f32]> {
        self.weight.as_deref()
    }

    /// Where row `i`'s entries lie in [`col`](Self::col) and [`weight`](Self::weight).
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.row_ptr[i] as usize..self.row_ptr[i + 1] as usize
    }

    /// The transposed matrix, and for each of its entries the position of the same entry in
    /// `self`. Within a row of the transpose, entries follow their order in `self`.
    pub fn transpose(&self) -> (Csr, Vec<u32>) {
        let mut targets = Vec::with_capacity(self.entries());
        for i in 0..self.rows {
            targets.extend(std::iter::repeat_n(i as u32, self.range(i).len()));
        }
        let transposed = Csr::from_entries(self.cols, self.rows, &self.col, &targets, self.weight())
            .expect("the transpose of a valid matrix is valid");
        // The same stable counting sort, on the entries' positions.
        let mut next = transposed.row_ptr.clone();
        let mut partner = vec![0u32; self.entries()];
        for (k, &c) in self.col.iter().enumerate() {
            let slot = next[c as usize] as usize;
            next[c as usize] += 1;
            partner[slot] = k as u32;
        }
        (transposed, partner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 x 4: row 0 ← 1, 3; row 1 ← nothing; row 2 ← 0, 0 (duplicate), 3.
    fn example() -> Csr {
        Csr::from_entries(
            3,
            4,
            &[2, 0, 2, 0, 2],
            &[0, 1, 0, 3, 3],
            Some(&[1.0, 2.0, 3.0, 4.0, 5.0]),
        )
        .unwrap()
    }

    #[test]
    fn entries_are_sorted_by_row_stably() {
        let csr = example();
        assert_eq!(csr.row_ptr(), &[0, 2, 2, 5]);
        assert_eq!(csr.col(), &[1, 3, 0, 0, 3]);
        assert_eq!(csr.weight().unwrap(), &[2.0, 4.0, 1.0, 3.0, 5.0]);
    }

    #[test]
    fn transpose_maps_every_entry_to_its_partner() {
        let csr = example();
        let (t, partner) = csr.transpose();
        assert_eq!((t.rows(), t.cols()), (4, 3));
        assert_eq!(t.row_ptr(), &[0, 2, 3, 3, 5]);
        assert_eq!(t.col(), &[2, 2, 0, 0, 2]);
        assert_eq!(t.weight().unwrap(), &[1.0, 3.0, 2.0, 4.0, 5.0]);
        let row_of = |k: usize| (0..t.rows()).find(|&j| t.range(j).contains(&k)).unwrap();
        for (k, &p) in partner.iter().enumerate() {
            assert_eq!(t.weight().unwrap()[k], csr.weight().unwrap()[p as usize]);
            assert_eq!(csr.col()[p as usize] as usize, row_of(k));
        }
    }

    #[test]
    fn bad_arrays_are_named() {
        let err = |r: Result<Csr, CsrError>| r.unwrap_err().to_string();
        assert!(err(Csr::new(2, 2, vec![0, 1], vec![0], None)).contains("expected 3 (rows + 1)"));
        assert!(err(Csr::new(2, 2, vec![0, 2, 1], vec![0], None)).contains("decrease at row 1: 2 then 1"));
        assert!(err(Csr::new(2, 2, vec![0, 2, 1], vec![0, 1], None)).contains("run from 0"));
        assert!(err(Csr::new(2, 2, vec![0, 2, 2], vec![0, 5], None)).contains("column 5 out of range"));
        assert!(err(Csr::new(1, 2, vec![0, 1], vec![0], Some(vec![f32::NAN]))).contains("not finite"));
        assert!(err(Csr::new(1, 2, vec![0, 1], vec![0], Some(vec![]))).contains("weights: expected 1"));
        assert!(
            err(Csr::from_entries(2, 2, &[0, 2], &[0, 1], None)).contains("entry 1: target 2 out of range")
        );
        assert!(err(Csr::from_entries(2, 2, &[0], &[0, 1], None)).contains("1 targets, 2 sources"));
        assert!(err(Csr::new(4, 2, vec![0, 0, 2, 1, 2], vec![0, 1], None)).contains("decrease at row 2"));
    }
}
