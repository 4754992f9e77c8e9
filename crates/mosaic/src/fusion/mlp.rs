//! MLP fusion: concatenate, then a multilayer perceptron.

use super::Fusion;
use crate::validate::{
    check_dropout, check_modality_dims, check_parameter_size, check_positive, validate_inputs,
};
use crate::MosaicError;
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "MlpFusion";

/// Configuration of an [`MlpFusion`] layer.
#[derive(Config, Debug)]
pub struct MlpFusionConfig {
    /// Widths `d_m` of the modalities (at least 1).
    pub modality_dims: Vec<usize>,
    /// Widths of the hidden layers (may be empty: then the layer is one `Linear`).
    pub hidden_dims: Vec<usize>,
    /// Output width `O`.
    pub d_output: usize,
    /// Dropout probability after each hidden activation (active only when training).
    #[config(default = 0.0)]
    pub dropout: f64,
}

/// MLP fusion: `h_0 = [z_1; …; z_M]`, `h_{l+1} = dropout(relu(h_l A_l + c_l))` for each hidden
/// layer, output `h_L A_L + c_L` (no activation on the output).
///
/// Shapes: `inputs[m]`: `[batch, d_m]`; output `[batch, O]`.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct MlpFusion<B: Backend> {
    /// The hidden layers followed by the output layer.
    pub layers: Vec<Linear<B>>,
    /// Dropout after each hidden activation.
    pub dropout: Dropout,
    /// ReLU.
    pub activation: Relu,
    /// Widths `d_m`.
    pub modality_dims: Vec<usize>,
    /// Output width.
    pub d_output: usize,
}

impl MlpFusionConfig {
    /// Creates the layer (linear layers initialised like PyTorch's `nn.Linear`).
    ///
    /// # Errors
    /// No modalities, a zero width (modality, hidden or output), or a dropout outside [0, 1).
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<MlpFusion<B>> {
        check_modality_dims(LAYER, &self.modality_dims, 1)?;
        check_positive(LAYER, "d_output", self.d_output)?;
        if let Some(l) = self.hidden_dims.iter().position(|&h| h == 0) {
            return Err(MosaicError::config(
                LAYER,
                format!("hidden layer {l} has width 0"),
            ));
        }
        check_dropout(LAYER, self.dropout)?;
        let concatenated = self
            .modality_dims
            .iter()
            .try_fold(0usize, |sum, &d| sum.checked_add(d))
            .ok_or_else(|| {
                MosaicError::config(
                    LAYER,
                    format!("the concatenated width of {:?} overflows", self.modality_dims),
                )
            })?;
        let widths: Vec<usize> = std::iter::once(concatenated)
            .chain(self.hidden_dims.iter().copied())
            .chain(std::iter::once(self.d_output))
            .collect();
        for (l, w) in widths.windows(2).enumerate() {
            check_parameter_size(LAYER, &format!("layers.{l}.weight"), w)?;
        }
        Ok(MlpFusion {
            layers: widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: Relu::new(),
            modality_dims: self.modality_dims.clone(),
            d_output: self.d_output,
        })
    }
}

impl<B: Backend> Fusion<B> for MlpFusion<B> {
    fn modality_dims(&self) -> &[usize] {
        &self.modality_dims
    }

    fn output_dim(&self) -> usize {
        self.d_output
    }

    /// The MLP of `[z_1; …; z_M]`.
    ///
    /// # Shapes
    /// - `inputs[m]`: `[batch, d_m]`
    /// - output: `[batch, O]`
    ///
    /// # Errors
    /// As [`Fusion::forward`].
    fn forward(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Tensor<B, 2>> {
        validate_inputs(LAYER, &self.modality_dims, inputs)?;
        let (output, hidden) = self.layers.split_last().expect("at least the output layer");
        let h = hidden.iter().fold(Tensor::cat(inputs.to_vec(), 1), |h, layer| {
            self.dropout.forward(self.activation.forward(layer.forward(h)))
        });
        Ok(output.forward(h))
    }
}

impl<B: Backend> ModuleDisplay for MlpFusion<B> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        super::one_line()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        super::widths(content, &self.modality_dims, self.d_output)
            .add("layers", &self.layers.len())
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    fn explicit<B: TestBackend>(device: &B::Device) {
        let dims = [3, 2];
        let layer = randomize(
            MlpFusionConfig::new(dims.to_vec(), vec![5, 4], 2)
                .init::<B>(device)
                .unwrap(),
            37,
        );
        let x = modality_inputs::<B>(60, &dims, 3, device);
        let concatenated: Vec<f64> = (0..3)
            .flat_map(|b| {
                x.iter()
                    .zip(dims)
                    .flat_map(|(z, d)| to_f64(z.clone())[b * d..(b + 1) * d].to_vec())
                    .collect::<Vec<_>>()
            })
            .collect();
        let hidden = relu_f64(apply_linear(&layer.layers[0], &concatenated));
        let hidden = relu_f64(apply_linear(&layer.layers[1], &hidden));
        let expected = apply_linear(&layer.layers[2], &hidden);
        assert_close("mlp fusion", &to_f64(layer.forward(&x).unwrap()), &expected, 1e-5);
    }
    for_each_backend!(matches_explicit_layers, explicit);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let layer = randomize(
            MlpFusionConfig::new(vec![3, 2, 2], vec![6], 3)
                .init::<B>(device)
                .unwrap(),
            41,
        );
        run_case(
            &layer,
            &modality_inputs::<B>(61, &[3, 2, 2], 4, device),
            super::super::Fusion::forward,
        )
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);

    #[test]
    fn rejects_bad_config() {
        let device = Default::default();
        let message = |c: MlpFusionConfig| c.init::<Reference>(&device).unwrap_err().to_string();
        assert_eq!(
            message(MlpFusionConfig::new(vec![3, 2], vec![4, 0], 2)),
            "MlpFusion config: hidden layer 1 has width 0"
        );
        assert_eq!(
            message(MlpFusionConfig::new(vec![3, 2], vec![4], 2).with_dropout(1.5)),
            "MlpFusion config: dropout must be in [0, 1), got 1.5"
        );
        assert_eq!(
            message(MlpFusionConfig::new(vec![3, 2], vec![4], 0)),
            "MlpFusion config: d_output must be at least 1, got 0"
        );
    }
}
