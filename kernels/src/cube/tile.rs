//! The tiled GEMM both kernels are built on (device code): `h = A · B` where `A` is never
//! stored. Each step along the reduction, a cube of 16 × 16 units
//!
//! 1. builds its `[DEPTH, rows · 16]` tile of `A` in shared memory from the packed modality
//!    vectors ([`implicit_entry`]) and loads the `[DEPTH, 32N]` tile of `B` (one `N`-wide
//!    vector per unit, coalesced along the output);
//! 2. multiplies them into registers: unit `(x, y)` owns rows `y + 16 i` (`i < rows`) and
//!    vectors `x + 16 j` (`j < 2`) of the cube's tile of `h`, so each step of one reduction
//!    index costs it `rows + 2` shared-memory loads for `2 · rows` vector FMAs.
//!
//! The stages are double-buffered: the next step's tiles are fetched into registers while the
//! current ones are multiplied, then stored into the other half of shared memory, so a step
//! needs one barrier.

use cubecl::prelude::*;

/// Units per side of a cube.
pub const UNITS: usize = 16;
/// Reduction indices per step.
pub const DEPTH: usize = 8;
/// `N`-wide vectors of `h` per unit along the output, `UNITS` apart.
pub const UNIT_VECTORS: usize = 2;
/// Vectors of `h` per cube along the output.
pub const CUBE_VECTORS: usize = UNITS * UNIT_VECTORS;

/// `count` entries of `layout` from `start`, as `u32`.
#[cube]
pub fn read_layout<I: Numeric>(layout: &Tensor<I>, start: usize, #[comptime] count: usize) -> Array<u32> {
    let mut values = Array::<u32>::new(count);
    #[unroll]
    for i in 0..count {
        values[i] = u32::cast_from(layout[start + i]);
    }
    values
}

/// The multi-index of reduction index `k` in `A`'s factors:
/// `digit_f = (k / stride_f) mod width_f` (one division per factor).
#[cube]
fn multi_index(
    k: usize,
    widths: &Array<u32>,
    strides: &Array<u32>,
    #[comptime] factors: usize,
) -> Array<u32> {
    let mut digits = Array::<u32>::new(factors);
    #[unroll]
    for f in 0..factors {
        digits[f] = ((k / strides[f] as usize) % widths[f] as usize) as u32;
    }
    digits
}

/// Moves `digits` on to the next reduction index: the last factor's digit goes up by one,
/// carrying into the earlier ones (no division).
#[cube]
fn advance(digits: &mut Array<u32>, widths: &Array<u32>, #[comptime] factors: usize) {
    let mut carry = true;
    #[unroll]
    for step in 0..factors {
        let f = comptime!(factors - 1 - step);
        if carry {
            digits[f] += 1;
            if digits[f] == widths[f] {
                digits[f] = 0;
            } else {
                carry = false;
            }
        }
    }
}

/// The entry of `A` at batch row `b` and multi-index `digits`: `Π_f ẑ[b, offset_f + digit_f]`,
/// one factor per modality for the outer product of tensor fusion, a single factor
/// (width `S`, stride 1) for low-rank fusion.
#[cube]
fn implicit_entry<F: Float>(
    hats: &Tensor<F>,
    b: usize,
    digits: &Array<u32>,
    offsets: &Array<u32>,
    #[comptime] factors: usize,
) -> F {
    let row = b * hats.stride(0);
    let mut value = F::new(1.0);
    #[unroll]
    for f in 0..factors {
        value *= hats[row + (offsets[f] + digits[f]) as usize];
    }
    value
}

/// Where a cube reads `A` from and which part of `h` it computes.
#[derive(CubeType)]
pub struct TileSource {
    /// Per factor of the implicit `A` (see [`multi_index`], [`implicit_entry`]): its width,
    /// its offset in the packed `ẑ` and its stride along the reduction.
    pub widths: Array<u32>,
    pub offsets: Array<u32>,
    pub strides: Array<u32>,
    /// Rows of `h` (the batch).
    pub batch: usize,
    /// First row and first vector column of the cube's tile.
    pub row0: usize,
    pub column0: usize,
    /// Vector columns of `h`.
    pub columns: usize,
    /// End of the cube's share of the reduction.
    pub k_end: usize,
}

