//! The cubecl kernels themselves (device code), both on the tiled GEMM of [`super::tile`];
//! `tensor_fusion.rs` and `low_rank.rs` hold their algorithms' descriptions and launch them.

use cubecl::prelude::*;

use super::tile::{fetch, multiply, publish, read_layout, write, zeros, TileSource};
use super::tile::{CUBE_VECTORS, DEPTH, UNITS, UNIT_VECTORS};

/// Tensor fusion: `h = vec(ẑ_1 ⊗ … ⊗ ẑ_M) · W + b`, each cube over one split of `P`
/// (see `tensor_fusion.rs`); `rows` (2, 4 or 8) rows of `h` per unit.
#[cube(launch)]
pub fn tensor_fusion_kernel<F: Float, I: Numeric, N: Size>(
    hats: &Tensor<F>,                  // [B, S]: every ẑ_m side by side
    layout: &Tensor<I>,                // [3M]: widths d_m + 1, offsets in S, strides in P
    weight: &Tensor<Vector<F, N>>,     // [P, O / N]
    bias: &Tensor<Vector<F, N>>,       // [O / N]
    output: &mut Tensor<Vector<F, N>>, // [splits, B, O / N]: one partial sum per split of P
    #[comptime] modalities: usize,
    #[comptime] rows: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    // This cube's share of P: whole steps, split `k_begin..k_end` of CUBE_COUNT_Z.
    let p_total = weight.shape(0);
    let split = CUBE_POS_Z as usize;
    let steps_per_split = p_total.div_ceil(DEPTH).div_ceil(CUBE_COUNT_Z as usize);
    let k_begin = split * steps_per_split * DEPTH;
    let mut k_end = k_begin + steps_per_split * DEPTH;
    if k_end > p_total {
        k_end = p_total;
    }
    let source = TileSource {
        widths: read_layout(layout, 0, modalities),
        offsets: read_layout(layout, modalities, modalities),
        strides: read_layout(layout, 2 * modalities, modalities),
        batch: hats.shape(0),
        row0: CUBE_POS_Y as usize * rows * UNITS,
        column0: CUBE_POS_X as usize * CUBE_VECTORS,
        columns: weight.shape(1) / weight.vector_size(),
        k_end,
    };

    let mut a_tile = SharedMemory::<F>::new(comptime!(2 * DEPTH * rows * UNITS));
    let mut b_tile = SharedMemory::<Vector<F, N>>::new(comptime!(2 * DEPTH * CUBE_VECTORS));
    let mut a = Array::<F>::new(comptime!(DEPTH * rows / UNITS));
    let mut acc = zeros::<F, N>(rows);
    let b = fetch::<F, N>(hats, weight, &source, k_begin, &mut a, rows, modalities);
    publish::<F, N>(&a, b, &mut a_tile, &mut b_tile, 0, rows);

    let mut buffer = 0usize;
    let mut k0 = k_begin;
    while k0 < k_end {
        let next = fetch::<F, N>(hats, weight, &source, k0 + DEPTH, &mut a, rows, modalities);
        #[unroll]
        for k in 0..DEPTH {
            multiply::<F, N>(&a_tile, &b_tile, buffer, k, &mut acc, rows);
        }
        publish::<F, N>(&a, next, &mut a_tile, &mut b_tile, 1 - buffer, rows);
        buffer = 1 - buffer;
        k0 += DEPTH;
    }

    write::<F, N>(&acc, bias, output, &source, split, rows);
}

