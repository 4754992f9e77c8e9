//! The LSTM sub-network for text (word-vector sequences).

use crate::validate::{check_dropout, check_input, check_parameter_size, check_positive, Dim};
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Module, ModuleDisplay};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Lstm, LstmConfig};
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "LstmSubnet";

/// Configuration of an [`LstmSubnet`].
#[derive(Config, Debug)]
pub struct LstmSubnetConfig {
    /// Width of each sequence element (e.g. 300 for GloVe vectors).
    pub d_input: usize,
    /// LSTM hidden width.
    pub d_hidden: usize,
    /// Output width.
    pub d_output: usize,
    /// Dropout probability on the final hidden state (active only when training).
    #[config(default = 0.0)]
    pub dropout: f64,
}

/// The TFN/LMF reference `TextSubNet`: a one-layer LSTM over the sequence, then
/// `y = L(dropout(h_T))` on its final hidden state `h_T`.
///
/// The LSTM is PyTorch's: `i, f, o = σ(x W_i + h U_i + b_i)…`, `g = tanh(…)`,
/// `c_t = f c_{t-1} + i g`, `h_t = o tanh(c_t)`, zero initial state.
///
/// Shapes: `x`: `[batch, time, d_in]`; `L`: `[d_hidden, d_out]`; output `[batch, d_out]`.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct LstmSubnet<B: Backend> {
    /// The recurrent layer (batch first).
    pub lstm: Lstm<B>,
    /// Dropout on the final hidden state.
    pub dropout: Dropout,
    /// The output projection `L`.
    pub linear: Linear<B>,
    /// `d_in`.
    pub d_input: usize,
}

impl LstmSubnetConfig {
    /// Creates the sub-network.
    ///
    /// # Errors
    /// A zero width, or a dropout outside [0, 1).
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<LstmSubnet<B>> {
        check_positive(LAYER, "d_input", self.d_input)?;
        check_positive(LAYER, "d_hidden", self.d_hidden)?;
        check_positive(LAYER, "d_output", self.d_output)?;
        check_dropout(LAYER, self.dropout)?;
        check_parameter_size(LAYER, "lstm input weight", &[self.d_input, self.d_hidden])?;
        check_parameter_size(LAYER, "lstm hidden weight", &[self.d_hidden, self.d_hidden])?;
        check_parameter_size(LAYER, "linear.weight", &[self.d_hidden, self.d_output])?;
        Ok(LstmSubnet {
            lstm: LstmConfig::new(self.d_input, self.d_hidden, true).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            linear: LinearConfig::new(self.d_hidden, self.d_output).init(device),
            d_input: self.d_input,
        })
    }
}

impl<B: Backend> LstmSubnet<B> {
    /// Encodes the sequence `x` into a vector of width `d_out` (from the last hidden state).
    ///
    /// # Shapes
    /// - `x`: `[batch, time, d_in]`
    /// - output: `[batch, d_out]`
    ///
    /// # Errors
    /// A width other than `d_in`, an empty batch or an empty sequence.
    pub fn forward(&self, x: Tensor<B, 3>) -> crate::Result<Tensor<B, 2>> {
        let expected = [
            Dim::NonEmpty("batch", "the batch"),
            Dim::NonEmpty("time", "the sequence"),
            Dim::Is(self.d_input),
        ];
        check_input(LAYER, None, &x.dims(), &expected, "")?;
        let (_, state) = self.lstm.forward(x, None);
        Ok(self.linear.forward(self.dropout.forward(state.hidden)))
    }
}

