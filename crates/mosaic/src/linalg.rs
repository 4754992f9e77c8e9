//! Dense linear algebra in f64 on the host, for the statistics that need more than burn's
//! tensor ops (CCA's whitening and SVD): centred cross-covariances through the `gemm` crate,
//! and the eigendecomposition of a symmetric matrix (Householder tridiagonalisation, then
//! the shifted QL algorithm, as EISPACK's tql2). Both are deterministic: the order of
//! every sum is fixed, whatever the number of threads.

use crate::analysis::Matrix;
use rayon::prelude::*;

/// Rows per block of [`cross_covariance`]: each block is centred, multiplied on one thread,
/// and the blocks' products are summed in block order.
const BLOCK_ROWS: usize = 4096;

/// `(X − x̄)ᵀ (Y − ȳ) / (n − 1)`, `[x.cols, y.cols]` row-major, for `x`: `[n, p]` and `y`:
/// `[n, q]` with the same `n ≥ 2` (not checked here). Blocks of [`BLOCK_ROWS`] rows run in
/// parallel; their partial sums are added in block order, so the result does not depend on
/// the thread count.
pub(crate) fn cross_covariance(x: &Matrix, y: &Matrix) -> Vec<f64> {
    let (n, p, q) = (x.rows(), x.cols(), y.cols());
    let (x_mean, y_mean) = (x.column_means(), y.column_means());
    let centred_block = |m: &Matrix, mean: &[f64], start: usize, end: usize| -> Vec<f64> {
        let cols = m.cols();
        let mut block = m.values()[start * cols..end * cols].to_vec();
        for row in block.chunks_mut(cols.max(1)) {
            row.iter_mut().zip(mean).for_each(|(v, mu)| *v -= mu);
        }
        block
    };
    let starts: Vec<usize> = (0..n).step_by(BLOCK_ROWS).collect();
    let partials: Vec<Vec<f64>> = starts
        .par_iter()
        .map(|&start| {
            let end = n.min(start + BLOCK_ROWS);
            let a = centred_block(x, &x_mean, start, end);
            let b = centred_block(y, &y_mean, start, end);
            let mut out = vec![0.0; p * q];
            // aᵀ b: a is [rows, p] row-major, read as its transpose through the strides.
            gemm_t(p, q, end - start, &mut out, &a, &b);
            out
        })
        .collect();
    let mut total = vec![0.0; p * q];
    for partial in partials {
        total.iter_mut().zip(partial).for_each(|(t, v)| *t += v);
    }
    let scale = 1.0 / (n as f64 - 1.0);
    total.iter_mut().for_each(|t| *t *= scale);
    total
}

/// `out[m × n] = A b`, on the calling thread, for `A`: `[m, k]` read from `a` with strides
/// (`a[i·row_stride + l·col_stride]`) and row-major `b`: `[k, n]`.
fn gemm_into(
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f64],
    a: &[f64],
    (row_stride, col_stride): (usize, usize),
    b: &[f64],
) {
    assert!(
        out.len() == m * n && a.len() == m * k && b.len() == k * n,
        "gemm: sizes"
    );
    assert!(
        m == 0 || k == 0 || (m - 1) * row_stride + (k - 1) * col_stride < a.len(),
        "gemm: strides"
    );
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // SAFETY: the asserts keep every index the strides reach inside the slices (A[i, l] =
    // a[i·row_stride + l·col_stride], b[l, j] = b[l·n + j], out[i, j] = out[i·n + j]), and
    // `out` is borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            col_stride as isize,
            row_stride as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `out[p × q] = aᵀ b` for row-major `a`: `[k, p]` and `b`: `[k, q]`, on the calling thread.
fn gemm_t(p: usize, q: usize, k: usize, out: &mut [f64], a: &[f64], b: &[f64]) {
    gemm_into(p, q, k, out, a, (1, p), b);
}

/// `a · b` for row-major `a`: `[m, k]`, `b`: `[k, n]`, on the calling thread (the same
/// bits on any number of threads).
pub(crate) fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    gemm_into(m, n, k, &mut out, a, (k, 1), b);
    out
}

/// The transpose of row-major `a`: `[m, n]` → `[n, m]`.
pub(crate) fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[j * m + i] = a[i * n + j];
        }
    }
    out
}

/// The eigendecomposition `A = V Λ Vᵀ` of a symmetric matrix.
#[derive(Debug, Clone)]
pub(crate) struct SymmetricEigen {
    /// The eigenvalues `λ`, largest first.
    pub values: Vec<f64>,
    /// `V`, `[n, n]` row-major: column `j` is the unit eigenvector of `values[j]`.
    pub vectors: Vec<f64>,
}

