//! Ngiam et al.'s bimodal deep autoencoder.

use super::{dense, squash, Autoencoder, LayerCode};
use crate::validate::{check_positive, validate_inputs};

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "BimodalAutoencoder";

/// Configuration of a [`BimodalAutoencoder`].
#[derive(Config, Debug)]
pub struct BimodalAutoencoderConfig {
    /// Audio width `d_a`.
    pub d_audio: usize,
    /// Video width `d_v`.
    pub d_video: usize,
    /// Width `h` of each modality's hidden layer.
    #[config(default = 128)]
    pub hidden: usize,
    /// Width `s` of the shared layer.
    #[config(default = 64)]
    pub shared: usize,
}

/// The bimodal deep autoencoder (Ngiam et al. 2011, figure 2d):
///
/// ```text
/// h_a = σ(a W_a + b_a)            h_v = σ(v W_v + b_v)            per-modality encoders
/// s   = σ([h_a, h_v] W_s + b_s)                                   the shared code
/// h'_a = σ(s D_a + c_a)           h'_v = σ(s D_v + c_v)           per-modality decoders
/// â   = h'_a R_a + r_a            v̂   = h'_v R_v + r_v
/// ```
///
/// Shapes: `a`, `â`: `[batch, d_a]`; `v`, `v̂`: `[batch, d_v]`; `h_a`, `h_v`, `h'_a`, `h'_v`:
/// `[batch, h]`; `s`: `[batch, s]`. A missing modality is passed as zeros. Layers of
/// [`encode_layers`](Autoencoder::encode_layers): `audio_hidden` (`h_a`), `video_hidden`
/// (`h_v`), `shared` (`s`).
#[derive(Module, Debug)]
pub struct BimodalAutoencoder<B: Backend> {
    /// `W_a`, `W_v`.
    pub encoders: Vec<Linear<B>>,
    /// `W_s`, on the concatenated hidden codes.
    pub shared: Linear<B>,
    /// `D_a`, `D_v`.
    pub decoders: Vec<Linear<B>>,
    /// `R_a`, `R_v`.
    pub outputs: Vec<Linear<B>>,
    /// `[d_a, d_v]`.
    pub widths: Vec<usize>,
}

impl BimodalAutoencoderConfig {
    /// Creates the autoencoder.
    ///
    /// # Errors
    /// A zero width.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<BimodalAutoencoder<B>> {
        check_positive(LAYER, "d_audio", self.d_audio)?;
        check_positive(LAYER, "d_video", self.d_video)?;
        let (h, s) = (self.hidden, self.shared);
        let widths = vec![self.d_audio, self.d_video];
        let per_modality = |f: &dyn Fn(usize) -> crate::Result<Linear<B>>| {
            widths.iter().map(|&d| f(d)).collect::<crate::Result<Vec<_>>>()
        };
        Ok(BimodalAutoencoder {
            encoders: per_modality(&|d| dense(LAYER, "hidden", d, h, device))?,
            shared: dense(LAYER, "shared", 2 * h, s, device)?,
            decoders: per_modality(&|_| dense(LAYER, "hidden", s, h, device))?,
            outputs: per_modality(&|d| dense(LAYER, "d_input", h, d, device))?,
            widths,
        })
    }
}

impl<B: Backend> Autoencoder<B> for BimodalAutoencoder<B> {
    fn widths(&self) -> Vec<usize> {
        self.widths.clone()
    }

