//! Low-rank fusion in one kernel: the per-modality projections, their product across
//! modalities and the rank-weighted sum, with no `[R, B, O]` intermediate anywhere.
//!
//! Unit `(x, y)` of the grid computes `h[b, o..o + N]` for row `b = y` and the `N` output
//! columns of vector `x` (`N` = 4 when `O` is a multiple of 4):
//!
//! ```text
//! h[b, o] = b_o + Σ_r w_r · Π_m Σ_i ẑ_m[b, i] · W_m[r, i, o]
//! ```
//!
//! `2 · R · Σ_m (d_m + 1)` FLOPs per output, the same as the GEMM formulation; the factors,
//! packed side by side as `[R, S, O]`, are read along `o` by neighbouring units (coalesced
//! vector loads), each row `ẑ[b]` by the 16 units of its row (cached).

use burn::tensor::Tensor;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::{BoolElement, CubeRuntime, FloatElement, IntElement};

use super::kernels::low_rank_fusion_kernel;
use super::{index_tensor, packed_hats, Cube, Launch, UNITS};

/// Launches [`low_rank_fusion_kernel`]. Shapes as in
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
    let layout = index_tensor::<R, F, I, BT>(&[widths.as_slice(), &offsets].concat(), &device);
    let factors = into_contiguous(Tensor::cat(factors.to_vec(), 1).into_primitive().tensor());
    let rank_weights = into_contiguous(rank_weights.reshape([rank]).into_primitive().tensor());
    let bias = into_contiguous(bias.reshape([out]).into_primitive().tensor());

    let launch = Launch::new(&bias, batch, out, UNITS, 1);
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
        [dtype.into(), layout.dtype.into()],
    );
    launch.sum()
}
