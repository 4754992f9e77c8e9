//! cubecl kernels for `CubeBackend` (wgpu, cuda): the forward passes of tensor fusion and
//! low-rank fusion. Their backward passes are the GEMM formulations of
//! [`tensor_fusion`](crate::tensor_fusion) and [`low_rank`](crate::low_rank) on the
//! backend's own (tuned) matmul.
//!
//! Neither kernel uses plane (warp) operations, so both run on software adapters such as
//! Mesa's lavapipe.

pub mod aggregate;
mod kernels;
pub mod low_rank;
mod sparse;
pub mod tensor_fusion;
mod tile;

type Cube<R, F, I, BT> = CubeBackend<R, F, I, BT>;

/// Cubes that fill a large GPU twice over (two waves on 132 multiprocessors): when the batch
/// and output alone give fewer, the kernels split their reduction along the grid's z axis.
const TARGET_CUBES: usize = 264;

/// Where a kernel writes `h` and how it is launched.
struct Launch<R: CubeRuntime> {
    /// Uninitialised `[splits, batch, out]` on the device of `like`, in its dtype: one
    /// partial sum of `h` per split of the reduction (`splits = 1`: `h` itself).
    output: CubeTensor<R>,
    /// Vector width `N` along `out`.
    vector: usize,
    /// One cube per `32·N` columns, `16 · rows` batch rows and split.
    cube_count: CubeCount,
    cube_dim: CubeDim,
    /// Rows of `h` per unit.
    rows: usize,
}

impl<R: CubeRuntime> Launch<R> {
    /// A launch with at most `max_rows` rows of `h` per unit and at most `max_splits` splits
    /// of the reduction: as many as reach [`TARGET_CUBES`] when the output and the batch
    /// alone give fewer cubes.
    fn new(like: &CubeTensor<R>, batch: usize, out: usize, max_rows: usize, max_splits: usize) -> Self {
        let vector = vector_width(out);
        // The fewest rows per unit (2, 4, 8) whose cube covers the batch: small batches leave
        // fewer idle rows.
        let rows = [2, 4, 8]
            .into_iter()
            .find(|&r| r * UNITS >= batch || r == max_rows)
            .unwrap_or(max_rows);
        let along_out = (out / vector).div_ceil(CUBE_VECTORS);
        let along_batch = batch.div_ceil(rows * UNITS);
        let splits = TARGET_CUBES
            .div_ceil(along_out * along_batch)
            .min(max_splits)
            .max(1);
        let output = empty_device_dtype::<R>(
            like.client.clone(),
            like.device.clone(),
            Shape::new([splits, batch, out]),
            like.dtype,
        );
        let cube_count = CubeCount::Static(along_out as u32, along_batch as u32, splits as u32);
        Launch {
            output,
            vector,
            cube_count,
            cube_dim: CubeDim::new_2d(UNITS as u32, UNITS as u32),
            rows,
        }
    }

    /// `h` `[batch, out]`: the sum of the kernel's partial sums.
    fn sum<F, I, BT>(self) -> Tensor<Cube<R, F, I, BT>, 2>
    where
        F: FloatElement,
        I: IntElement,
        BT: BoolElement,
    {
        let partials = Tensor::<Cube<R, F, I, BT>, 3>::from_primitive(TensorPrimitive::Float(self.output));
        let [splits, batch, out] = partials.dims();
        let h = if splits == 1 {
            partials
        } else {
            partials.sum_dim(0)
        };
        h.reshape([batch, out])
    }
}

/// Width of the vector loads and stores along the output dimension: 4, 2 or 1 floats, the
/// largest that divides `out`.
fn vector_width(out: usize) -> usize {
    [4, 2].into_iter().find(|&w| out.is_multiple_of(w)).unwrap_or(1)
}

use burn::tensor::{Int, Shape, Tensor, TensorData, TensorPrimitive};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::prelude::{CubeCount, CubeDim};

use crate::composite::prepend_one;
use tile::{CUBE_VECTORS, UNITS};

/// The inputs as the kernels read them: `[ẑ_1 | ẑ_2 | … | ẑ_M]` `[B, S]` (contiguous), the
/// widths `d_m + 1` and each modality's offset in `S`.
fn packed_hats<R, F, I, BT>(
    inputs: &[Tensor<CubeBackend<R, F, I, BT>, 2>],
) -> (CubeTensor<R>, Vec<usize>, Vec<usize>)
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let widths: Vec<usize> = inputs.iter().map(|z| z.dims()[1] + 1).collect();
    let offsets = widths
        .iter()
        .scan(0, |acc, w| {
            let offset = *acc;
            *acc += w;
            Some(offset)
        })
        .collect();
    let hats = Tensor::cat(inputs.iter().cloned().map(prepend_one).collect(), 1);
    (into_contiguous(hats.into_primitive().tensor()), widths, offsets)
}

/// A 1-d integer tensor of `values` on `device`, in the backend's integer type.
fn index_tensor<R, F, I, BT, T>(values: &[T], device: &R::Device) -> CubeTensor<R>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
    T: Copy + TryInto<i64>,
{
    let values: Vec<i64> = values
        .iter()
        .map(|&v| {
            v.try_into()
                .unwrap_or_else(|_| unreachable!("indices are checked against i32"))
        })
        .collect();
    let len = values.len();
    let data = TensorData::new(values, [len]).convert::<I>();
    into_contiguous(Tensor::<CubeBackend<R, F, I, BT>, 1, Int>::from_data(data, device).into_primitive())
}
