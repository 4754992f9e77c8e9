//! Tensor fusion of a shape whose outer product alone would take 4 GiB runs, forward and
//! backward, in a few hundred MiB: the fused op never builds `[B, P]`.
//!
//! Its own test binary (process), so that the process's peak resident memory (`VmHWM`) is
//! this test's. Linux only: it reads `/proc/self/status`.
#![cfg(all(target_os = "linux", feature = "flex"))]

use burn::backend::Autodiff;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use mosaic_kernels::backends::Flex;
use mosaic_kernels::composite::flat_outer_product;
use mosaic_kernels::FusionBackend;

/// Four modalities of width 63: `P = 64⁴ = 16,777,216`; at batch 64 the outer product is
/// `64 · P · 4 B = 4 GiB`.
const WIDTH: usize = 63;
const MODALITIES: usize = 4;
const BATCH: usize = 64;
/// What the op may add to the resident memory, forward and backward (the weight and its
/// gradient are 64 MiB each).
const BUDGET_MIB: f64 = 768.0;

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .expect("field in /proc/self/status");
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a kB value");
    kib / 1024.0
}

/// Deterministic values in [-1, 1).
fn values(seed: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0) - 1.0)
        .collect()
}

fn tensor<B: Backend>(seed: usize, shape: [usize; 2], device: &B::Device) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(values(seed, shape[0] * shape[1]), shape), device)
}

fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec().expect("f32 data")
}

fn assert_rel(label: &str, actual: f32, expected: f32) {
    assert!(
        (actual - expected).abs() <= 2e-3 * (1.0 + expected.abs()),
        "{label}: got {actual}, expected {expected}"
    );
}

#[test]
fn tensor_fusion_runs_in_bounded_memory() {
    type B = Autodiff<Flex>;
    let device = Default::default();
    // A rank-one weight W = w_1 ⊗ … ⊗ w_4 with one output, so that
    // h_b = Π_m s_m[b] with s_m = ẑ_m · w_m: an exact reference that needs no outer product.
    let factors: Vec<Tensor<Flex, 2>> = (0..MODALITIES)
        .map(|m| tensor::<Flex>(10 + m, [1, WIDTH + 1], &device).mul_scalar(0.5))
        .collect();
    let p = (WIDTH + 1).pow(MODALITIES as u32);
    let weight: Tensor<B, 2> =
        Tensor::from_inner(flat_outer_product(&factors).reshape([p, 1])).require_grad();
    let inputs: Vec<Tensor<B, 2>> = (0..MODALITIES)
        .map(|m| tensor::<B>(m, [BATCH, WIDTH], &device).require_grad())
        .collect();
    let hats: Vec<Vec<f32>> = inputs
        .iter()
        .map(|z| to_vec(mosaic_kernels::composite::prepend_one(z.clone().inner())))
        .collect();
    let w: Vec<Vec<f32>> = factors.iter().map(|f| to_vec(f.clone())).collect();
    // s[m][b] = ẑ_m[b] · w_m
    let s: Vec<Vec<f32>> = (0..MODALITIES)
        .map(|m| {
            (0..BATCH)
                .map(|b| (0..=WIDTH).map(|i| hats[m][b * (WIDTH + 1) + i] * w[m][i]).sum())
                .collect()
        })
        .collect();

    // Resets the peak to the current resident size (Linux ≥ 4.0); where that is refused,
    // the peak since the process started is still an upper bound of the op's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_mib("VmRSS:");
    let output = B::tensor_fusion(&inputs, weight.clone(), None);
    let grads = output.clone().sum().backward();
    let peak = status_mib("VmHWM:");

    let output = to_vec(output);
    for b in 0..BATCH {
        assert_rel(
            &format!("h[{b}]"),
            output[b],
            (0..MODALITIES).map(|m| s[m][b]).product(),
        );
    }
    // ∂Σh/∂z_0[b, i] = w_0[i + 1] · Π_{m≠0} s_m[b]
    let input_grad = to_vec(inputs[0].grad(&grads).expect("input 0 is tracked"));
    for b in [0, BATCH - 1] {
        let others: f32 = (1..MODALITIES).map(|m| s[m][b]).product();
        for i in [0, WIDTH / 2, WIDTH - 1] {
            assert_rel(
                &format!("∂z_0[{b}, {i}]"),
                input_grad[b * WIDTH + i],
                w[0][i + 1] * others,
            );
        }
    }
    // ∂Σh/∂W[p] = Σ_b Π_m ẑ_m[b, i_m(p)]; p = 0 is the all-ones entry (= batch).
    let weight_grad = to_vec(weight.grad(&grads).expect("the weight is tracked"));
    for p_index in [0, 1, p / 3, p - 1] {
        let mut rest = p_index;
        let mut index = [0; MODALITIES];
        for m in (0..MODALITIES).rev() {
            index[m] = rest % (WIDTH + 1);
            rest /= WIDTH + 1;
        }
        let expected: f32 = (0..BATCH)
            .map(|b| {
                (0..MODALITIES)
                    .map(|m| hats[m][b * (WIDTH + 1) + index[m]])
                    .product::<f32>()
            })
            .sum();
        assert_rel(&format!("∂W[{p_index}]"), weight_grad[p_index], expected);
    }

    let outer_product_mib = (BATCH * p * 4) as f64 / (1 << 20) as f64;
    println!(
        "resident before {before:.0} MiB, peak {peak:.0} MiB; the outer product alone would be {outer_product_mib:.0} MiB"
    );
    assert!(
        peak - before <= BUDGET_MIB,
        "forward + backward raised the peak resident memory by {:.0} MiB (budget {BUDGET_MIB} MiB, outer product {outer_product_mib:.0} MiB)",
        peak - before
    );
}
