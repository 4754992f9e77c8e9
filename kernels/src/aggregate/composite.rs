//! Sparse aggregation from plain burn ops: the reference the tests compare every backend's
//! op against (differentiated by burn's autodiff, not by the op's own backward pass).
//!
//! Sum gathers every entry's source row and scatter-adds it into its target row (`E × F`
//! messages); max takes each row's entries with one `select` and `max_dim` per row (tiny
//! graphs only).

use burn::tensor::{backend::Backend, ops::FloatElem, IndexingUpdateOp, Int, Tensor, TensorData};

use super::{Csr, Reduce};

/// `out = reduce_{k ∈ row i} X[col_k]`: `x` `[cols, F]` → `[rows, F]`, as
/// [`AggregationBackend::aggregate`](super::AggregationBackend::aggregate).
pub fn aggregate<B: Backend>(csr: &Csr, x: Tensor<B, 2>, reduce: Reduce) -> Tensor<B, 2> {
    let device = x.device();
    let [_, features] = x.dims();
    let zeros = Tensor::zeros([csr.rows(), features], &device);
    if csr.entries() == 0 {
        return zeros;
    }
    let indices = |values: Vec<u32>| {
        let n = values.len();
        Tensor::<B, 1, Int>::from_data(
            TensorData::new(values.into_iter().map(i64::from).collect::<Vec<_>>(), [n]),
            &device,
        )
    };
    match reduce {
        Reduce::Sum => {
            let targets = (0..csr.rows())
                .flat_map(|i| std::iter::repeat_n(i as u32, csr.range(i).len()))
                .collect();
            let mut messages = x.select(0, indices(csr.col().to_vec()));
            if let Some(weight) = csr.weight() {
                let weight = Tensor::<B, 2>::from_data(
                    TensorData::new(weight.to_vec(), [weight.len(), 1]).convert::<FloatElem<B>>(),
                    &device,
                );
                messages = messages * weight;
            }
            zeros.select_assign(0, indices(targets), messages, IndexingUpdateOp::Add)
        }
        Reduce::Max => {
            let rows = (0..csr.rows())
                .map(|i| {
                    let range = csr.range(i);
                    if range.is_empty() {
                        Tensor::zeros([1, features], &device)
                    } else {
                        x.clone().select(0, indices(csr.col()[range].to_vec())).max_dim(0)
                    }
                })
                .collect();
            Tensor::cat(rows, 0)
        }
    }
}