impl<B: Backend> ModuleDisplay for LstmSubnet<B> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        crate::fusion::one_line()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        let [d_hidden, d_output] = self.linear.weight.lazy_shape().dims();
        content
            .add("d_input", &self.d_input)
            .add("d_hidden", &d_hidden)
            .add("d_output", &d_output)
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::PytorchWeights;
    use crate::test_util::*;

    fn sigmoid(v: f64) -> f64 {
        1.0 / (1.0 + (-v).exp())
    }

    /// PyTorch's LSTM equations on its own weight layout (gate blocks i, f, g, o), then the
    /// output layer on the final hidden state.
    fn explicit(layer: &LstmSubnet<impl Backend>, x: &[f64], batch: usize, time: usize) -> Vec<f64> {
        let mut tensors = Vec::new();
        layer.export_weights("", &mut tensors);
        let get = |key: &str| -> Vec<f64> {
            let t = tensors.iter().find(|t| t.key == key).unwrap();
            t.values.iter().map(|&v| f64::from(v)).collect()
        };
        let (w_ih, w_hh, b_ih, b_hh) = (
            get("rnn.weight_ih_l0"),
            get("rnn.weight_hh_l0"),
            get("rnn.bias_ih_l0"),
            get("rnn.bias_hh_l0"),
        );
        let h_dim = b_ih.len() / 4;
        let d_in = layer.d_input;
        let mut finals = Vec::new();
        for b in 0..batch {
            let (mut h, mut c) = (vec![0.0; h_dim], vec![0.0; h_dim]);
            for t in 0..time {
                let xt = &x[(b * time + t) * d_in..(b * time + t + 1) * d_in];
                let pre: Vec<f64> = (0..4 * h_dim)
                    .map(|r| {
                        b_ih[r]
                            + b_hh[r]
                            + (0..d_in).map(|k| w_ih[r * d_in + k] * xt[k]).sum::<f64>()
                            + (0..h_dim).map(|k| w_hh[r * h_dim + k] * h[k]).sum::<f64>()
                    })
                    .collect();
                for j in 0..h_dim {
                    let (i, f) = (sigmoid(pre[j]), sigmoid(pre[h_dim + j]));
                    let (g, o) = (pre[2 * h_dim + j].tanh(), sigmoid(pre[3 * h_dim + j]));
                    c[j] = f * c[j] + i * g;
                    h[j] = o * c[j].tanh();
                }
            }
            finals.extend(h);
        }
        linear_f64(
            &finals,
            &to_f64(layer.linear.weight.val()),
            &to_f64(layer.linear.bias.as_ref().unwrap().val()),
        )
    }

    fn pytorch_equations<B: TestBackend>(device: &B::Device) {
        let layer = randomize(LstmSubnetConfig::new(3, 4, 2).init::<B>(device).unwrap(), 61);
        let x = tensor::<B, 3>(80, [2, 5, 3], device);
        let expected = explicit(&layer, &to_f64(x.clone()), 2, 5);
        assert_close("lstm subnet", &to_f64(layer.forward(x).unwrap()), &expected, 1e-4);
    }
    for_each_backend!(matches_pytorch_equations, pytorch_equations);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let layer = randomize(LstmSubnetConfig::new(3, 4, 2).init::<B>(device).unwrap(), 67);
        run_case(&layer, &[tensor::<B, 3>(81, [2, 4, 3], device)], |l, x| {
            l.forward(x[0].clone())
        })
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);

    #[test]
    fn rejects_bad_input_and_config() {
        let device = Default::default();
        let layer = LstmSubnetConfig::new(3, 4, 2).init::<Reference>(&device).unwrap();
        let message = |shape: [usize; 3]| {
            layer
                .forward(Tensor::zeros(shape, &device))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message([2, 5, 4]),
            "LstmSubnet: input has shape [2, 5, 4], expected [batch, time, 3]"
        );
        assert_eq!(
            message([2, 0, 3]),
            "LstmSubnet: input has shape [2, 0, 3]: the sequence must not be empty"
        );
        assert_eq!(
            message([0, 5, 3]),
            "LstmSubnet: input has shape [0, 5, 3]: the batch must not be empty"
        );
        assert_eq!(
            LstmSubnetConfig::new(3, 4, 2)
                .with_dropout(-0.1)
                .init::<Reference>(&device)
                .unwrap_err()
                .to_string(),
            "LstmSubnet config: dropout must be in [0, 1), got -0.1"
        );
    }
}
