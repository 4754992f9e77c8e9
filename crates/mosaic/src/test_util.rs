//! Test helpers: the backend matrix, deterministic data, and gradient checks against an f64
//! reference and against finite differences.
//!
//! Shared by the unit tests and the `finite_differences` test binary (through `#[path]`);
//! each uses part of it.
#![allow(dead_code, unused_macros, unused_imports)]

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Tensor};
use mosaic::interop::{NamedTensor, PytorchWeights, WeightStore};
use mosaic::Result;
pub use mosaic_kernels::testing::*;

/// The first `rows` rows of `entries`' matrix, as an adjacency `[rows, cols]` (a block of a
/// graph of `cols` nodes whose targets are its first `rows` nodes).
pub fn first_rows<B: mosaic_kernels::AggregationBackend>(
    entries: &mosaic_data::graph::Entries,
    rows: usize,
    cols: usize,
    device: &B::Device,
) -> mosaic_kernels::Adjacency<B> {
    let keep: Vec<usize> = (0..entries.targets.len())
        .filter(|&k| (entries.targets[k] as usize) < rows)
        .collect();
    let pick = |v: &[u32]| keep.iter().map(|&k| v[k]).collect::<Vec<_>>();
    let weights = entries
        .weights
        .as_ref()
        .map(|w| keep.iter().map(|&k| w[k]).collect::<Vec<_>>());
    let csr = mosaic_kernels::Csr::from_entries(
        rows,
        cols,
        &pick(&entries.targets),
        &pick(&entries.sources),
        weights.as_deref(),
    )
    .expect("the kept entries of a valid matrix");
    mosaic_kernels::Adjacency::new(csr, device)
}

/// The reference backend: ndarray in f64 where [`reference_device`] set the dtype policy.
pub type Reference = burn::backend::Autodiff<burn::backend::NdArray<f64>>;

/// The reference device, with burn's default-dtype policy for it set to f64.
///
/// burn 0.21 keeps one policy per device type, shared by `NdArray<f32>` and `NdArray<f64>`
/// and fixed by the first tensor created: call this before any ndarray tensor exists, in a
/// process that does not also test the f32 ndarray backend.
pub fn reference_device() -> burn::backend::ndarray::NdArrayDevice {
    static POLICY: std::sync::Once = std::sync::Once::new();
    let device = burn::backend::ndarray::NdArrayDevice::default();
    POLICY.call_once(|| {
        burn::tensor::set_default_dtypes::<Reference>(&device, DType::F64, DType::I64)
            .expect("no ndarray tensor exists before the f64 policy is set");
    });
    device
}

/// `for_each_backend!(name, case)`: `mosaic_kernels::backend_tests!`, a module `name` with
/// one test per compiled backend (`on_flex`, `on_ndarray`, `on_wgpu`, `on_cuda`), each
/// calling the generic function `case::<Autodiff<Backend>>(&device)`. `cargo test on_wgpu`
/// runs one backend's tests.
macro_rules! for_each_backend {
    ($name:ident, $case:ident) => {
        mosaic_kernels::backend_tests!($name, $case);
    };
    // `for_each_backend!(name, case, tolerance)`: the `Outcome` of the generic `case` on each
    // backend must match the one on the ndarray reference within `tolerance`.
    ($name:ident, $case:ident, $tolerance:expr) => {
        fn $name<B: $crate::test_util::TestBackend>(device: &B::Device) {
            let reference = $case::<$crate::test_util::Reference>(&Default::default());
            $case::<B>(device).assert_close(&reference, $tolerance);
        }
        for_each_backend!($name, $name);
    };
}
pub(crate) use for_each_backend;

/// Replaces every weight of `module` with deterministic values (the same on every backend),
/// through its PyTorch-layout export. Running variances are made positive.
pub fn randomize<M: PytorchWeights>(module: M, seed: u64) -> M {
    let mut tensors = Vec::new();
    module.export_weights("", &mut tensors);
    let tensors = tensors.into_iter().enumerate().map(|(i, t)| {
        let mut v = values(seed + 1000 * i as u64, t.values.len());
        if t.key.ends_with("running_var") {
            v.iter_mut().for_each(|x| *x = x.abs() + 0.5);
        }
        NamedTensor { values: v, ..t }
    });
    module
        .import_weights(&WeightStore::from_tensors(tensors), "")
        .expect("re-import of exported weights")
}