impl SymmetricEigen {
    /// `V f(Λ) Vᵀ`: a function of the matrix, `[n, n]` row-major.
    pub fn apply(&self, f: impl Fn(f64) -> f64) -> Vec<f64> {
        let n = self.values.len();
        let scaled: Vec<f64> = self.values.iter().map(|&l| f(l)).collect();
        let v_scaled: Vec<f64> = (0..n * n).map(|i| self.vectors[i] * scaled[i % n]).collect();
        matmul(&v_scaled, &transpose(&self.vectors, n, n), n, n, n)
    }
}

/// The eigendecomposition of the symmetric `a` (`[n, n]` row-major; only its values matter,
/// its symmetry is assumed). Eigenvalues come largest first; each eigenvector's sign is
/// fixed by making its largest-magnitude entry positive (the first such, on ties).
pub(crate) fn symmetric_eigen(a: &[f64], n: usize) -> SymmetricEigen {
    assert_eq!(a.len(), n * n, "symmetric_eigen: a is not [n, n]");
    if n == 0 {
        return SymmetricEigen {
            values: Vec::new(),
            vectors: Vec::new(),
        };
    }
    let mut v = a.to_vec();
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    tridiagonalise(&mut v, &mut d, &mut e, n);
    // The QL rotations combine two columns of V: on Vᵀ they are two contiguous rows.
    let mut vt = transpose(&v, n, n);
    shifted_ql(&mut vt, &mut d, &mut e, n);
    let v = transpose(&vt, n, n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[j].total_cmp(&d[i]).then(i.cmp(&j)));
    let mut vectors = vec![0.0; n * n];
    for (new, &old) in order.iter().enumerate() {
        let column: Vec<f64> = (0..n).map(|k| v[k * n + old]).collect();
        let largest =
            column.iter().enumerate().fold(
                (0, 0.0_f64),
                |best, (k, x)| if x.abs() > best.1.abs() { (k, *x) } else { best },
            );
        let sign = if column[largest.0] < 0.0 { -1.0 } else { 1.0 };
        for (k, x) in column.iter().enumerate() {
            vectors[k * n + new] = sign * x;
        }
    }
    SymmetricEigen {
        values: order.iter().map(|&i| d[i]).collect(),
        vectors,
    }
}