/// Low-rank fusion: `h = b + Σ_r w_r · Π_m (ẑ_m · W_m^(r))`, each cube over one split of the
/// ranks (see `low_rank.rs`); `rows` (2 or 4) rows of `h` per unit.
#[cube(launch)]
pub fn low_rank_fusion_kernel<F: Float, I: Numeric, N: Size>(
    hats: &Tensor<F>,                  // [B, S]: every ẑ_m side by side
    layout: &Tensor<I>,                // [M]: where each ẑ_m ends in S
    factors: &Tensor<Vector<F, N>>,    // [R · S, O / N]: every W_m^(r) side by side
    rank_weights: &Tensor<F>,          // [R]
    bias: &Tensor<Vector<F, N>>,       // [O / N]
    output: &mut Tensor<Vector<F, N>>, // [splits, B, O / N]: one partial sum per split of R
    #[comptime] modalities: usize,
    #[comptime] rows: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    // The reduction runs over (r, s): row r·S + s of the factors times ẑ[b, s]; this cube's
    // share is whole ranks, `r_begin..r_end`.
    let width = hats.shape(1);
    let rank = rank_weights.shape(0);
    let split = CUBE_POS_Z as usize;
    let ranks_per_split = rank.div_ceil(CUBE_COUNT_Z as usize);
    let r_begin = split * ranks_per_split;
    let mut r_end = r_begin + ranks_per_split;
    if r_end > rank {
        r_end = rank;
    }
    let k_begin = r_begin * width;
    let k_end = r_end * width;
    // `A` is ẑ itself, repeated once per rank: one factor of width S and stride 1.
    let mut widths = Array::<u32>::new(1usize);
    let mut offsets = Array::<u32>::new(1usize);
    let mut strides = Array::<u32>::new(1usize);
    widths[0] = width as u32;
    offsets[0] = 0u32;
    strides[0] = 1u32;
    let source = TileSource {
        widths,
        offsets,
        strides,
        batch: hats.shape(0),
        row0: CUBE_POS_Y as usize * rows * UNITS,
        column0: CUBE_POS_X as usize * CUBE_VECTORS,
        columns: factors.shape(1) / factors.vector_size(),
        k_end,
    };
    let ends = read_layout(layout, 0, modalities);

    let mut a_tile = SharedMemory::<F>::new(comptime!(2 * DEPTH * rows * UNITS));
    let mut b_tile = SharedMemory::<Vector<F, N>>::new(comptime!(2 * DEPTH * CUBE_VECTORS));
    let mut a = Array::<F>::new(comptime!(DEPTH * rows / UNITS));
    // `projection`: ẑ_m · W_m^(r) of the current (m, r); `product`: Π of the earlier m.
    let mut projection = zeros::<F, N>(rows);
    let mut product = zeros::<F, N>(rows);
    let mut h = zeros::<F, N>(rows);
    let b = fetch::<F, N>(hats, factors, &source, k_begin, &mut a, rows, 1usize);
    publish::<F, N>(&a, b, &mut a_tile, &mut b_tile, 0, rows);

    // The segment (m, r) of the reduction ends at index r·S + ends[m] (exclusive).
    let mut m = 0usize;
    let mut r = r_begin;
    let mut segment_end = k_begin + ends[0] as usize;
    let mut buffer = 0usize;
    let mut k0 = k_begin;
    while k0 < k_end {
        let next = fetch::<F, N>(hats, factors, &source, k0 + DEPTH, &mut a, rows, 1usize);
        #[unroll]
        for k in 0..DEPTH {
            multiply::<F, N>(&a_tile, &b_tile, buffer, k, &mut projection, rows);
            // The same for every unit of the cube: no divergence. (Past the last rank, the
            // step's zero padding must not close segments of ranks beyond `r_end`.)
            if k0 + k + 1 == segment_end && r < r_end {
                let last = m + 1 == modalities;
                close_segment::<F, N>(
                    &mut projection,
                    &mut product,
                    &mut h,
                    m == 0,
                    last,
                    rank_weights[r],
                    rows,
                );
                m += 1;
                if last {
                    m = 0;
                    r += 1;
                }
                segment_end = r * width + ends[m] as usize;
            }
        }
        publish::<F, N>(&a, next, &mut a_tile, &mut b_tile, 1 - buffer, rows);
        buffer = 1 - buffer;
        k0 += DEPTH;
    }

    write::<F, N>(&h, bias, output, &source, split, rows);
}

/// Ends modality `m`'s projection for one rank: folds it into the product of the earlier
/// modalities (`first`: it is the product), and for the last modality adds
/// `w_r · product` into `h`. Clears the projection for the next segment.
#[cube]
fn close_segment<F: Float, N: Size>(
    projection: &mut Array<Vector<F, N>>,
    product: &mut Array<Vector<F, N>>,
    h: &mut Array<Vector<F, N>>,
    first: bool,
    last: bool,
    rank_weight: F,
    #[comptime] rows: usize,
) {
    let weight = Vector::new(rank_weight);
    #[unroll]
    for i in 0..comptime!(rows * UNIT_VECTORS) {
        let mut value = projection[i];
        if !first {
            value = product[i] * value;
        }
        if last {
            h[i] = fma(weight, value, h[i]);
        } else {
            product[i] = value;
        }
        projection[i] = Vector::new(F::new(0.0));
    }
}
