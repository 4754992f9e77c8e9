//! The autoencoder of one modality.

use super::{dense, squash, Autoencoder, LayerCode};
use crate::validate::{check_positive, validate_inputs};

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "UnimodalAutoencoder";

/// Configuration of a [`UnimodalAutoencoder`].
#[derive(Config, Debug)]
pub struct UnimodalAutoencoderConfig {
    /// Input width `d`.
    pub d_input: usize,
    /// Hidden width `h`.
    #[config(default = 128)]
    pub hidden: usize,
    /// Code width `c`.
    #[config(default = 64)]
    pub code: usize,
}

/// `h = σ(x W₁ + b₁)`, `z = σ(h W₂ + b₂)` (the code), `h' = σ(z W₃ + b₃)`,
/// `x̂ = h' W₄ + b₄`.
///
/// Shapes: `x`, `x̂`: `[batch, d]`; `h`, `h'`: `[batch, h]`; `z`: `[batch, c]`; `W₁`: `[d, h]`,
/// `W₂`: `[h, c]`, `W₃`: `[c, h]`, `W₄`: `[h, d]`. Layers of [`encode_layers`](Autoencoder::encode_layers):
/// `hidden` (`h`), `code` (`z`).
#[derive(Module, Debug)]
pub struct UnimodalAutoencoder<B: Backend> {
    /// `W₁`, `W₂`.
    pub encoder: Vec<Linear<B>>,
    /// `W₃`, `W₄`.
    pub decoder: Vec<Linear<B>>,
    /// `d`.
    pub d_input: usize,
}

impl UnimodalAutoencoderConfig {
    /// Creates the autoencoder.
    ///
    /// # Errors
    /// A zero width.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<UnimodalAutoencoder<B>> {
        check_positive(LAYER, "d_input", self.d_input)?;
        let (d, h, c) = (self.d_input, self.hidden, self.code);
        Ok(UnimodalAutoencoder {
            encoder: vec![
                dense(LAYER, "hidden", d, h, device)?,
                dense(LAYER, "code", h, c, device)?,
            ],
            decoder: vec![
                dense(LAYER, "hidden", c, h, device)?,
                dense(LAYER, "d_input", h, d, device)?,
            ],
            d_input: d,
        })
    }
}

impl<B: Backend> Autoencoder<B> for UnimodalAutoencoder<B> {
    fn widths(&self) -> Vec<usize> {
        vec![self.d_input]
    }

    fn encode_layers(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Vec<LayerCode<B>>> {
        validate_inputs(LAYER, &[self.d_input], inputs)?;
        let hidden = squash(&self.encoder[0], inputs[0].clone());
        let code = squash(&self.encoder[1], hidden.clone());
        Ok(vec![
            LayerCode {
                name: "hidden",
                code: hidden,
            },
            LayerCode { name: "code", code },
        ])
    }

    fn reconstruct(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Vec<Tensor<B, 2>>> {
        let z = self.code(inputs)?;
        Ok(vec![self.decoder[1].forward(squash(&self.decoder[0], z))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// The formula in f64, from the layers' weights.
    fn explicit(model: &UnimodalAutoencoder<impl Backend>, x: &[f64]) -> Vec<f64> {
        let h = sigmoid_f64(apply_linear(&model.encoder[0], x));
        let z = sigmoid_f64(apply_linear(&model.encoder[1], &h));
        apply_linear(
            &model.decoder[1],
            &sigmoid_f64(apply_linear(&model.decoder[0], &z)),
        )
    }

    fn matches_formula<B: TestBackend>(device: &B::Device) {
        let model = randomize(
            UnimodalAutoencoderConfig::new(5)
                .with_hidden(4)
                .with_code(3)
                .init::<B>(device)
                .unwrap(),
            3,
        );
        let x = tensor::<B, 2>(8, [6, 5], device);
        let expected = explicit(&model, &to_f64(x.clone()));
        let layers = model.encode_layers(std::slice::from_ref(&x)).unwrap();
        assert_eq!(
            layers.iter().map(|l| (l.name, l.code.dims())).collect::<Vec<_>>(),
            [("hidden", [6, 4]), ("code", [6, 3])]
        );
        let out = model.reconstruct(&[x]).unwrap();
        assert_close("reconstruction", &to_f64(out[0].clone()), &expected, 1e-5);
    }
    for_each_backend!(reconstruction_matches_the_formula, matches_formula);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let model = randomize(
            UnimodalAutoencoderConfig::new(4)
                .with_hidden(3)
                .with_code(2)
                .init::<B>(device)
                .unwrap(),
            5,
        );
        run_case(&model, &[tensor::<B, 2>(9, [3, 4], device)], |m, x| {
            Ok(m.reconstruct(x)?.remove(0))
        })
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);

    #[test]
    fn rejects_bad_input_and_config() {
        let device = Default::default();
        let model = UnimodalAutoencoderConfig::new(4)
            .init::<Reference>(&device)
            .unwrap();
        let err = model.reconstruct(&[Tensor::zeros([2, 5], &device)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "UnimodalAutoencoder: modality 0 has shape [2, 5], expected [batch, 4] ([batch, d_0])"
        );
        let err = UnimodalAutoencoderConfig::new(4)
            .with_code(0)
            .init::<Reference>(&device)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "UnimodalAutoencoder config: code must be at least 1, got 0"
        );
    }
}