/// Outputs and gradients of `loss = Σ c ⊙ forward(module, inputs)` for fixed random `c`.
#[derive(Debug)]
pub struct Outcome {
    /// `forward(module, inputs)`, row-major.
    pub output: Vec<f64>,
    /// `∂loss/∂inputs[i]`.
    pub input_grads: Vec<Vec<f64>>,
    /// `∂loss/∂θ_k` for every float parameter, in visiting order.
    pub param_grads: Vec<Vec<f64>>,
}

impl Outcome {
    /// Asserts that two outcomes agree within `tol`.
    pub fn assert_close(&self, expected: &Outcome, tol: f64) {
        self.assert_close_in("", expected, tol);
    }

    /// [`Outcome::assert_close`], with `case` (e.g. the shapes) in every failure message.
    pub fn assert_close_in(&self, case: &str, expected: &Outcome, tol: f64) {
        assert_close(&format!("{case} output"), &self.output, &expected.output, tol);
        assert_eq!(self.input_grads.len(), expected.input_grads.len(), "{case}");
        for (i, (a, e)) in self.input_grads.iter().zip(&expected.input_grads).enumerate() {
            assert_close(&format!("{case} input {i} gradient"), a, e, tol);
        }
        assert_eq!(self.param_grads.len(), expected.param_grads.len(), "{case}");
        for (k, (a, e)) in self.param_grads.iter().zip(&expected.param_grads).enumerate() {
            assert_close(&format!("{case} parameter {k} gradient"), a, e, tol);
        }
    }
}

fn loss<B: Backend>(output: Tensor<B, 2>) -> Tensor<B, 1> {
    let weights = loss_weights(output.dims(), &output.device());
    (output * weights).sum()
}

struct GradCollector<'a, B: AutodiffBackend> {
    grads: &'a B::Gradients,
    out: Vec<Vec<f64>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradCollector<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let grad = param.val().grad(self.grads);
        self.out.push(grad.map(to_f64).unwrap_or_default());
    }
}

/// Runs `forward` and backpropagates the fixed random loss.
pub fn run_case<B, M, const D: usize>(
    module: &M,
    inputs: &[Tensor<B, D>],
    forward: impl Fn(&M, &[Tensor<B, D>]) -> Result<Tensor<B, 2>>,
) -> Outcome
where
    B: AutodiffBackend,
    M: Module<B>,
{
    let inputs: Vec<_> = inputs.iter().map(|x| x.clone().require_grad()).collect();
    let output = forward(module, &inputs).expect("a valid test case");
    let grads = loss(output.clone()).backward();
    let mut collector = GradCollector::<B> {
        grads: &grads,
        out: Vec::new(),
    };
    module.visit(&mut collector);
    Outcome {
        output: to_f64(output),
        input_grads: inputs
            .iter()
            .map(|x| x.grad(&grads).map(to_f64).unwrap_or_default())
            .collect(),
        param_grads: collector.out,
    }
}

/// Adds `step · v_k` to the `target`-th float parameter, `v_k` = `tensor(direction_seed(k))`.
struct Perturb {
    target: usize,
    step: f64,
    seen: usize,
}

fn direction_seed(k: usize) -> u64 {
    0xD1E5 + 7919 * k as u64
}

impl<B: Backend> ModuleMapper<B> for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let k = self.seen;
        self.seen += 1;
        if k != self.target {
            return param;
        }
        let step = self.step;
        param.map(|t| {
            let direction = tensor(direction_seed(k), t.dims(), &t.device());
            t + direction * step
        })
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Step and tolerance of a finite-difference check.
#[derive(Debug, Clone, Copy)]
pub struct FiniteDifferences {
    /// `ε` in `(f(x + εv) − f(x − εv)) / 2ε`.
    pub step: f64,
    /// Allowed `|analytic − numeric| / (1 + |analytic|)`.
    pub tolerance: f64,
}

/// [`check_finite_differences_with`] at `ε = 1e-6`, tolerance `1e-6`.
pub fn check_finite_differences<M, const D: usize>(
    module: M,
    inputs: &[Tensor<Reference, D>],
    forward: impl Fn(&M, &[Tensor<Reference, D>]) -> Result<Tensor<Reference, 2>>,
) where
    M: Module<Reference>,
{
    let settings = FiniteDifferences {
        step: 1e-6,
        tolerance: 1e-6,
    };
    check_finite_differences_with(settings, module, inputs, forward);
}

