//! Early fusion by concatenation.

use super::Fusion;
use crate::validate::{check_modality_dims, validate_inputs};
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay};
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "Concat";

/// Configuration of a [`Concat`] layer.
#[derive(Config, Debug)]
pub struct ConcatConfig {
    /// Widths `d_m` of the modalities (at least 1).
    pub modality_dims: Vec<usize>,
}

/// Early fusion: `h = [z_1; z_2; …; z_M]`. No parameters.
///
/// Shapes: `inputs[m]`: `[batch, d_m]`; output `[batch, Σ_m d_m]`.
#[derive(Module, Debug, Clone)]
#[module(custom_display)]
pub struct Concat {
    /// Widths `d_m`.
    pub modality_dims: Vec<usize>,
}

impl ConcatConfig {
    /// Creates the layer.
    ///
    /// # Errors
    /// No modalities, or a zero width.
    pub fn init(&self) -> crate::Result<Concat> {
        check_modality_dims(LAYER, &self.modality_dims, 1)?;
        Ok(Concat {
            modality_dims: self.modality_dims.clone(),
        })
    }
}

impl<B: Backend> Fusion<B> for Concat {
    fn modality_dims(&self) -> &[usize] {
        &self.modality_dims
    }

    fn output_dim(&self) -> usize {
        self.modality_dims.iter().sum()
    }

    /// `h = [z_1; …; z_M]`.
    ///
    /// # Shapes
    /// - `inputs[m]`: `[batch, d_m]`
    /// - output: `[batch, Σ_m d_m]`
    ///
    /// # Errors
    /// As [`Fusion::forward`].
    fn forward(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Tensor<B, 2>> {
        validate_inputs(LAYER, &self.modality_dims, inputs)?;
        Ok(Tensor::cat(inputs.to_vec(), 1))
    }
}

impl ModuleDisplay for Concat {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        super::one_line()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        super::widths(content, &self.modality_dims, self.modality_dims.iter().sum()).optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    fn hand_computed<B: TestBackend>(device: &B::Device) {
        let layer = ConcatConfig::new(vec![2, 1, 3]).init().unwrap();
        let h = Fusion::<B>::forward(
            &layer,
            &[
                tensor_of(&[1., 2., 3., 4.], [2, 2], device),
                tensor_of(&[5., 6.], [2, 1], device),
                tensor_of(&[7., 8., 9., 10., 11., 12.], [2, 3], device),
            ],
        )
        .unwrap();
        assert_eq!(to_f64(h), vec![1., 2., 5., 7., 8., 9., 3., 4., 6., 10., 11., 12.]);
        assert_eq!(Fusion::<B>::output_dim(&layer), 6);
    }
    for_each_backend!(hand_computed_concatenation, hand_computed);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let layer = ConcatConfig::new(vec![2, 3]).init().unwrap();
        let inputs = modality_inputs::<B>(40, &[2, 3], 2, device);
        // Concat has no parameters; wrap the inputs' use so the module type is a burn Module.
        run_case(&layer, &inputs, |l, x| Fusion::<B>::forward(l, x))
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-5);

    #[test]
    fn rejects_bad_input_and_config() {
        let device = Default::default();
        let layer = ConcatConfig::new(vec![2, 3]).init().unwrap();
        let err = Fusion::<Reference>::forward(
            &layer,
            &[Tensor::zeros([2, 2], &device), Tensor::zeros([3, 3], &device)],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Concat: modality 1 has shape [3, 3], expected [2, 3] ([batch, d_1], batch from modality 0)"
        );
        assert_eq!(
            ConcatConfig::new(vec![]).init().unwrap_err().to_string(),
            "Concat config: needs at least 1 modality, got 0 ([])"
        );
    }
}
