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
    output: &mut Tensor<Vector<F, N>>, // [splits, B, O / N]: one partial sum per split of P
    #[comptime] modalities: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let batch = hats.shape(0);
    let hat_row = hats.stride(0);
    let p_total = weight.shape(0);
    let columns = weight.shape(1) / weight.vector_size();
    // Row strides in vectors: a runtime may pad rows (CUDA pitches them).
    let weight_row = weight.stride(0) / weight.vector_size();
    let output_split = output.stride(0) / output.vector_size();
    let output_row = output.stride(1) / output.vector_size();
    // This cube's share of P: whole 16-wide steps, split `k_begin..k_end` of CUBE_COUNT_Z.
    let split = CUBE_POS_Z as usize;
    let steps_per_split = ((p_total + 15) / 16 + CUBE_COUNT_Z as usize - 1) / CUBE_COUNT_Z as usize;
    let k_begin = split * steps_per_split * 16;
    let mut k_end = k_begin + steps_per_split * 16;
    if k_end > p_total {
        k_end = p_total;
    }
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

    let mut k0 = k_begin;
    while k0 < k_end {
        // Z tile [64 rows × 16 of P], built from the modality vectors: 4 entries per unit.
        #[unroll]
        for r in 0..4usize {
            let entry = unit + r * 256;
            let b = row0 + entry / 16;
            let p = k0 + entry % 16;
            let mut value = F::new(0.0);
            if b < batch && p < k_end {
                value = F::new(1.0);
                #[unroll]
                for m in 0..modalities {
                    let index = (p / strides[m] as usize) % widths[m] as usize;
                    value *= hats[b * hat_row + offsets[m] as usize + index];
                }
            }
            z_tile[entry] = value;
        }
        // W tile [16 of P × 16 vectors of O]: one vector per unit.
        let p = k0 + y;
        let mut w = Vector::new(F::new(0.0));
        if p < k_end && column < columns {
            w = weight[p * weight_row + column];
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
        // The bias goes into the first split's partial sum only.
        let mut offset = Vector::new(F::new(0.0));
        if split == 0 {
            offset = bias[column];
        }
        #[unroll]
        for i in 0..4usize {
            let b = row0 + y + 16 * i;
            if b < batch {
                output[split * output_split + b * output_row + column] = acc[i] + offset;
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
    output: &mut Tensor<Vector<F, N>>, // [1, B, O / N]
    #[comptime] modalities: usize,
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let batch = hats.shape(0);
    let hat_row = hats.stride(0);
    let rank = rank_weights.shape(0);
    let columns = output.shape(2) / output.vector_size();
    // Strides in vectors: a runtime may pad rows (CUDA pitches them).
    let factor_rank = factors.stride(0) / factors.vector_size();
    let factor_row = factors.stride(1) / factors.vector_size();
    let output_row = output.stride(1) / output.vector_size();
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
                projection +=
                    Vector::new(hats[b * hat_row + s]) * factors[r * factor_rank + s * factor_row + column];
            }
            product *= projection;
        }
        h += Vector::new(rank_weights[r]) * product;
    }
    output[b * output_row + column] = h;
}
