//! Element-wise sum and product fusion.

use super::Fusion;
use crate::validate::{check_modality_dims, check_parameter_size, check_positive, validate_inputs};
use crate::MosaicError;
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "Elementwise";

/// How [`Elementwise`] combines the modality vectors.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ElementwiseOp {
    /// `Σ_m z_m`.
    Sum,
    /// `Π_m z_m` (Hadamard product).
    Product,
}

/// Configuration of an [`Elementwise`] layer.
#[derive(Config, Debug)]
pub struct ElementwiseConfig {
    /// Widths `d_m` of the modalities (at least 2).
    pub modality_dims: Vec<usize>,
    /// Sum or product.
    pub op: ElementwiseOp,
    /// Common width `k` to project every modality to with its own `Linear(d_m, k)`.
    /// `None`: no projection, and all widths must already be equal.
    #[config(default = "None")]
    pub projection_dim: Option<usize>,
}

/// Element-wise fusion: `h = Σ_m P_m(z_m)` or `h = Π_m P_m(z_m)` (element-wise), where
/// `P_m(z) = z A_m + c_m` is an optional per-modality projection to a common width `k`
/// (identity when no projection is configured).
///
/// Shapes: `inputs[m]`: `[batch, d_m]`; `A_m`: `[d_m, k]`; output `[batch, k]`.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct Elementwise<B: Backend> {
    /// `P_m`, one per modality, when configured.
    pub projections: Option<Vec<Linear<B>>>,
    /// Sum or product.
    #[module(skip)]
    pub op: ElementwiseOp,
    /// Widths `d_m`.
    pub modality_dims: Vec<usize>,
    /// Output width `k`.
    pub d_output: usize,
}

impl ElementwiseConfig {
    /// Element-wise sum of modalities of the given widths.
    pub fn sum(modality_dims: Vec<usize>) -> Self {
        Self::new(modality_dims, ElementwiseOp::Sum)
    }

    /// Element-wise product of modalities of the given widths.
    pub fn product(modality_dims: Vec<usize>) -> Self {
        Self::new(modality_dims, ElementwiseOp::Product)
    }

    /// Creates the layer (projections initialised like PyTorch's `nn.Linear`).
    ///
    /// # Errors
    /// Fewer than 2 modalities, a zero width, a zero projection width, or unequal widths
    /// without a projection.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<Elementwise<B>> {
        check_modality_dims(LAYER, &self.modality_dims, 2)?;
        let d_output = match self.projection_dim {
            Some(k) => {
                check_positive(LAYER, "projection_dim", k)?;
                for (m, &d) in self.modality_dims.iter().enumerate() {
                    check_parameter_size(LAYER, &format!("projections.{m}.weight"), &[d, k])?;
                }
                k
            }
            None => {
                let first = self.modality_dims[0];
                if let Some(m) = self.modality_dims.iter().position(|&d| d != first) {
                    return Err(MosaicError::config(
                        LAYER,
                        format!(
                            "modality {m} has width {} but modality 0 has width {first}; without \
                             projection_dim all widths must be equal",
                            self.modality_dims[m]
                        ),
                    ));
                }
                first
            }
        };
        let projections = self.projection_dim.map(|k| {
            self.modality_dims
                .iter()
                .map(|&d| LinearConfig::new(d, k).init(device))
                .collect()
        });
        Ok(Elementwise {
            projections,
            op: self.op,
            modality_dims: self.modality_dims.clone(),
            d_output,
        })
    }
}

impl<B: Backend> Fusion<B> for Elementwise<B> {
    fn modality_dims(&self) -> &[usize] {
        &self.modality_dims
    }

    fn output_dim(&self) -> usize {
        self.d_output
    }

