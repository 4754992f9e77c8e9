//! The device code of the sparse aggregation (`aggregate.rs` describes and launches it):
//! one unit per output value or vector, reading its row's entries in CSR order. Rows are
//! addressed through each tensor's own row stride: a backend may pad rows (CUDA allocations
//! of `[n, 3]` have a row stride of 4), so no row is assumed to follow the last directly.

use cubecl::prelude::*;

/// Sum: `out[i, v] = Σ_{k ∈ row i} a_k · X[col_k, v]`, one unit per vector `v` of `N` features.
#[cube(launch)]
pub fn aggregate_sum_kernel<F: Float, I: Numeric, N: Size>(
    row_ptr: &Tensor<I>,            // [rows + 1]
    col: &Tensor<I>,                // [E]
    weight: &Tensor<F>,             // [E]
    x: &Tensor<Vector<F, N>>,       // [cols, F / N]
    out: &mut Tensor<Vector<F, N>>, // [rows, F / N]
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let vectors = out.shape(1) / out.vector_size();
    if ABSOLUTE_POS >= out.shape(0) * vectors {
        terminate!();
    }
    let row = ABSOLUTE_POS / vectors;
    let v = ABSOLUTE_POS % vectors;
    let x_row = x.stride(0) / x.vector_size();
    let begin = usize::cast_from(row_ptr[row]);
    let end = usize::cast_from(row_ptr[row + 1]);
    let mut acc = Vector::new(F::new(0.0));
    for k in begin..end {
        let source = usize::cast_from(col[k]);
        acc = fma(Vector::new(weight[k]), x[source * x_row + v], acc);
    }
    out[row * (out.stride(0) / out.vector_size()) + v] = acc;
}

/// Max: `out[i, f] = max_{k ∈ row i} X[col_k, f]` (0 for an empty row) and the first entry
/// `k` reaching it, one unit per value.
#[cube(launch)]
pub fn aggregate_max_kernel<F: Float, I: Numeric>(
    row_ptr: &Tensor<I>,    // [rows + 1]
    col: &Tensor<I>,        // [E]
    x: &Tensor<F>,          // [cols, F]
    out: &mut Tensor<F>,    // [rows, F]
    argmax: &mut Tensor<I>, // [rows, F]
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let features = out.shape(1);
    if ABSOLUTE_POS >= out.shape(0) * features {
        terminate!();
    }
    let row = ABSOLUTE_POS / features;
    let f = ABSOLUTE_POS % features;
    let x_row = x.stride(0);
    let begin = usize::cast_from(row_ptr[row]);
    let end = usize::cast_from(row_ptr[row + 1]);
    let mut best = F::new(0.0);
    let mut arg = 0usize;
    for k in begin..end {
        let value = x[usize::cast_from(col[k]) * x_row + f];
        if k == begin || value > best {
            best = value;
            arg = k;
        }
    }
    out[row * out.stride(0) + f] = best;
    argmax[row * argmax.stride(0) + f] = I::cast_from(arg);
}

/// Max backward, by rows `j` of `Aᵀ`: `∂X[j, f] = Σ ∂out[i, f]` over the entries `(i, j)` that
/// are `argmax[i, f]`, one unit per value.
#[cube(launch)]
pub fn aggregate_max_backward_kernel<F: Float, I: Numeric>(
    row_ptr: &Tensor<I>, // [cols + 1]: Aᵀ
    col: &Tensor<I>,     // [E]: the target of each entry of Aᵀ
    partner: &Tensor<I>, // [E]: its position in A
    argmax: &Tensor<I>,  // [rows, F]
    grad: &Tensor<F>,    // [rows, F]
    out: &mut Tensor<F>, // [cols, F]
    #[define(F, I)] _dtypes: [StorageType; 2],
) {
    let features = out.shape(1);
    if ABSOLUTE_POS >= out.shape(0) * features {
        terminate!();
    }
    let j = ABSOLUTE_POS / features;
    let f = ABSOLUTE_POS % features;
    let argmax_row = argmax.stride(0);
    let grad_row = grad.stride(0);
    let begin = usize::cast_from(row_ptr[j]);
    let end = usize::cast_from(row_ptr[j + 1]);
    let mut acc = F::new(0.0);
    for k in begin..end {
        let i = usize::cast_from(col[k]);
        if usize::cast_from(argmax[i * argmax_row + f]) == usize::cast_from(partner[k]) {
            acc += grad[i * grad_row + f];
        }
    }
    out[j * out.stride(0) + f] = acc;
}