/// Householder reduction of the symmetric `v` to tridiagonal form: on return `d` holds the
/// diagonal, `e[1..]` the subdiagonal, and `v` the accumulated orthogonal transformation.
fn tridiagonalise(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    let at = |i: usize, j: usize| i * n + j;
    d.copy_from_slice(&v[at(n - 1, 0)..at(n - 1, 0) + n]);
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
                v[at(j, i)] = 0.0;
            }
        } else {
            for x in &mut d[..i] {
                *x /= scale;
                h += *x * *x;
            }
            let f = d[i - 1];
            let g = if f > 0.0 { -h.sqrt() } else { h.sqrt() };
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].fill(0.0);
            for j in 0..i {
                let f = d[j];
                v[at(j, i)] = f;
                let mut g = e[j] + v[at(j, j)] * f;
                for k in j + 1..i {
                    g += v[at(k, j)] * d[k];
                    e[k] += v[at(k, j)] * f;
                }
                e[j] = g;
            }
            let mut f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                for k in j..i {
                    v[at(k, j)] -= f * e[k] + g * d[k];
                }
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        v[at(n - 1, i)] = v[at(i, i)];
        v[at(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[at(k, i + 1)] / h;
            }
            for j in 0..=i {
                let g: f64 = (0..=i).map(|k| v[at(k, i + 1)] * v[at(k, j)]).sum();
                for k in 0..=i {
                    v[at(k, j)] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[at(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
        v[at(n - 1, j)] = 0.0;
    }
    v[at(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// The shifted QL algorithm (EISPACK's tql2) on the tridiagonal (`d`, `e`) from [`tridiagonalise`], with
/// `vt` the transpose of its transformation: on return `d` holds the eigenvalues and `vt`
/// the eigenvectors (as rows).
fn shifted_ql(vt: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut largest = 0.0_f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        largest = largest.max(d[l].abs() + e[l].abs());
        // The first negligible subdiagonal element at or after l (e[n − 1] is 0).
        let m = (l..n).find(|&m| e[m].abs() <= eps * largest).unwrap_or(n - 1);
        if m > l {
            // Converges in a few iterations per eigenvalue on finite input; the cap only
            // stops a loop that non-finite values would never end.
            for _ in 0..30 * n {
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in &mut d[l + 2..n] {
                    *x -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (row_i, row_next) = vt[i * n..(i + 2) * n].split_at_mut(n);
                    for (x, y) in row_i.iter_mut().zip(row_next.iter_mut()) {
                        let h = *y;
                        *y = s * *x + c * h;
                        *x = c * *x - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * largest {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::SplitMix64;

    fn random(seed: u64, n: usize) -> Vec<f64> {
        let mut rng = SplitMix64::new(seed);
        (0..n).map(|_| f64::from(rng.signed_unit())).collect()
    }

    fn symmetric(seed: u64, n: usize) -> Vec<f64> {
        let r = random(seed, n * n);
        (0..n * n).map(|k| r[k] + r[(k % n) * n + k / n]).collect()
    }

    /// `A V = V Λ`, `Vᵀ V = I`, eigenvalues sorted, to `tol` relative to the matrix's size.
    fn check_decomposition(a: &[f64], n: usize, tol: f64) {
        let eigen = symmetric_eigen(a, n);
        let norm = a.iter().map(|x| x.abs()).fold(1.0, f64::max);
        let av = matmul(a, &eigen.vectors, n, n, n);
        for i in 0..n {
            for j in 0..n {
                let expected = eigen.vectors[i * n + j] * eigen.values[j];
                assert!(
                    (av[i * n + j] - expected).abs() <= tol * norm,
                    "n {n}: (AV)[{i},{j}] = {}, (VΛ)[{i},{j}] = {expected}",
                    av[i * n + j]
                );
            }
        }
        let vtv = matmul(&transpose(&eigen.vectors, n, n), &eigen.vectors, n, n, n);
        for i in 0..n {
            for j in 0..n {
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (vtv[i * n + j] - expected).abs() <= tol,
                    "n {n}: (VᵀV)[{i},{j}] = {}",
                    vtv[i * n + j]
                );
            }
        }
        assert!(
            eigen.values.windows(2).all(|w| w[0] >= w[1]),
            "{:?}",
            eigen.values
        );
    }

    #[test]
    fn decomposes_random_symmetric_matrices() {
        for (seed, n) in [(1, 1), (2, 2), (3, 3), (4, 7), (5, 40), (6, 130)] {
            check_decomposition(&symmetric(seed, n), n, 1e-12);
        }
    }

    #[test]
    fn handles_repeated_zero_and_diagonal_spectra() {
        // The identity (all eigenvalues equal), a zero matrix, a diagonal one, and a rank-1
        // matrix (n − 1 zero eigenvalues).
        let n = 6;
        let identity: Vec<f64> = (0..n * n)
            .map(|k| f64::from(u8::from(k % (n + 1) == 0)))
            .collect();
        check_decomposition(&identity, n, 1e-14);
        check_decomposition(&vec![0.0; n * n], n, 1e-14);
        let diagonal: Vec<f64> = (0..n * n)
            .map(|k| {
                if k % (n + 1) == 0 {
                    (k / n) as f64 - 2.0
                } else {
                    0.0
                }
            })
            .collect();
        check_decomposition(&diagonal, n, 1e-14);
        assert_eq!(
            symmetric_eigen(&diagonal, n).values,
            [3.0, 2.0, 1.0, 0.0, -1.0, -2.0]
        );
        let u = random(9, n);
        let rank_one: Vec<f64> = (0..n * n).map(|k| u[k / n] * u[k % n]).collect();
        check_decomposition(&rank_one, n, 1e-13);
        let eigen = symmetric_eigen(&rank_one, n);
        let norm: f64 = u.iter().map(|x| x * x).sum();
        assert!((eigen.values[0] - norm).abs() < 1e-13);
        assert!(eigen.values[1..].iter().all(|l| l.abs() < 1e-13));
    }

    #[test]
    fn two_by_two_by_hand() {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2 with
        // the largest entry positive.
        let eigen = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let expected = [h, h, h, -h];
        assert!((eigen.values[0] - 3.0).abs() < 1e-15 && (eigen.values[1] - 1.0).abs() < 1e-15);
        for (v, e) in eigen.vectors.iter().zip(expected) {
            assert!((v - e).abs() < 1e-15, "{:?}", eigen.vectors);
        }
        // The inverse square root: V Λ^{-1/2} Vᵀ squared is the inverse.
        let root = eigen.apply(|l| 1.0 / l.sqrt());
        let inverse = matmul(&root, &root, 2, 2, 2);
        for (v, e) in inverse.iter().zip([2.0 / 3.0, -1.0 / 3.0, -1.0 / 3.0, 2.0 / 3.0]) {
            assert!((v - e).abs() < 1e-15);
        }
    }

    #[test]
    fn cross_covariance_matches_the_textbook_sum_and_ignores_threads() {
        // Over two blocks, with a mean far from zero (centring before the product matters).
        let (n, p, q) = (BLOCK_ROWS + 37, 3, 2);
        let x = Matrix::new(n, p, random(1, n * p).iter().map(|v| v + 100.0).collect()).unwrap();
        let y = Matrix::new(n, q, random(2, n * q)).unwrap();
        let got = cross_covariance(&x, &y);
        let expected: Vec<f64> = x
            .centred()
            .t_mul(&y.centred())
            .iter()
            .map(|v| v / (n as f64 - 1.0))
            .collect();
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-12, "{got:?} vs {expected:?}");
        }
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        assert_eq!(one_thread.install(|| cross_covariance(&x, &y)), got);
    }
}