    fn encode_layers(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Vec<LayerCode<B>>> {
        validate_inputs(LAYER, &self.widths, inputs)?;
        let audio = squash(&self.encoders[0], inputs[0].clone());
        let video = squash(&self.encoders[1], inputs[1].clone());
        let shared = squash(&self.shared, Tensor::cat(vec![audio.clone(), video.clone()], 1));
        Ok(vec![
            LayerCode {
                name: "audio_hidden",
                code: audio,
            },
            LayerCode {
                name: "video_hidden",
                code: video,
            },
            LayerCode {
                name: "shared",
                code: shared,
            },
        ])
    }

    fn reconstruct(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Vec<Tensor<B, 2>>> {
        let s = self.code(inputs)?;
        Ok(self
            .decoders
            .iter()
            .zip(&self.outputs)
            .map(|(decoder, output)| output.forward(squash(decoder, s.clone())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    fn concat_rows(a: &[f64], b: &[f64], batch: usize) -> Vec<f64> {
        let (wa, wb) = (a.len() / batch, b.len() / batch);
        (0..batch)
            .flat_map(|i| {
                a[i * wa..(i + 1) * wa]
                    .iter()
                    .chain(&b[i * wb..(i + 1) * wb])
                    .copied()
            })
            .collect()
    }

    /// The formula in f64, from the layers' weights: the shared code and both reconstructions.
    fn explicit(
        model: &BimodalAutoencoder<impl Backend>,
        a: &[f64],
        v: &[f64],
        batch: usize,
    ) -> (Vec<f64>, Vec<Vec<f64>>) {
        let ha = sigmoid_f64(apply_linear(&model.encoders[0], a));
        let hv = sigmoid_f64(apply_linear(&model.encoders[1], v));
        let s = sigmoid_f64(apply_linear(&model.shared, &concat_rows(&ha, &hv, batch)));
        let outs = (0..2)
            .map(|m| {
                apply_linear(
                    &model.outputs[m],
                    &sigmoid_f64(apply_linear(&model.decoders[m], &s)),
                )
            })
            .collect();
        (s, outs)
    }

    fn matches_formula<B: TestBackend>(device: &B::Device) {
        let model = randomize(
            BimodalAutoencoderConfig::new(5, 3)
                .with_hidden(4)
                .with_shared(2)
                .init::<B>(device)
                .unwrap(),
            11,
        );
        let (a, v) = (
            tensor::<B, 2>(1, [6, 5], device),
            tensor::<B, 2>(2, [6, 3], device),
        );
        let (s, outs) = explicit(&model, &to_f64(a.clone()), &to_f64(v.clone()), 6);
        let inputs = [a, v];
        let layers = model.encode_layers(&inputs).unwrap();
        let names: Vec<_> = layers.iter().map(|l| (l.name, l.code.dims())).collect();
        assert_eq!(
            names,
            [
                ("audio_hidden", [6, 4]),
                ("video_hidden", [6, 4]),
                ("shared", [6, 2])
            ]
        );
        assert_close("shared code", &to_f64(layers[2].code.clone()), &s, 1e-5);
        for (m, (out, expected)) in model
            .reconstruct(&inputs)
            .unwrap()
            .into_iter()
            .zip(&outs)
            .enumerate()
        {
            assert_close(&format!("modality {m}"), &to_f64(out), expected, 1e-5);
        }
    }
    for_each_backend!(reconstruction_matches_the_formula, matches_formula);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let model = randomize(
            BimodalAutoencoderConfig::new(4, 3)
                .with_hidden(3)
                .with_shared(2)
                .init::<B>(device)
                .unwrap(),
            13,
        );
        let inputs = [
            tensor::<B, 2>(3, [3, 4], device),
            tensor::<B, 2>(4, [3, 3], device),
        ];
        run_case(&model, &inputs, |m, x| Ok(Tensor::cat(m.reconstruct(x)?, 1)))
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);

    #[test]
    fn rejects_bad_input_and_config() {
        let device = Default::default();
        let model = BimodalAutoencoderConfig::new(4, 3)
            .init::<Reference>(&device)
            .unwrap();
        let one = [Tensor::zeros([2, 4], &device)];
        assert_eq!(
            model.reconstruct(&one).unwrap_err().to_string(),
            "BimodalAutoencoder: expected 2 modalities, got 1"
        );
        let mismatched = [Tensor::zeros([2, 4], &device), Tensor::zeros([3, 3], &device)];
        assert_eq!(
            model.code(&mismatched).unwrap_err().to_string(),
            "BimodalAutoencoder: modality 1 has shape [3, 3], expected [2, 3] ([batch, d_1], batch from modality 0)"
        );
        let err = BimodalAutoencoderConfig::new(4, 0)
            .init::<Reference>(&device)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "BimodalAutoencoder config: d_video must be at least 1, got 0"
        );
    }
}
