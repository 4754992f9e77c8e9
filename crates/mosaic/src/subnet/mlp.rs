//! The MLP sub-network for audio and visual feature vectors.

use crate::validate::{check_dropout, check_input, check_parameter_size, check_positive, Dim};
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "MlpSubnet";

/// Configuration of an [`MlpSubnet`].
#[derive(Config, Debug)]
pub struct MlpSubnetConfig {
    /// Input feature width `d_in`.
    pub d_input: usize,
    /// Hidden (and output) width `h`.
    pub d_hidden: usize,
    /// Dropout probability after the batch norm (active only when training).
    #[config(default = 0.0)]
    pub dropout: f64,
}

/// The TFN/LMF reference `SubNet`:
/// `y = relu(L_3(relu(L_2(relu(L_1(dropout(batchnorm(x))))))))`.
///
/// Batch norm uses batch statistics when autodiff is enabled (training) and running
/// statistics otherwise, as PyTorch's `train()` / `eval()` modes do.
///
/// Shapes: `x`: `[batch, d_in]`; `L_1`: `[d_in, h]`; `L_2`, `L_3`: `[h, h]`; output `[batch, h]`.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct MlpSubnet<B: Backend> {
    /// Batch normalisation of the input features.
    pub norm: BatchNorm<B>,
    /// Dropout after the normalisation.
    pub dropout: Dropout,
    /// `L_1`, `L_2`, `L_3`.
    pub linears: Vec<Linear<B>>,
    /// ReLU.
    pub activation: Relu,
    /// `d_in`.
    pub d_input: usize,
}

impl MlpSubnetConfig {
    /// Creates the sub-network.
    ///
    /// # Errors
    /// A zero width, or a dropout outside [0, 1).
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<MlpSubnet<B>> {
        check_positive(LAYER, "d_input", self.d_input)?;
        check_positive(LAYER, "d_hidden", self.d_hidden)?;
        check_dropout(LAYER, self.dropout)?;
        let (d, h) = (self.d_input, self.d_hidden);
        check_parameter_size(LAYER, "linears.0.weight", &[d, h])?;
        check_parameter_size(LAYER, "linears.1.weight", &[h, h])?;
        Ok(MlpSubnet {
            norm: BatchNormConfig::new(d).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            linears: [(d, h), (h, h), (h, h)]
                .into_iter()
                .map(|(i, o)| LinearConfig::new(i, o).init(device))
                .collect(),
            activation: Relu::new(),
            d_input: d,
        })
    }
}

impl<B: Backend> MlpSubnet<B> {
    /// Encodes `x` into a vector of width `h`.
    ///
    /// # Shapes
    /// - `x`: `[batch, d_in]`
    /// - output: `[batch, h]`
    ///
    /// # Errors
    /// A width other than `d_in` ([`MosaicError::Shape`](crate::MosaicError::Shape)), or an empty batch.
    pub fn forward(&self, x: Tensor<B, 2>) -> crate::Result<Tensor<B, 2>> {
        check_input(
            LAYER,
            None,
            &x.dims(),
            &[Dim::NonEmpty("batch", "the batch"), Dim::Is(self.d_input)],
            "",
        )?;
        let x = self.dropout.forward(self.norm.forward(x));
        Ok(self
            .linears
            .iter()
            .fold(x, |h, linear| self.activation.forward(linear.forward(h))))
    }
}

impl<B: Backend> ModuleDisplay for MlpSubnet<B> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        crate::fusion::one_line()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        let [_, d_hidden] = self.linears[0].weight.lazy_shape().dims();
        content
            .add("d_input", &self.d_input)
            .add("d_hidden", &d_hidden)
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use burn::module::AutodiffModule;

    const EPSILON: f64 = 1e-5;

    /// `(x − mean) / √(var + ε) · γ + β` per column, then the three ReLU layers.
    fn explicit(layer: &MlpSubnet<impl Backend>, x: &[f64], mean: &[f64], var: &[f64]) -> Vec<f64> {
        let (gamma, beta) = (to_f64(layer.norm.gamma.val()), to_f64(layer.norm.beta.val()));
        let d = mean.len();
        let normalised: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let j = k % d;
                (v - mean[j]) / (var[j] + EPSILON).sqrt() * gamma[j] + beta[j]
            })
            .collect();
        layer
            .linears
            .iter()
            .fold(normalised, |h, linear| relu_f64(apply_linear(linear, &h)))
    }

    fn column_stats(x: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
        let n = (x.len() / d) as f64;
        let mean: Vec<f64> = (0..d)
            .map(|j| x.iter().skip(j).step_by(d).sum::<f64>() / n)
            .collect();
        let var = (0..d)
            .map(|j| {
                x.iter()
                    .skip(j)
                    .step_by(d)
                    .map(|v| (v - mean[j]).powi(2))
                    .sum::<f64>()
                    / n
            })
            .collect();
        (mean, var)
    }

    fn both_modes<B: TestBackend>(device: &B::Device) {
        let layer = randomize(MlpSubnetConfig::new(4, 6).init::<B>(device).unwrap(), 47);
        let x = tensor::<B, 2>(70, [5, 4], device);
        let values = to_f64(x.clone());
        // Inference (no autodiff): running statistics.
        let (mean, var) = (
            to_f64(layer.norm.running_mean.value()),
            to_f64(layer.norm.running_var.value()),
        );
        let valid = layer.clone().valid();
        let expected = explicit(&valid, &values, &mean, &var);
        assert_close(
            "eval mode",
            &to_f64(valid.forward(x.clone().inner()).unwrap()),
            &expected,
            1e-4,
        );
        // Training (autodiff): batch statistics, biased variance.
        let (mean, var) = column_stats(&values, 4);
        let expected = explicit(&layer, &values, &mean, &var);
        assert_close("train mode", &to_f64(layer.forward(x).unwrap()), &expected, 1e-4);
    }

    for_each_backend!(matches_explicit_formula, both_modes);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let layer = randomize(MlpSubnetConfig::new(3, 4).init::<B>(device).unwrap(), 53);
        run_case(&layer, &[tensor::<B, 2>(71, [4, 3], device)], |l, x| {
            l.forward(x[0].clone())
        })
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-3);

    #[test]
    fn rejects_bad_input_and_config() {
        let device = Default::default();
        let layer = MlpSubnetConfig::new(3, 4).init::<Reference>(&device).unwrap();
        assert_eq!(
            layer
                .forward(Tensor::zeros([2, 5], &device))
                .unwrap_err()
                .to_string(),
            "MlpSubnet: input has shape [2, 5], expected [batch, 3]"
        );
        assert_eq!(
            layer
                .forward(Tensor::zeros([0, 3], &device))
                .unwrap_err()
                .to_string(),
            "MlpSubnet: input has shape [0, 3]: the batch must not be empty"
        );
        assert_eq!(
            MlpSubnetConfig::new(0, 4)
                .init::<Reference>(&device)
                .unwrap_err()
                .to_string(),
            "MlpSubnet config: d_input must be at least 1, got 0"
        );
    }
}
