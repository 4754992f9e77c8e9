//! The cubecl kernels themselves (device code); `tensor_fusion.rs` and `low_rank.rs` hold
//! their algorithms' descriptions and launch them.

use cubecl::prelude::*;

/// Tensor fusion, one 64 × 16N tile of `h` per 16 × 16 cube (see `tensor_fusion.rs`).
#[cube(launch)]
pub fn tensor_fusion_kernel<F: Float, I: Numeric, N: Size>(
    hats: &Tensor<F>,                  // [B, S]: every ẑ_m side by side
    layout: &Tensor<I>,                // [3M]: widths d_m + 1, offsets in S, strides in P
    weight: &Tensor<Vector<F, N>>,     // [P, O / N]
    bias: &Tensor<Vector<F, N>>,       // [O / N]
    output: &mut Tensor<Vector<F, N>>, // [B, O / N]
    #[comptime] modalities: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let batch = hats.shape(0);
    let hat_width = hats.shape(1);
    let p_total = weight.shape(0);
    let columns = weight.shape(1) / weight.vector_size();
    let x = UNIT_POS_X as usize;
    let y = UNIT_POS_Y as usize;
    let unit = y * 16 + x;
    let row0 = CUBE_POS_Y as usize * 64;
    let column = CUBE_POS_X as usize * 16 + x;

    let mut widths = Array::<u32>::new(modalities);
    let mut offsets = Array::<u32>::new(modalities);
    let mut strides = Array::<u32>::new(modalities);
    #[unroll]
    for m in 0..modalities {
        widths[m] = u32::cast_from(layout[m]);
        offsets[m] = u32::cast_from(layout[modalities + m]);
        strides[m] = u32::cast_from(layout[2 * modalities + m]);
    }

    let mut z_tile = SharedMemory::<F>::new(1024usize);
    let mut w_tile = SharedMemory::<Vector<F, N>>::new(256usize);
    let mut acc = Array::<Vector<F, N>>::new(4usize);
    #[unroll]
    for i in 0..4usize {
        acc[i] = Vector::new(F::new(0.0));
    }

    let mut k0 = 0usize;
    while k0 < p_total {
        // Z tile [64 rows × 16 of P], built from the modality vectors: 4 entries per unit.
        #[unroll]
        for r in 0..4usize {
            let entry = unit + r * 256;
            let b = row0 + entry / 16;
            let p = k0 + entry % 16;
            let mut value = F::new(0.0);
            if b < batch && p < p_total {
                value = F::new(1.0);
                #[unroll]
                for m in 0..modalities {
                    let index = (p / strides[m] as usize) % widths[m] as usize;
                    value *= hats[b * hat_width + offsets[m] as usize + index];
                }
            }
            z_tile[entry] = value;
        }
        // W tile [16 of P × 16 vectors of O]: one vector per unit.
        let p = k0 + y;
        let mut w = Vector::new(F::new(0.0));
        if p < p_total && column < columns {
            w = weight[p * columns + column];
        }
        w_tile[unit] = w;
        sync_cube();

        #[unroll]
        for k in 0..16usize {
            let w = w_tile[k * 16 + x];
            #[unroll]
            for i in 0..4usize {
                acc[i] += Vector::new(z_tile[(y + 16 * i) * 16 + k]) * w;
            }
        }
        sync_cube();
        k0 += 16;
    }

    if column < columns {
        #[unroll]
        for i in 0..4usize {
            let b = row0 + y + 16 * i;
            if b < batch {
                output[b * columns + column] = acc[i] + bias[column];
            }
        }
    }
}

/// Low-rank fusion, `N` outputs per unit (see `low_rank.rs`).
#[cube(launch)]
pub fn low_rank_fusion_kernel<F: Float, I: Numeric, N: Size>(
    hats: &Tensor<F>,                  // [B, S]: every ẑ_m side by side
    layout: &Tensor<I>,                // [2M]: widths d_m + 1, offsets in S
    factors: &Tensor<Vector<F, N>>,    // [R, S, O / N]: every W_m side by side
    rank_weights: &Tensor<F>,          // [R]
    bias: &Tensor<Vector<F, N>>,       // [O / N]
    output: &mut Tensor<Vector<F, N>>, // [B, O / N]
    #[comptime] modalities: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let batch = hats.shape(0);
    let hat_width = hats.shape(1);
    let rank = rank_weights.shape(0);
    let columns = output.shape(1) / output.vector_size();
    let column = ABSOLUTE_POS_X as usize;
    let b = ABSOLUTE_POS_Y as usize;
    if b >= batch || column >= columns {
        terminate!();
    }

    let mut h = bias[column];
    for r in 0..rank {
        let mut product = Vector::new(F::new(1.0));
        #[unroll]
        for m in 0..modalities {
            let width = u32::cast_from(layout[m]) as usize;
            let offset = u32::cast_from(layout[modalities + m]) as usize;
            let mut projection = Vector::new(F::new(0.0));
            for i in 0..width {
                let s = offset + i;
                projection += Vector::new(hats[b * hat_width + s]) * factors[(r * hat_width + s) * columns + column];
            }
            product *= projection;
        }
        h += Vector::new(rank_weights[r]) * product;
    }
    output[b * columns + column] = h;
}