/// This unit's share of the step at `k0`, fetched into registers: `rows / 2` consecutive
/// entries of `A` along the reduction, in one row (`a`), and the returned vector of `B`.
/// Entries past the batch, the output or `k_end` are 0.
#[cube]
pub fn fetch<F: Float, N: Size>(
    hats: &Tensor<F>,
    b_matrix: &Tensor<Vector<F, N>>,
    source: &TileSource,
    k0: usize,
    a: &mut Array<F>,
    #[comptime] rows: usize,
    #[comptime] factors: usize,
) -> Vector<F, N> {
    let unit = UNIT_POS as usize;
    let tile_rows = comptime!(rows * UNITS);
    let per_unit = comptime!(DEPTH * rows / UNITS);
    let b = source.row0 + unit % tile_rows;
    let k_first = k0 + (unit / tile_rows) * per_unit;
    let mut digits = multi_index(k_first, &source.widths, &source.strides, factors);
    #[unroll]
    for j in 0..per_unit {
        let mut value = F::new(0.0);
        if b < source.batch && k_first + j < source.k_end {
            value = implicit_entry::<F>(hats, b, &digits, &source.offsets, factors);
        }
        a[j] = value;
        advance(&mut digits, &source.widths, factors);
    }
    // Row strides in vectors: a runtime may pad rows (CUDA pitches them).
    let b_row = b_matrix.stride(0) / b_matrix.vector_size();
    let k = k0 + unit / CUBE_VECTORS;
    let column = source.column0 + unit % CUBE_VECTORS;
    let mut vector = Vector::new(F::new(0.0));
    if k < source.k_end && column < source.columns {
        vector = b_matrix[k * b_row + column];
    }
    vector
}

/// Stores what [`fetch`] returned into half `buffer` (0 or 1) of the shared tiles
/// (`A` `[2, DEPTH, rows · 16]`, `B` `[2, DEPTH, 32]` vectors), then waits for the whole cube,
/// so that the half can be read.
#[cube]
pub fn publish<F: Float, N: Size>(
    a: &Array<F>,
    b: Vector<F, N>,
    a_tile: &mut SharedMemory<F>,
    b_tile: &mut SharedMemory<Vector<F, N>>,
    buffer: usize,
    #[comptime] rows: usize,
) {
    let unit = UNIT_POS as usize;
    let tile_rows = comptime!(rows * UNITS);
    let per_unit = comptime!(DEPTH * rows / UNITS);
    // Entry j of unit u is A[(u / tile_rows) · per_unit + j, u mod tile_rows] of the step.
    let first = (buffer * DEPTH + (unit / tile_rows) * per_unit) * tile_rows + unit % tile_rows;
    #[unroll]
    for j in 0..per_unit {
        a_tile[first + j * tile_rows] = a[j];
    }
    b_tile[buffer * DEPTH * CUBE_VECTORS + unit] = b;
    sync_cube();
}

/// `rows · 2` zero vectors: a unit's tile of `h`, row-major (`[i · 2 + j]`).
#[cube]
pub fn zeros<F: Float, N: Size>(#[comptime] rows: usize) -> Array<Vector<F, N>> {
    let mut tile = Array::<Vector<F, N>>::new(comptime!(rows * UNIT_VECTORS));
    #[unroll]
    for i in 0..comptime!(rows * UNIT_VECTORS) {
        tile[i] = Vector::new(F::new(0.0));
    }
    tile
}

/// Adds the products of reduction index `k` of half `buffer` of the shared tiles into the
/// unit's tile of `h`.
#[cube]
pub fn multiply<F: Float, N: Size>(
    a_tile: &SharedMemory<F>,
    b_tile: &SharedMemory<Vector<F, N>>,
    buffer: usize,
    k: usize,
    acc: &mut Array<Vector<F, N>>,
    #[comptime] rows: usize,
) {
    let x = UNIT_POS_X as usize;
    let y = UNIT_POS_Y as usize;
    let tile_rows = comptime!(rows * UNITS);
    let b_base = (buffer * DEPTH + k) * CUBE_VECTORS + x;
    let mut b = Array::<Vector<F, N>>::new(UNIT_VECTORS);
    #[unroll]
    for j in 0..UNIT_VECTORS {
        b[j] = b_tile[b_base + j * UNITS];
    }
    let a_base = (buffer * DEPTH + k) * tile_rows + y;
    #[unroll]
    for i in 0..rows {
        let a = Vector::new(a_tile[a_base + i * UNITS]);
        #[unroll]
        for j in 0..UNIT_VECTORS {
            acc[i * UNIT_VECTORS + j] = fma(a, b[j], acc[i * UNIT_VECTORS + j]);
        }
    }
}

/// Writes the unit's tile of `h` into partial sum `split` of `output` `[splits, B, O / N]`,
/// adding `bias` `[O / N]` to partial sum 0 only (the bias is added once).
#[cube]
pub fn write<F: Float, N: Size>(
    acc: &Array<Vector<F, N>>,
    bias: &Tensor<Vector<F, N>>,
    output: &mut Tensor<Vector<F, N>>,
    source: &TileSource,
    split: usize,
    #[comptime] rows: usize,
) {
    let x = UNIT_POS_X as usize;
    let y = UNIT_POS_Y as usize;
    let output_split = output.stride(0) / output.vector_size();
    let output_row = output.stride(1) / output.vector_size();
    #[unroll]
    for j in 0..UNIT_VECTORS {
        let column = source.column0 + x + j * UNITS;
        if column < source.columns {
            let mut offset = Vector::new(F::new(0.0));
            if split == 0 {
                offset = bias[column];
            }
            #[unroll]
            for i in 0..rows {
                let b = source.row0 + y + i * UNITS;
                if b < source.batch {
                    output[split * output_split + b * output_row + column] =
                        acc[i * UNIT_VECTORS + j] + offset;
                }
            }
        }
    }
}
