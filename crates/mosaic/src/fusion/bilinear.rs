//! Bilinear pooling of two modalities.

use super::{Fusion, TensorFusion, TensorFusionConfig};
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay};
use burn::tensor::{backend::Backend, Tensor};
use mosaic_kernels::FusionBackend;

const LAYER: &str = "Bilinear";

/// Configuration of a [`Bilinear`] layer.
#[derive(Config, Debug)]
pub struct BilinearConfig {
    /// Width of the first modality `x`.
    pub d_x: usize,
    /// Width of the second modality `y`.
    pub d_y: usize,
    /// Output width `O`.
    pub d_output: usize,
    /// Whether to add a bias `b`.
    #[config(default = true)]
    pub bias: bool,
}

/// Bilinear pooling: `h = W vec([1; x] ⊗ [1; y]) + b`.
///
/// The outer product with a constant 1 appended to each side (prepended, index 0, as in
/// tensor fusion) holds the bias term, both unimodal vectors and every bimodal product.
/// This is [`TensorFusion`] with two modalities, which it runs.
///
/// Shapes: `x`: `[batch, d_x]`; `y`: `[batch, d_y]`; weight `[(d_x+1)(d_y+1), O]`;
/// output `[batch, O]`.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct Bilinear<B: Backend> {
    /// The two-modality tensor fusion that computes the layer.
    pub fusion: TensorFusion<B>,
}

impl BilinearConfig {
    /// Creates the layer (initialised like `nn.Linear((d_x+1)(d_y+1), O)`).
    ///
    /// # Errors
    /// A zero width or `d_output == 0`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<Bilinear<B>> {
        let fusion = TensorFusionConfig::new(vec![self.d_x, self.d_y], self.d_output)
            .with_bias(self.bias)
            .init(device)
            .map_err(|e| e.for_layer(LAYER))?;
        Ok(Bilinear { fusion })
    }
}

impl<B: FusionBackend> Bilinear<B> {
    /// `W vec([1; x] ⊗ [1; y]) + b`.
    ///
    /// # Shapes
    /// - `x`: `[batch, d_x]`, `y`: `[batch, d_y]`
    /// - output: `[batch, O]`
    ///
    /// # Errors
    /// Widths or batch sizes that do not match the configuration, or an empty batch.
    pub fn forward_pair(&self, x: Tensor<B, 2>, y: Tensor<B, 2>) -> crate::Result<Tensor<B, 2>> {
        Fusion::forward(self, &[x, y])
    }
}

impl<B: FusionBackend> Fusion<B> for Bilinear<B> {
    fn modality_dims(&self) -> &[usize] {
        self.fusion.modality_dims()
    }

    fn output_dim(&self) -> usize {
        self.fusion.output_dim()
    }

    /// [`Bilinear::forward_pair`] of the two inputs.
    ///
    /// # Shapes
    /// - `inputs[0]`: `[batch, d_x]`, `inputs[1]`: `[batch, d_y]`
    /// - output: `[batch, O]`
    ///
    /// # Errors
    /// As [`Fusion::forward`].
    fn forward(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Tensor<B, 2>> {
        self.fusion.forward(inputs).map_err(|e| e.for_layer(LAYER))
    }
}

impl<B: Backend> ModuleDisplay for Bilinear<B> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        super::one_line()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        super::widths(
            content,
            &self.fusion.modality_dims,
            self.fusion.weight.lazy_shape().dims::<2>()[1],
        )
        .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// `h[o] = b[o] + W[0,o] + Σ_j y_j W[j+1,o] + Σ_i x_i W[(i+1)(d_y+1),o]
    ///        + Σ_ij x_i y_j W[(i+1)(d_y+1)+j+1,o]`: the bias, both unimodal parts and the
    /// bimodal part written out separately.
    fn separated_terms(x: &[f64], y: &[f64], weight: &[f64], bias: &[f64]) -> Vec<f64> {
        let d_out = bias.len();
        let w = |row: usize, o: usize| weight[row * d_out + o];
        (0..d_out)
            .map(|o| {
                let unimodal_y: f64 = y.iter().enumerate().map(|(j, yj)| yj * w(j + 1, o)).sum();
                let unimodal_x: f64 = x
                    .iter()
                    .enumerate()
                    .map(|(i, xi)| xi * w((i + 1) * (y.len() + 1), o))
                    .sum();
                let bimodal: f64 = x
                    .iter()
                    .enumerate()
                    .flat_map(|(i, xi)| y.iter().enumerate().map(move |(j, yj)| (i, j, xi * yj)))
                    .map(|(i, j, xy)| xy * w((i + 1) * (y.len() + 1) + j + 1, o))
                    .sum();
                bias[o] + w(0, o) + unimodal_y + unimodal_x + bimodal
            })
            .collect()
    }

    fn separated<B: TestBackend>(device: &B::Device) {
        let layer = randomize(BilinearConfig::new(3, 4, 2).init::<B>(device).unwrap(), 13);
        let (x, y) = (
            tensor::<B, 2>(1, [1, 3], device),
            tensor::<B, 2>(2, [1, 4], device),
        );
        let expected = separated_terms(
            &to_f64(x.clone()),
            &to_f64(y.clone()),
            &to_f64(layer.fusion.weight.val()),
            &to_f64(layer.fusion.bias.as_ref().unwrap().val()),
        );
        assert_close(
            "bilinear",
            &to_f64(layer.forward_pair(x, y).unwrap()),
            &expected,
            1e-5,
        );
    }
    for_each_backend!(matches_separated_terms, separated);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let layer = randomize(BilinearConfig::new(3, 5, 4).init::<B>(device).unwrap(), 17);
        run_case(&layer, &modality_inputs::<B>(30, &[3, 5], 2, device), |l, x| {
            l.forward(x)
        })
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);

    #[test]
    fn rejects_bad_input_and_config() {
        let device = Default::default();
        let layer = BilinearConfig::new(2, 3, 4).init::<Reference>(&device).unwrap();
        let err = layer
            .forward_pair(Tensor::zeros([2, 2], &device), Tensor::zeros([2, 2], &device))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bilinear: modality 1 has shape [2, 2], expected [2, 3] ([batch, d_1], batch from modality 0)"
        );
        let err = BilinearConfig::new(0, 3, 4)
            .init::<Reference>(&device)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bilinear config: modality 0 has width 0 (modality widths [0, 3]); widths must be at least 1"
        );
    }
}
