//! Tensor fusion as an implicit GEMM: `h = vec(Z) · W + b` where each cube builds its tile of
//! the outer product `Z` on the fly, in shared memory, from the modality vectors.
//!
//! Tiling (no plane operations, so it runs on software adapters too):
//!
//! - a cube of 16 × 16 units computes a `64 × 16N` tile of `h` (`N` = vector width, 4 when
//!   `O` is a multiple of 4): unit `(x, y)` owns rows `y, y + 16, y + 32, y + 48` and the
//!   `N` columns of vector `x`;
//! - per step along `P` (16 at a time) the cube writes the `64 × 16` tile of `Z` to shared
//!   memory (each entry `Π_m ẑ_m[b, i_m(p)]`, `M − 1` multiplications) and the `16 × 16N`
//!   tile of `W` (one `N`-wide vector load per unit), then each unit does `4 · 16`
//!   vector FMAs from shared memory.
//!
//! When the batch gives few cubes, `P` is split along the grid's z axis: each split's cubes
//! sum their share of `P` into a partial `[B, O]`, and the partials are summed afterwards
//! (`B·O` per split, small next to `W`).
//!
//! Global traffic: `W` is read `⌈B / 64⌉` times, the modality vectors `⌈O / 16N⌉ · P / 16`
//! times per row (cached), `h` written once; nothing of size `[B, P]` exists anywhere.

use burn::tensor::Tensor;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::{BoolElement, CubeRuntime, FloatElement, IntElement};

use super::kernels::tensor_fusion_kernel;
use super::{index_tensor, packed_hats, vector_width, Cube, Launch, UNITS};

/// Batch rows per cube (`16` rows of units × 4 rows each).
const TILE_ROWS: usize = 64;
/// Launches [`tensor_fusion_kernel`]. Shapes as in
/// [`FusionBackend::tensor_fusion`](crate::FusionBackend::tensor_fusion).
pub fn forward<R, F, I, BT>(
    inputs: &[Tensor<Cube<R, F, I, BT>, 2>],
    weight: Tensor<Cube<R, F, I, BT>, 2>,
    bias: Option<Tensor<Cube<R, F, I, BT>, 1>>,
) -> Tensor<Cube<R, F, I, BT>, 2>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let device = weight.device();
    let [batch, _] = inputs[0].dims();
    let [_, out] = weight.dims();
    let (hats, widths, offsets) = packed_hats(inputs);
    let strides: Vec<usize> = (0..widths.len())
        .map(|m| widths[m + 1..].iter().product())
        .collect();
    let layout_values: Vec<usize> = [widths.as_slice(), &offsets, &strides].concat();
    let layout = index_tensor::<R, F, I, BT>(&layout_values, &device);
    let bias = bias.unwrap_or_else(|| Tensor::zeros([out], (&device, weight.dtype())));
    let weight = into_contiguous(weight.into_primitive().tensor());
    let bias = into_contiguous(bias.into_primitive().tensor());

    let launch = Launch::new(
        &weight,
        batch,
        out,
        TILE_ROWS,
        splits(batch, out, widths.iter().product()),
    );
    let (output, dtype) = (launch.output.clone(), launch.output.dtype);
    tensor_fusion_kernel::launch::<R>(
        &output.client,
        launch.cube_count.clone(),
        launch.cube_dim,
        launch.vector,
        hats.into_tensor_arg(),
        layout.clone().into_tensor_arg(),
        weight.into_tensor_arg(),
        bias.into_tensor_arg(),
        output.clone().into_tensor_arg(),
        widths.len(),
        [dtype.into(), layout.dtype.into()],
    );
    launch.sum()
}

/// Splits of `P` (cubes along z, each summing `P / splits` of the product): enough cubes to
/// fill a large GPU twice over (`TARGET_CUBES`) when the batch alone gives few, while each
/// split keeps at least `MIN_SPLIT` of `P` to amortise its partial sum.
fn splits(batch: usize, out: usize, p: usize) -> usize {
    const TARGET_CUBES: usize = 264;
    const MIN_SPLIT: usize = 512;
    let cubes = (out / vector_width(out)).div_ceil(UNITS) * batch.div_ceil(TILE_ROWS);
    TARGET_CUBES.div_ceil(cubes).min(p / MIN_SPLIT).max(1)
}
