//! Sparse neighbourhood aggregation, the op under every graph layer: `out = A · X` with a
//! sparse `A` in CSR, and its max counterpart.
//!
//! ```text
//! sum:  out[i, f] = Σ_{k ∈ row i} a_k · X[col_k, f]          A: [N, M] with E entries, X: [M, F]
//! max:  out[i, f] = max_{k ∈ row i} X[col_k, f]   (0 for a row without entries)
//! ```
//!
//! Mean aggregation is the sum with `a_k = 1 / deg(i)`; GCN's `D^-1/2 (A + I) D^-1/2` is the
//! sum with its normalised values. `N = M` for a whole graph; a sampled mini-batch block
//! aggregates `N` target nodes from `M` source nodes.
//!
//! Gradients (the entries' values are constants, not trained):
//!
//! ```text
//! sum:  ∂X = Aᵀ · ∂out                         (the same op on the transposed matrix)
//! max:  ∂X[j, f] = Σ_{k ∈ row i of A, col_k = j, k = argmax_i,f} ∂out[i, f]
//! ```
//!
//! where `argmax_i,f` is the first entry of row `i` that reaches the maximum. Both are
//! computed by rows of `Aᵀ` (one writer per row of `∂X`), so no two threads add into the
//! same value and every backend sums in the entries' order: the same result for any number
//! of threads, on every run.
//!
//! Cost: `2 E F` FLOPs forward and backward; memory `O(E + N F + M F)` (the max backward
//! pass keeps one `[N, F]` index array), never `N × M`.
//!
//! | backend | forward and backward |
//! |---|---|
//! | `Flex` | [`host`] on the tensors' memory, rayon over blocks of rows |
//! | `NdArray`, any other backend | [`host`], through a copy of the values |
//! | `CubeBackend` (wgpu, cuda) | cubecl kernels, one unit per output vector (`cube/aggregate.rs`) |
//! | `Autodiff<B>` | `B`'s forward as one graph node, `B`'s backward |
//!
//! [`composite`] is the reference the tests compare against (gathers and scatter-adds of
//! burn ops, a loop over rows for max).

pub mod composite;
mod csr;
pub mod host;

pub use csr::{Csr, CsrError, MAX_INDEX};

use std::sync::Arc;

use burn::tensor::{backend::Backend, ops::FloatElem, DType, Tensor, TensorData};

/// How a row's entries are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// `Σ_k a_k X[col_k]`.
    Sum,
    /// `max_k X[col_k]`, feature by feature (the entries' values are not used).
    Max,
}

/// One direction of an adjacency: the matrix, and for each of its entries the position of
/// the same entry in the other direction.
#[derive(Debug)]
pub struct Side {
    csr: Csr,
    partner: Vec<u32>,
}

impl Side {
    /// The matrix of this direction.
    pub fn csr(&self) -> &Csr {
        &self.csr
    }

    /// For each entry, its position in the other direction's matrix.
    pub fn partner(&self) -> &[u32] {
        &self.partner
    }
}

/// A sparse adjacency ready for [`AggregationBackend::aggregate`] on one device: `A` and `Aᵀ`
/// on the host, and whatever the backend keeps on its device (the CSR arrays on a GPU,
/// nothing on CPU backends). Cloning is cheap (shared).
pub struct Adjacency<B: AggregationBackend> {
    sides: [Arc<Side>; 2],
    device: [B::DeviceSide; 2],
}

impl<B: AggregationBackend> Clone for Adjacency<B> {
    fn clone(&self) -> Self {
        Adjacency {
            sides: self.sides.clone(),
            device: self.device.clone(),
        }
    }
}

impl<B: AggregationBackend> std::fmt::Debug for Adjacency<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let csr = self.csr();
        write!(
            f,
            "Adjacency({} x {}, {} entries)",
            csr.rows(),
            csr.cols(),
            csr.entries()
        )
    }
}

impl<B: AggregationBackend> Adjacency<B> {
    /// `A` (and its transpose, for the backward pass) on `device`.
    pub fn new(csr: Csr, device: &B::Device) -> Self {
        let (forward, backward) = sides(csr);
        let device = [
            B::upload_side(&forward, device),
            B::upload_side(&backward, device),
        ];
        Adjacency {
            sides: [Arc::new(forward), Arc::new(backward)],
            device,
        }
    }

    /// The matrix `A`: `[rows, cols]`.
    pub fn csr(&self) -> &Csr {
        &self.sides[0].csr
    }

    /// `Aᵀ`, sharing this adjacency's arrays.
    pub fn transpose(&self) -> Self {
        let [a, b] = self.sides.clone();
        let [da, db] = self.device.clone();
        Adjacency {
            sides: [b, a],
            device: [db, da],
        }
    }

    /// `A`'s side: the matrix and the positions of its entries in `Aᵀ`.
    pub fn forward(&self) -> &Side {
        &self.sides[0]
    }

    /// `Aᵀ`'s side: the matrix and the positions of its entries in `A`.
    pub fn backward(&self) -> &Side {
        &self.sides[1]
    }

    /// What the backend keeps on its device for `A` and for `Aᵀ`.
    pub fn device_sides(&self) -> &[B::DeviceSide; 2] {
        &self.device
    }

    /// The same adjacency for another backend that keeps the same device arrays (an
    /// autodiff backend and its inner backend).
    pub(crate) fn cast<C: AggregationBackend<DeviceSide = B::DeviceSide>>(&self) -> Adjacency<C> {
        Adjacency {
            sides: self.sides.clone(),
            device: self.device.clone(),
        }
    }
}

