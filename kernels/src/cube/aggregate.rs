//! Sparse aggregation on `CubeBackend` (wgpu, cuda): one unit per output value (sum: per
//! vector of up to 4 features), each reading its row's entries in CSR order, so every
//! output has one writer and no atomics are needed.
//!
//! - sum: `out[i, v] = Σ_k a_k · X[col_k, v]` (vectors `v` of `N` features; coalesced
//!   loads along the features of one source row);
//! - max: `out[i, f]` and the first entry reaching it, `argmax[i, f]`;
//! - max backward: by rows `j` of `Aᵀ`, `∂X[j, f] = Σ ∂out[i, f]` over the entries `(i, j)`
//!   that are `argmax[i, f]`.
//!
//! The sum's backward pass is the sum kernel on `Aᵀ`.

use burn::tensor::{Tensor, TensorData};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::{CubeCount, CubeDim};

use super::sparse::{aggregate_max_backward_kernel, aggregate_max_kernel, aggregate_sum_kernel};
use super::{index_tensor, vector_width, Cube};
use crate::aggregate::{Adjacency, AggregationBackend, Reduce, Side};

/// One direction of an adjacency on the device: `[rows + 1]` row pointers, `[E]` columns,
/// `[E]` values (ones when the matrix has none) and `[E]` partner positions, all contiguous.
#[derive(Debug, Clone)]
pub struct CubeSide<R: CubeRuntime> {
    row_ptr: CubeTensor<R>,
    col: CubeTensor<R>,
    weight: CubeTensor<R>,
    partner: CubeTensor<R>,
}

/// The launch of `units` units, one per output value or vector.
fn grid<R: CubeRuntime>(like: &CubeTensor<R>, units: usize) -> (CubeCount, CubeDim) {
    let cube_dim = CubeDim::new(&like.client, units);
    (
        calculate_cube_count_elemwise(&like.client, units, cube_dim),
        cube_dim,
    )
}

fn contiguous<R, F, I, BT>(x: Tensor<Cube<R, F, I, BT>, 2>) -> CubeTensor<R>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    into_contiguous(x.into_primitive().tensor())
}

fn float<R, F, I, BT>(tensor: CubeTensor<R>) -> Tensor<Cube<R, F, I, BT>, 2>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    Tensor::from_primitive(burn::tensor::TensorPrimitive::Float(tensor))
}

/// Sum aggregation over one side: `x` `[cols, F]` → `[rows, F]`.
fn sum<R, F, I, BT>(
    side: &CubeSide<R>,
    rows: usize,
    x: Tensor<Cube<R, F, I, BT>, 2>,
) -> Tensor<Cube<R, F, I, BT>, 2>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let [_, features] = x.dims();
    let x = contiguous(x);
    let out = empty_device_dtype::<R>(
        x.client.clone(),
        x.device.clone(),
        [rows, features].into(),
        x.dtype,
    );
    let vector = vector_width(features);
    let (count, dim) = grid(&x, rows * features / vector);
    if rows * features > 0 {
        aggregate_sum_kernel::launch::<R>(
            &x.client,
            count,
            dim,
            vector,
            side.row_ptr.clone().into_tensor_arg(),
            side.col.clone().into_tensor_arg(),
            side.weight.clone().into_tensor_arg(),
            x.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            [x.dtype.into(), side.col.dtype.into()],
        );
    }
    float(out)
}

/// Max aggregation over `A`: the output `[rows, F]` and the argmax entries `[rows, F]`.
fn max<R, F, I, BT>(
    side: &CubeSide<R>,
    rows: usize,
    x: Tensor<Cube<R, F, I, BT>, 2>,
) -> (CubeTensor<R>, CubeTensor<R>)
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let [_, features] = x.dims();
    let x = contiguous(x);
    let shape: burn::tensor::Shape = [rows, features].into();
    let out = empty_device_dtype::<R>(x.client.clone(), x.device.clone(), shape.clone(), x.dtype);
    let argmax = empty_device_dtype::<R>(x.client.clone(), x.device.clone(), shape, side.col.dtype);
    let (count, dim) = grid(&x, rows * features);
    if rows * features > 0 {
        aggregate_max_kernel::launch::<R>(
            &x.client,
            count,
            dim,
            side.row_ptr.clone().into_tensor_arg(),
            side.col.clone().into_tensor_arg(),
            x.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            argmax.clone().into_tensor_arg(),
            [x.dtype.into(), side.col.dtype.into()],
        );
    }
    (out, argmax)
}

impl<R, F, I, BT> AggregationBackend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    type DeviceSide = CubeSide<R>;

    fn upload_side(side: &Side, device: &Self::Device) -> Self::DeviceSide {
        let csr = side.csr();
        let weight = match csr.weight() {
            Some(weight) => weight.to_vec(),
            None => vec![1.0; csr.entries()],
        };
        let weight = TensorData::new(weight, [csr.entries()]).convert::<F>();
        let weight = Tensor::<Self, 1>::from_data(weight, device);
        CubeSide {
            row_ptr: index_tensor::<R, F, I, BT, _>(csr.row_ptr(), device),
            col: index_tensor::<R, F, I, BT, _>(csr.col(), device),
            weight: into_contiguous(weight.into_primitive().tensor()),
            partner: index_tensor::<R, F, I, BT, _>(side.partner(), device),
        }
    }

    fn aggregate(adjacency: &Adjacency<Self>, x: Tensor<Self, 2>, reduce: Reduce) -> Tensor<Self, 2> {
        let rows = adjacency.csr().rows();
        let [forward, _] = adjacency.device_sides();
        match reduce {
            Reduce::Sum => sum(forward, rows, x),
            Reduce::Max => float(max(forward, rows, x).0),
        }
    }

    fn aggregate_max_backward(
        adjacency: &Adjacency<Self>,
        x: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
    ) -> Tensor<Self, 2> {
        let [cols, features] = x.dims();
        let [forward, backward] = adjacency.device_sides();
        let (_, argmax) = max(forward, adjacency.csr().rows(), x);
        let grad = contiguous(grad);
        let out = empty_device_dtype::<R>(
            grad.client.clone(),
            grad.device.clone(),
            [cols, features].into(),
            grad.dtype,
        );
        let (count, dim) = grid(&grad, cols * features);
        if cols * features > 0 {
            aggregate_max_backward_kernel::launch::<R>(
                &grad.client,
                count,
                dim,
                backward.row_ptr.clone().into_tensor_arg(),
                backward.col.clone().into_tensor_arg(),
                backward.partner.clone().into_tensor_arg(),
                argmax.into_tensor_arg(),
                grad.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                [grad.dtype.into(), backward.col.dtype.into()],
            );
        }
        float(out)
    }
}