    /// `h = Σ_m P_m(z_m)` or `Π_m P_m(z_m)`, element-wise.
    ///
    /// # Shapes
    /// - `inputs[m]`: `[batch, d_m]` (all `d_m` equal without a projection)
    /// - output: `[batch, k]`
    ///
    /// # Errors
    /// As [`Fusion::forward`].
    fn forward(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Tensor<B, 2>> {
        validate_inputs(LAYER, &self.modality_dims, inputs)?;
        let projected = inputs.iter().enumerate().map(|(m, z)| match &self.projections {
            Some(projections) => projections[m].forward(z.clone()),
            None => z.clone(),
        });
        let fused = match self.op {
            ElementwiseOp::Sum => projected.reduce(|a, b| a + b),
            ElementwiseOp::Product => projected.reduce(|a, b| a * b),
        };
        Ok(fused.expect("validated: at least two modalities"))
    }
}

impl<B: Backend> ModuleDisplay for Elementwise<B> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        super::one_line()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        super::widths(content, &self.modality_dims, self.d_output)
            .add_debug_attribute("op", &self.op)
            .add("projected", &self.projections.is_some())
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    fn hand_computed<B: TestBackend>(device: &B::Device) {
        let x = || {
            [
                tensor_of::<B, 2>(&[1., 2.], [1, 2], device),
                tensor_of(&[3., 4.], [1, 2], device),
                tensor_of(&[-1., 0.5], [1, 2], device),
            ]
        };
        let sum = ElementwiseConfig::sum(vec![2, 2, 2]).init::<B>(device).unwrap();
        let product = ElementwiseConfig::product(vec![2, 2, 2])
            .init::<B>(device)
            .unwrap();
        assert_eq!(to_f64(sum.forward(&x()).unwrap()), vec![3., 6.5]);
        assert_eq!(to_f64(product.forward(&x()).unwrap()), vec![-3., 4.]);
    }
    for_each_backend!(hand_computed_without_projection, hand_computed);

    fn projected<B: TestBackend>(device: &B::Device) {
        let dims = [3, 2, 4];
        for op in [ElementwiseOp::Sum, ElementwiseOp::Product] {
            let config = ElementwiseConfig::new(dims.to_vec(), op).with_projection_dim(Some(5));
            let layer = randomize(config.init::<B>(device).unwrap(), 23);
            let x = modality_inputs::<B>(50, &dims, 2, device);
            let projections = layer.projections.as_ref().unwrap();
            let expected = x
                .iter()
                .zip(projections)
                .map(|(z, p)| apply_linear(p, &to_f64(z.clone())))
                .reduce(|a, b| match op {
                    ElementwiseOp::Sum => a.iter().zip(&b).map(|(u, v)| u + v).collect(),
                    ElementwiseOp::Product => a.iter().zip(&b).map(|(u, v)| u * v).collect(),
                })
                .unwrap();
            assert_close(
                &format!("{op:?}"),
                &to_f64(layer.forward(&x).unwrap()),
                &expected,
                1e-5,
            );
        }
    }
    for_each_backend!(matches_projected_formula, projected);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let config = ElementwiseConfig::product(vec![3, 2]).with_projection_dim(Some(4));
        let layer = randomize(config.init::<B>(device).unwrap(), 29);
        run_case(&layer, &modality_inputs::<B>(51, &[3, 2], 2, device), |l, x| {
            l.forward(x)
        })
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);

    #[test]
    fn rejects_bad_input_and_config() {
        let device = Default::default();
        let message = |c: ElementwiseConfig| c.init::<Reference>(&device).unwrap_err().to_string();
        assert_eq!(
            message(ElementwiseConfig::sum(vec![3, 2])),
            "Elementwise config: modality 1 has width 2 but modality 0 has width 3; without projection_dim all widths must be equal"
        );
        assert_eq!(
            message(ElementwiseConfig::sum(vec![3, 2]).with_projection_dim(Some(0))),
            "Elementwise config: projection_dim must be at least 1, got 0"
        );
        let layer = ElementwiseConfig::sum(vec![3, 3])
            .init::<Reference>(&device)
            .unwrap();
        let err = layer
            .forward(&[Tensor::zeros([1, 3], &device), Tensor::zeros([1, 4], &device)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Elementwise: modality 1 has shape [1, 4], expected [1, 3] ([batch, d_1], batch from modality 0)"
        );
    }
}