/// `A`'s side and `Aᵀ`'s side of an adjacency.
pub(crate) fn sides(csr: Csr) -> (Side, Side) {
    let (transposed, partner) = csr.transpose();
    let forward = Side {
        partner: inverse(&partner),
        csr,
    };
    let backward = Side {
        csr: transposed,
        partner,
    };
    (forward, backward)
}

/// The permutation that undoes `permutation`.
fn inverse(permutation: &[u32]) -> Vec<u32> {
    let mut inverse = vec![0u32; permutation.len()];
    for (k, &p) in permutation.iter().enumerate() {
        inverse[p as usize] = k as u32;
    }
    inverse
}

/// A burn backend that can aggregate over a sparse adjacency.
///
/// Like burn's own tensor operations, the methods assume consistent shapes (`x`: `[cols, F]`,
/// `grad`: `[rows, F]`) and may panic otherwise: the `mosaic` graph layers check their inputs
/// first and return errors that name them.
pub trait AggregationBackend: Backend {
    /// What an [`Adjacency`] keeps on the device for one direction.
    type DeviceSide: Clone + Send + Sync + std::fmt::Debug + 'static;

    /// Copies one direction of an adjacency to `device`.
    fn upload_side(side: &Side, device: &Self::Device) -> Self::DeviceSide;

    /// `out = reduce_{k ∈ row i} X[col_k]`: `x` `[cols, F]` → `[rows, F]`.
    fn aggregate(adjacency: &Adjacency<Self>, x: Tensor<Self, 2>, reduce: Reduce) -> Tensor<Self, 2> {
        on_host(adjacency, x, reduce)
    }

    /// The gradient of max aggregation with respect to `x` `[cols, F]`, given
    /// `grad = ∂L/∂out` `[rows, F]`.
    fn aggregate_max_backward(
        adjacency: &Adjacency<Self>,
        x: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
    ) -> Tensor<Self, 2> {
        max_backward_on_host(adjacency, x, grad)
    }
}

/// [`AggregationBackend::aggregate`] by [`host`] on a copy of `x`'s values (f64 values are
/// computed in f64, others in f32): the path of backends without their own.
pub fn on_host<B: AggregationBackend>(
    adjacency: &Adjacency<B>,
    x: Tensor<B, 2>,
    reduce: Reduce,
) -> Tensor<B, 2> {
    let op = match reduce {
        Reduce::Sum => HostOp::Sum(adjacency.csr()),
        Reduce::Max => HostOp::Max(adjacency.csr()),
    };
    via_host(x, adjacency.csr().rows(), op)
}

/// [`AggregationBackend::aggregate_max_backward`] by [`host`] on copies of the values.
pub fn max_backward_on_host<B: AggregationBackend>(
    adjacency: &Adjacency<B>,
    x: Tensor<B, 2>,
    grad: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let grad = host_values(grad);
    via_host(
        x,
        adjacency.csr().cols(),
        HostOp::MaxBackward(adjacency.forward(), adjacency.backward(), &grad),
    )
}

/// Host values of a tensor, in f64 when it is f64 and in f32 otherwise.
enum HostValues {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

fn host_values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> HostValues {
    let data = tensor.into_data();
    if data.dtype == DType::F64 {
        HostValues::F64(data.to_vec().expect("f64 values"))
    } else {
        HostValues::F32(data.convert::<f32>().to_vec().expect("f32 values"))
    }
}

/// One of [`host`]'s computations, for [`via_host`].
enum HostOp<'a> {
    Sum(&'a Csr),
    Max(&'a Csr),
    /// `A`'s side, `Aᵀ`'s side and `∂out`.
    MaxBackward(&'a Side, &'a Side, &'a HostValues),
}

impl HostOp<'_> {
    fn run<T: host::HostFloat>(&self, x: &[T], features: usize, out: &mut [T]) {
        match self {
            HostOp::Sum(csr) => host::sum(csr, x, features, out),
            HostOp::Max(csr) => host::max(csr, x, features, out),
            HostOp::MaxBackward(forward, backward, grad) => {
                let grad: Vec<T> = match grad {
                    HostValues::F32(v) => v.iter().map(|&g| T::from_f64(g as f64)).collect(),
                    HostValues::F64(v) => v.iter().map(|&g| T::from_f64(g)).collect(),
                };
                host::max_backward(forward, backward, x, &grad, features, out);
            }
        }
    }
}

/// Runs `op` on host copies of `x` `[_, F]` and returns its output `[rows, F]` on `x`'s
/// device, in `x`'s float type (f64 values are computed in f64, others in f32).
fn via_host<B: Backend>(x: Tensor<B, 2>, rows: usize, op: HostOp<'_>) -> Tensor<B, 2> {
    let [_, features] = x.dims();
    let device = x.device();
    let data = match host_values(x) {
        HostValues::F64(values) => {
            let mut out = vec![0f64; rows * features];
            op.run(&values, features, &mut out);
            TensorData::new(out, [rows, features])
        }
        HostValues::F32(values) => {
            let mut out = vec![0f32; rows * features];
            op.run(&values, features, &mut out);
            TensorData::new(out, [rows, features])
        }
    };
    Tensor::from_data(data.convert::<FloatElem<B>>(), &device)
}
