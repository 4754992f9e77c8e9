//! Flex (f32): the GEMM formulations of [`tensor_fusion`](crate::tensor_fusion) and
//! [`low_rank`](crate::low_rank) written directly on the tensors' memory, with the `gemm`
//! crate (its AVX-512 kernels enabled, chosen at run time) for the large products and
//! rayon for the row-wise loops. Same algorithms and same results as the generic
//! formulations; what changes is that no step goes through a tensor op, so there are no
//! intermediate tensors, copies or per-op dispatch between the GEMMs.
//!
//! Tensors of another dtype than f32 take the generic formulations.

pub mod low_rank;
pub mod tensor_fusion;

use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::tensor::{DType, Shape, Tensor, TensorData, TensorPrimitive};

/// Row-major `f32` contents of a tensor (copied only if it is not contiguous).
struct Dense {
    tensor: FlexTensor,
}

impl Dense {
    fn new<const D: usize>(tensor: Tensor<Flex, D>) -> Self {
        let tensor = tensor.into_primitive().tensor();
        let tensor = match tensor.as_slice::<f32>() {
            Some(_) => tensor,
            None => tensor.to_contiguous(),
        };
        Dense { tensor }
    }

    fn values(&self) -> &[f32] {
        self.tensor.as_slice::<f32>().expect("a contiguous f32 tensor")
    }
}

/// Whether every tensor is f32 (the only dtype this path handles).
pub(crate) fn all_f32<const D: usize>(tensors: &[Tensor<Flex, D>]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

/// A tensor of `shape` holding `values`.
fn tensor_of<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<Flex, D> {
    let primitive = FlexTensor::from_data(TensorData::new(values, Shape::new(shape)));
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

/// A matrix operand: its memory and its row and column strides (in elements), so that a
/// transposed view is the same memory with the strides swapped.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    values: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// A row-major `[rows, cols]` matrix.
    fn rows(values: &'a [f32], cols: usize) -> Self {
        Matrix {
            values,
            row_stride: cols,
            col_stride: 1,
        }
    }

    fn transposed(self) -> Self {
        Matrix {
            values: self.values,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// Below this many multiply-adds a GEMM runs on one thread (as flex's own matmul does).
const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// `out[m × n] (+)= a[m × k] · b[k × n]`, `out` row-major; adds to `out` when `accumulate`.
fn gemm(m: usize, n: usize, k: usize, out: &mut [f32], accumulate: bool, a: Matrix, b: Matrix) {
    assert!(out.len() >= m * n, "gemm: output too small");
    assert!(m == 0 || k == 0 || (m - 1) * a.row_stride + (k - 1) * a.col_stride < a.values.len());
    assert!(k == 0 || n == 0 || (k - 1) * b.row_stride + (n - 1) * b.col_stride < b.values.len());
    let parallelism = if m * n * k >= PARALLEL_THRESHOLD {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every index the strides reach inside the slices, and
    // `out` is borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.values.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.values.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `[1; z]` for every row of `z` `[rows, d]` (`d ≥ 1`): `[rows, d + 1]`.
fn prepend_one(z: &[f32], d: usize) -> Vec<f32> {
    let mut hat = Vec::with_capacity(z.len() / d * (d + 1));
    for row in z.chunks_exact(d) {
        hat.push(1.0);
        hat.extend_from_slice(row);
    }
    hat
}

/// `Σ_b grad[b, :]` for `grad` `[rows, out]`.
fn column_sums(grad: &[f32], out: usize) -> Vec<f32> {
    let mut sums = vec![0.0; out];
    for row in grad.chunks_exact(out) {
        sums.iter_mut().zip(row).for_each(|(s, g)| *s += g);
    }
    sums
}

/// `[rows, d + 1]` -> `[rows, d]`: drops the gradient of the constant 1.
fn drop_constant(hat_grad: &[f32], width: usize) -> Vec<f32> {
    hat_grad
        .chunks_exact(width)
        .flat_map(|row| row[1..].iter().copied())
        .collect()
}
