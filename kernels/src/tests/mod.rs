//! The fused ops (what the `mosaic` layers run) against the composite reference (explicit
//! outer product, differentiated by burn): outputs and the gradients of every input and
//! parameter, one generated suite per compiled backend (`backend_tests!`), plus the flex
//! path's own partitions and its determinism.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use crate::testing::{assert_close, loss_weights, to_f64};

mod aggregate;
#[cfg(feature = "flex")]
mod flex;
mod low_rank;
mod tensor_fusion;

/// 2 to 5 modalities, widths 1 and widths that are no multiple of any tile size.
const DIMS: [&[usize]; 5] = [&[1, 1], &[3, 5], &[7, 1, 6], &[2, 3, 1, 4], &[1, 2, 2, 3, 2]];

/// [`DIMS`] with out 3, then a case that spans several of the GPU kernels' tiles along every
/// axis (batch 150 > 128 rows, out 70 > 32 vectors of 2, P = 6120 split along the grid), with
/// ragged edges; each with its batches.
fn shapes() -> impl Iterator<Item = (Vec<usize>, usize, &'static [usize])> {
    DIMS.iter()
        .map(|d| (d.to_vec(), 3, [1, 5, 37].as_slice()))
        .chain([(vec![17, 9, 33], 70, [1, 37, 150].as_slice())])
}

/// An op's output and the gradients of `loss = Σ c ⊙ output` (`c` = [`loss_weights`]), each
/// with its name.
struct Outcome(Vec<(String, Vec<f64>)>);

impl Outcome {
    /// Backpropagates the test loss from `output` and records it and the gradient of every
    /// named tensor.
    fn new<B: AutodiffBackend>(output: Tensor<B, 2>, tracked: Tracked<'_, B>) -> Self {
        let grads = (output.clone() * loss_weights::<B>(output.dims(), &output.device()))
            .sum()
            .backward();
        let mut values = vec![("output".to_string(), to_f64(output))];
        for (name, grad) in tracked.0 {
            let grad = grad(&grads).unwrap_or_else(|| panic!("{name} is tracked but has no gradient"));
            values.push((name, grad));
        }
        Outcome(values)
    }

    /// Asserts that every value matches `expected`'s within `tol`, naming `case` and the
    /// tensor on failure.
    fn assert_close(&self, case: &str, expected: &Outcome, tol: f64) {
        assert_eq!(self.0.len(), expected.0.len(), "{case}: number of tensors");
        for ((name, actual), (_, want)) in self.0.iter().zip(&expected.0) {
            assert_close(&format!("{case}: {name}"), actual, want, tol);
        }
    }
}

/// How to read the gradient of one tracked tensor.
type GradOf<'a, B> = Box<dyn Fn(&<B as AutodiffBackend>::Gradients) -> Option<Vec<f64>> + 'a>;

/// Named tensors whose gradients an [`Outcome`] records.
struct Tracked<'a, B: AutodiffBackend>(Vec<(String, GradOf<'a, B>)>);

impl<'a, B: AutodiffBackend> Tracked<'a, B> {
    fn new() -> Self {
        Tracked(Vec::new())
    }

    fn with<const D: usize>(mut self, name: impl Into<String>, tensor: &'a Tensor<B, D>) -> Self {
        self.0
            .push((name.into(), Box::new(move |grads| tensor.grad(grads).map(to_f64))));
        self
    }

    fn with_all<const D: usize>(self, name: &str, tensors: &'a [Tensor<B, D>]) -> Self {
        tensors
            .iter()
            .enumerate()
            .fold(self, |tracked, (m, t)| tracked.with(format!("{name} {m}"), t))
    }
}

/// `tensors`, each marked to require gradients.
fn track<B: AutodiffBackend, const D: usize>(tensors: &[Tensor<B, D>]) -> Vec<Tensor<B, D>> {
    tensors.iter().map(|t| t.clone().require_grad()).collect()
}
