//! A layer's input: node features as a dense tensor, or as a sparse matrix (bag-of-words
//! features such as Cora's, 1.3% non-zero), multiplied by the aggregation op.

use burn::tensor::Tensor;
use mosaic_kernels::{Adjacency, AggregationBackend, Csr, Reduce};

use crate::rng::SplitMix64;

/// Node features `X` `[m, d]`: dense, or sparse (`X` as a CSR matrix of `m` rows and `d`
/// columns). Every layer only ever needs `X W` for its weight matrices `W` `[d, k]`: a GEMM
/// for dense features, the aggregation op for sparse ones (`2 nnz(X) k` FLOPs; its gradient
/// `∂W = Xᵀ ∂(X W)` is the op's transposed pass).
#[derive(Debug, Clone)]
pub enum NodeInput<B: AggregationBackend> {
    /// `[m, d]` values.
    Dense(Tensor<B, 2>),
    /// `X` as a sparse `[m, d]` matrix.
    Sparse(Adjacency<B>),
}

impl<B: AggregationBackend> NodeInput<B> {
    /// `[m, d]`.
    pub fn dims(&self) -> [usize; 2] {
        match self {
            NodeInput::Dense(x) => x.dims(),
            NodeInput::Sparse(x) => [x.csr().rows(), x.csr().cols()],
        }
    }

    /// The rows `rows` of `X` (`[rows.len(), d]`, in their order): a sampled block's inputs
    /// from the whole graph's features (a gather on the device for dense features, a CSR
    /// of the selected rows for sparse ones).
    ///
    /// # Errors
    /// A row out of range, named.
    pub fn rows(&self, rows: &[u32], device: &B::Device) -> crate::Result<Self> {
        let [m, _] = self.dims();
        if let Some(&v) = rows.iter().find(|&&v| v as usize >= m) {
            return Err(crate::MosaicError::invalid(
                "node features",
                format!("row {v} is out of range for {m} nodes"),
            ));
        }
        Ok(match self {
            NodeInput::Dense(x) => NodeInput::Dense(x.clone().select(0, super::indices::<B>(rows, device))),
            NodeInput::Sparse(x) => NodeInput::Sparse(Adjacency::new(select_rows(x.csr(), rows), device)),
        })
    }

    /// The first `n` rows of `X` (`[n, d]`): a block's targets among its sources.
    pub fn first(&self, n: usize, device: &B::Device) -> Self {
        let [m, d] = self.dims();
        match self {
            _ if n == m => self.clone(),
            NodeInput::Dense(x) => NodeInput::Dense(x.clone().slice([0..n, 0..d])),
            NodeInput::Sparse(x) => {
                let rows: Vec<u32> = (0..n as u32).collect();
                NodeInput::Sparse(Adjacency::new(select_rows(x.csr(), &rows), device))
            }
        }
    }

    /// `X W`: `[m, d] × [d, k]` → `[m, k]`.
    pub fn project(&self, weight: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            NodeInput::Dense(x) => x.clone().matmul(weight),
            NodeInput::Sparse(x) => B::aggregate(x, weight, Reduce::Sum),
        }
    }

    /// Dropout with probability `p`: each value zeroed with probability `p`, the others
    /// scaled by `1 / (1 - p)`; the mask drawn from `seed`, value `(i, j)` by draw `i d + j`,
    /// so that a sparse input (whose zeros stay zero) gets the dense input's mask.
    pub fn dropout(self, p: f64, seed: u64, device: &B::Device) -> Self {
        if p == 0.0 {
            return self;
        }
        let keep = (1.0 / (1.0 - p)) as f32;
        match self {
            NodeInput::Dense(x) => {
                let mut rng = SplitMix64::new(seed);
                let dims = x.dims();
                let mask: Vec<f32> = (0..dims[0] * dims[1])
                    .map(|_| if rng.uniform() < p { 0.0 } else { keep })
                    .collect();
                let mask = Tensor::from_data(
                    burn::tensor::TensorData::new(mask, dims).convert::<burn::tensor::ops::FloatElem<B>>(),
                    device,
                );
                NodeInput::Dense(x * mask)
            }
            NodeInput::Sparse(x) => {
                NodeInput::Sparse(Adjacency::new(drop_entries(x.csr(), p, keep, seed), device))
            }
        }
    }
}

/// The rows `rows` of `csr`, in their order (every row index below `csr.rows()`).
fn select_rows(csr: &Csr, rows: &[u32]) -> Csr {
    let mut row_ptr = Vec::with_capacity(rows.len() + 1);
    let (mut col, mut weight) = (Vec::new(), Vec::new());
    row_ptr.push(0u32);
    for &i in rows {
        let range = csr.range(i as usize);
        col.extend_from_slice(&csr.col()[range.clone()]);
        weight.extend(range.map(|k| csr.weight().map_or(1.0, |w| w[k])));
        row_ptr.push(col.len() as u32);
    }
    Csr::new(rows.len(), csr.cols(), row_ptr, col, Some(weight)).expect("rows of a valid matrix")
}

/// `csr` without the entries that a draw below `p` drops, the others scaled by `keep`. Entry
/// `(i, j)` takes draw `i · cols + j` of `seed`'s sequence, the draw dense dropout gives
/// value `(i, j)`: the same mask as on the dense matrix.
fn drop_entries(csr: &Csr, p: f64, keep: f32, seed: u64) -> Csr {
    let mut row_ptr = Vec::with_capacity(csr.rows() + 1);
    let mut col = Vec::with_capacity(csr.entries());
    let mut weight = Vec::with_capacity(csr.entries());
    row_ptr.push(0u32);
    for i in 0..csr.rows() {
        for k in csr.range(i) {
            let j = csr.col()[k];
            let position = (i * csr.cols() + j as usize) as u64;
            if SplitMix64::at(seed, position).uniform() >= p {
                col.push(j);
                weight.push(keep * csr.weight().map_or(1.0, |w| w[k]));
            }
        }
        row_ptr.push(col.len() as u32);
    }
    Csr::new(csr.rows(), csr.cols(), row_ptr, col, Some(weight)).expect("a subset of a valid matrix")
}