/// Checks every input gradient and every parameter gradient of `forward` (on the f64
/// reference backend) against central finite differences along a random direction:
/// `⟨∇f, v⟩ ≈ (f(x + εv) − f(x − εv)) / 2ε`.
pub fn check_finite_differences_with<M, const D: usize>(
    settings: FiniteDifferences,
    module: M,
    inputs: &[Tensor<Reference, D>],
    forward: impl Fn(&M, &[Tensor<Reference, D>]) -> Result<Tensor<Reference, 2>>,
) where
    M: Module<Reference>,
{
    let FiniteDifferences { step: eps, tolerance } = settings;
    let output = forward(&module, inputs).expect("a valid test case");
    assert_eq!(
        output.dtype(),
        DType::F64,
        "finite differences need the f64 policy: use reference_device()"
    );
    let analytic = run_case(&module, inputs, &forward);
    let value = |m: &M, x: &[Tensor<Reference, D>]| -> f64 {
        to_f64(loss(forward(m, x).expect("a valid test case")))[0]
    };
    let check = |what: String, grad: &[f64], numeric: f64, direction: &[f64]| {
        let analytic = dot(grad, direction);
        assert!(
            (analytic - numeric).abs() <= tolerance * (1.0 + analytic.abs()),
            "{what}: analytic directional derivative {analytic}, finite difference {numeric}"
        );
    };
    for (i, grad) in analytic.input_grads.iter().enumerate() {
        let x = &inputs[i];
        let v: Tensor<Reference, D> = tensor(direction_seed(1000 + i), x.dims(), &x.device());
        let shifted = |sign: f64| {
            let mut moved = inputs.to_vec();
            moved[i] = x.clone() + v.clone() * (sign * eps);
            value(&module, &moved)
        };
        let numeric = (shifted(1.0) - shifted(-1.0)) / (2.0 * eps);
        check(format!("input {i}"), grad, numeric, &to_f64(v));
    }
    for (k, grad) in analytic.param_grads.iter().enumerate() {
        let shifted = |sign: f64| {
            let moved = module.clone().map(&mut Perturb {
                target: k,
                step: sign * eps,
                seen: 0,
            });
            value(&moved, inputs)
        };
        let numeric = (shifted(1.0) - shifted(-1.0)) / (2.0 * eps);
        let direction = values(direction_seed(k), grad.len())
            .into_iter()
            .map(f64::from)
            .collect::<Vec<_>>();
        check(format!("parameter {k}"), grad, numeric, &direction);
    }
}

/// `x W + b` in f64 for `x`: `[batch, d_in]`, `W`: `[d_in, d_out]` (burn's layout), `b`: `[d_out]`.
pub fn linear_f64(x: &[f64], weight: &[f64], bias: &[f64]) -> Vec<f64> {
    let d_out = bias.len();
    let d_in = weight.len() / d_out;
    x.chunks(d_in)
        .flat_map(|row| {
            (0..d_out).map(move |o| {
                bias[o]
                    + row
                        .iter()
                        .enumerate()
                        .map(|(i, v)| v * weight[i * d_out + o])
                        .sum::<f64>()
            })
        })
        .collect()
}

/// `linear_f64` with the weights of a burn `Linear`.
pub fn apply_linear<B: Backend>(linear: &burn::nn::Linear<B>, x: &[f64]) -> Vec<f64> {
    let bias = linear
        .bias
        .as_ref()
        .map(|b| to_f64(b.val()))
        .expect("linear with bias");
    linear_f64(x, &to_f64(linear.weight.val()), &bias)
}

/// `max(x, 0)` element-wise.
pub fn relu_f64(x: Vec<f64>) -> Vec<f64> {
    x.into_iter().map(|v| v.max(0.0)).collect()
}

/// The logistic sigmoid element-wise.
pub fn sigmoid_f64(x: Vec<f64>) -> Vec<f64> {
    x.into_iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect()
}

/// `f` run on a rayon pool of `threads` threads (for bit-identity checks across thread
/// counts).
pub fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}
