//! Tensor fusion as an implicit GEMM: `h = vec(Z) · W + b` where each cube builds its tiles of
//! the outer product `Z` on the fly, in shared memory, from the modality vectors.
//!
//! Tiling (the tiled GEMM of `tile.rs`; no plane operations, so it runs on software adapters
//! too):
//!
//! - a cube of 16 × 16 units computes a `128 × 32N` tile of `h` (`N` = vector width, 4 when
//!   `O` is a multiple of 4): unit `(x, y)` owns rows `y + 16i` (`i < 8`) and vectors
//!   `x + 16j` (`j < 2`), 8 × 2N accumulators in registers. Batches of at most 32 or 64
//!   rows take 2 or 4 rows per unit instead (`32 × 32N`, `64 × 32N` tiles);
//! - per step along `P` (8 at a time) the cube writes the `8 × 128` tile of `Z` to shared
//!   memory (each entry `Π_m ẑ_m[b, i_m(p)]`, `M − 1` multiplications; each unit makes four
//!   consecutive entries of one row, so one multi-index division per step, then carries) and
//!   the `8 × 32N` tile of `W` (one `N`-wide vector load per unit), then each unit does
//!   `8 × 2` vector FMAs per index from 8 scalar and 2 vector shared-memory loads;
//! - the next step's tiles are fetched while the current ones are multiplied (two halves of
//!   shared memory, one barrier per step).
//!
//! When the batch gives few cubes, `P` is split along the grid's z axis: each split's cubes
//! sum their share of `P` into a partial `[B, O]`, and the partials are summed afterwards
//! (`B·O` per split, small next to `W`).
//!
//! Global traffic: `W` is read `⌈B / 128⌉` times (128-row tiles), the modality vectors `⌈O / 32N⌉ · P / 8`
//! times per row (cached), `h` written once per split; nothing of size `[B, P]` exists
//! anywhere.

use burn::tensor::Tensor;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::{BoolElement, CubeRuntime, FloatElement, IntElement};

use super::kernels::tensor_fusion_kernel;
use super::{index_tensor, packed_hats, Cube, Launch};

/// Launches the `tensor_fusion_kernel` of `kernels.rs`. Shapes as in
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
    let layout = index_tensor::<R, F, I, BT, _>(&layout_values, &device);
    let bias = bias.unwrap_or_else(|| Tensor::zeros([out], (&device, weight.dtype())));
    let weight = into_contiguous(weight.into_primitive().tensor());
    let bias = into_contiguous(bias.into_primitive().tensor());

    // Each split keeps at least `MIN_SPLIT` of P, to amortise its partial sum.
    const MIN_SPLIT: usize = 512;
    let p: usize = widths.iter().product();
    let launch = Launch::new(&weight, batch, out, 8, p / MIN_SPLIT);
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
        launch.rows,
        [dtype.into(), layout.dtype.into()],
    );
    launch.sum()
}
