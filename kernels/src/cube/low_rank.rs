//! Low-rank fusion in one kernel: the per-modality projections, their product across
//! modalities and the rank-weighted sum, with no `[R, B, O]` intermediate anywhere.
//!
//! ```text
//! h[b, o] = b_o + Σ_r w_r · Π_m Σ_i ẑ_m[b, i] · W_m[r, i, o]
//! ```
//!
//! It is the tiled GEMM of `tile.rs` over the reduction index `(r, s)`, `s < S = Σ_m (d_m + 1)`:
//! `A[b, (r, s)] = ẑ[b, s]` (the packed modality vectors, once per rank) and
//! `B[(r, s), o] = W[r, s, o]` (the factors packed side by side, `[R · S, O]`). The sum
//! over the `d_m + 1` indices of one modality and one rank is that projection: when the
//! reduction reaches the end of such a segment (the same index for every unit of the cube),
//! each unit folds its register tile of projections into the product of the earlier
//! modalities, and after the last modality adds `w_r ·` product into its tile of `h`.
//!
//! A cube computes `64 × 32N` of `h` (unit `(x, y)`: rows `y + 16i`, `i < 4`, vectors
//! `x + 16j`, `j < 2`; three such register tiles: projection, product, `h`), or `32 × 32N`
//! for batches of at most 32.
//! `2 · R · S` FLOPs per output, the same as the GEMM formulation. When the batch gives few
//! cubes the ranks are split along the grid's z axis (whole ranks per split; the partial
//! sums are added afterwards).

use burn::tensor::Tensor;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::{BoolElement, CubeRuntime, FloatElement, IntElement};

use super::kernels::low_rank_fusion_kernel;
use super::{index_tensor, packed_hats, Cube, Launch};

/// Launches the `low_rank_fusion_kernel` of `kernels.rs`. Shapes as in
/// [`FusionBackend::low_rank_fusion`](crate::FusionBackend::low_rank_fusion).
pub fn forward<R, F, I, BT>(
    inputs: &[Tensor<Cube<R, F, I, BT>, 2>],
    factors: &[Tensor<Cube<R, F, I, BT>, 3>],
    rank_weights: Tensor<Cube<R, F, I, BT>, 2>,
    bias: Tensor<Cube<R, F, I, BT>, 2>,
) -> Tensor<Cube<R, F, I, BT>, 2>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let device = bias.device();
    let [batch, _] = inputs[0].dims();
    let [_, rank] = rank_weights.dims();
    let [_, out] = bias.dims();
    let (hats, widths, offsets) = packed_hats(inputs);
    let ends: Vec<usize> = offsets.iter().zip(&widths).map(|(o, w)| o + w).collect();
    let layout = index_tensor::<R, F, I, BT, _>(&ends, &device);
    let width: usize = widths.iter().sum();
    let factors = Tensor::cat(factors.to_vec(), 1).reshape([rank * width, out]);
    let factors = into_contiguous(factors.into_primitive().tensor());
    let rank_weights = into_contiguous(rank_weights.reshape([rank]).into_primitive().tensor());
    let bias = into_contiguous(bias.reshape([out]).into_primitive().tensor());

    // Whole ranks per split of the reduction.
    let launch = Launch::new(&bias, batch, out, 4, rank);
    let (output, dtype) = (launch.output.clone(), launch.output.dtype);
    low_rank_fusion_kernel::launch::<R>(
        &output.client,
        launch.cube_count.clone(),
        launch.cube_dim,
        launch.vector,
        hats.into_tensor_arg(),
        layout.clone().into_tensor_arg(),
        factors.into_tensor_arg(),
        rank_weights.into_tensor_arg(),
        bias.into_tensor_arg(),
        output.clone().into_tensor_arg(),
        widths.len(),
        launch.rows,
        [dtype.into(), layout.dtype.into()],
    );
    launch.sum()
}
