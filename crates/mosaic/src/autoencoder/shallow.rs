//! The shallow bimodal autoencoder: one hidden layer on the concatenated modalities.

use super::{dense, squash, Autoencoder, LayerCode};
use crate::validate::{check_positive, validate_inputs};

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "ShallowBimodalAutoencoder";

/// Configuration of a [`ShallowBimodalAutoencoder`].
#[derive(Config, Debug)]
pub struct ShallowBimodalAutoencoderConfig {
    /// Audio width `d_a`.
    pub d_audio: usize,
    /// Video width `d_v`.
    pub d_video: usize,
    /// Width `s` of the shared layer.
    #[config(default = 64)]
    pub shared: usize,
}

/// `s = σ([a, v] W + b)`, `[â, v̂] = s R + r`: the lecture's counter-example to the deep
/// model. Its units see raw audio and raw video together, whose correlations are highly
/// non-linear, and tend to specialise in one modality (Ngiam et al. 2011, section 3.2).
///
/// Shapes: `a`, `â`: `[batch, d_a]`; `v`, `v̂`: `[batch, d_v]`; `s`: `[batch, s]`; `W`:
/// `[d_a + d_v, s]`; `R`: `[s, d_a + d_v]`. Layer of
/// [`encode_layers`](Autoencoder::encode_layers): `shared` (`s`).
#[derive(Module, Debug)]
pub struct ShallowBimodalAutoencoder<B: Backend> {
    /// `W`.
    pub encoder: Linear<B>,
    /// `R`.
    pub decoder: Linear<B>,
    /// `[d_a, d_v]`.
    pub widths: Vec<usize>,
}

impl ShallowBimodalAutoencoderConfig {
    /// Creates the autoencoder.
    ///
    /// # Errors
    /// A zero width.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<ShallowBimodalAutoencoder<B>> {
        check_positive(LAYER, "d_audio", self.d_audio)?;
        check_positive(LAYER, "d_video", self.d_video)?;
        let d = self.d_audio + self.d_video;
        Ok(ShallowBimodalAutoencoder {
            encoder: dense(LAYER, "shared", d, self.shared, device)?,
            decoder: dense(LAYER, "d_input", self.shared, d, device)?,
            widths: vec![self.d_audio, self.d_video],
        })
    }
}

impl<B: Backend> Autoencoder<B> for ShallowBimodalAutoencoder<B> {
    fn widths(&self) -> Vec<usize> {
        self.widths.clone()
    }

    fn encode_layers(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Vec<LayerCode<B>>> {
        validate_inputs(LAYER, &self.widths, inputs)?;
        let shared = squash(&self.encoder, Tensor::cat(inputs.to_vec(), 1));
        Ok(vec![LayerCode {
            name: "shared",
            code: shared,
        }])
    }

    fn reconstruct(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Vec<Tensor<B, 2>>> {
        let both = self.decoder.forward(self.code(inputs)?);
        let d_audio = self.widths[0];
        Ok(vec![
            both.clone().narrow(1, 0, d_audio),
            both.narrow(1, d_audio, self.widths[1]),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    fn matches_formula<B: TestBackend>(device: &B::Device) {
        let model = randomize(
            ShallowBimodalAutoencoderConfig::new(3, 2)
                .with_shared(4)
                .init::<B>(device)
                .unwrap(),
            17,
        );
        let (a, v) = (
            tensor::<B, 2>(5, [2, 3], device),
            tensor::<B, 2>(6, [2, 2], device),
        );
        let (av, vv) = (to_f64(a.clone()), to_f64(v.clone()));
        let joined: Vec<f64> = (0..2)
            .flat_map(|i| av[i * 3..i * 3 + 3].iter().chain(&vv[i * 2..i * 2 + 2]).copied())
            .collect();
        let both = apply_linear(
            &model.decoder,
            &sigmoid_f64(apply_linear(&model.encoder, &joined)),
        );
        let out = model.reconstruct(&[a, v]).unwrap();
        let audio: Vec<f64> = (0..2).flat_map(|i| both[i * 5..i * 5 + 3].to_vec()).collect();
        let video: Vec<f64> = (0..2).flat_map(|i| both[i * 5 + 3..i * 5 + 5].to_vec()).collect();
        assert_close("audio", &to_f64(out[0].clone()), &audio, 1e-5);
        assert_close("video", &to_f64(out[1].clone()), &video, 1e-5);
    }
    for_each_backend!(reconstruction_matches_the_formula, matches_formula);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let model = randomize(
            ShallowBimodalAutoencoderConfig::new(3, 2)
                .with_shared(2)
                .init::<B>(device)
                .unwrap(),
            19,
        );
        let inputs = [
            tensor::<B, 2>(7, [3, 3], device),
            tensor::<B, 2>(8, [3, 2], device),
        ];
        run_case(&model, &inputs, |m, x| Ok(Tensor::cat(m.reconstruct(x)?, 1)))
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);
}
