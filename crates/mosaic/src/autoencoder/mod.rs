//! Joint representations learned without labels (CMU 11-777, "Multimodal Representations";
//! Ngiam et al., "Multimodal Deep Learning", ICML 2011): autoencoders that reconstruct their
//! input through a narrow code, generic over the burn backend.
//!
//! - [`UnimodalAutoencoder`]: one modality, `x → h → z → h' → x̂`.
//! - [`BimodalAutoencoder`]: Ngiam's bimodal deep autoencoder: each modality through its own
//!   layer into one shared layer, which reconstructs both. Trained with [`Zeroing`] (a third of
//!   the examples with audio zeroed, a third with video zeroed, both always reconstructed), its
//!   shared code can be reached from either modality alone.
//! - [`ShallowBimodalAutoencoder`]: one layer on the concatenated input, the lecture's
//!   counter-example: its units tend to serve one modality each.
//!
//! All three implement [`Autoencoder`] and train with [`fit`]. Hidden layers use the logistic
//! sigmoid `σ(t) = 1 / (1 + e^{−t})` (codes in (0, 1), as the RBM-initialised layers of the
//! paper); reconstructions are linear; the loss is the mean squared error of every modality,
//! summed over modalities.
//!
//! ```
//! use burn::tensor::Tensor;
//! use mosaic::autoencoder::{Autoencoder, BimodalAutoencoderConfig};
//! use mosaic::backend::{Cpu, CpuDevice};
//!
//! let device = CpuDevice::default();
//! // Audio vectors of 12 values and images of 6, two hidden layers of 5, a shared code of 3.
//! let model = BimodalAutoencoderConfig::new(12, 6).with_hidden(5).with_shared(3).init::<Cpu>(&device)?;
//! let audio = Tensor::<Cpu, 2>::ones([4, 12], &device);
//! let video = Tensor::<Cpu, 2>::zeros([4, 6], &device); // video absent: zeroed
//! let layers = model.encode_layers(&[audio.clone(), video.clone()])?;
//! assert_eq!(layers.last().unwrap().name, "shared");
//! assert_eq!(layers.last().unwrap().code.dims(), [4, 3]);
//! let [audio_hat, video_hat] = <[_; 2]>::try_from(model.reconstruct(&[audio, video])?).unwrap();
//! assert_eq!((audio_hat.dims(), video_hat.dims()), ([4, 12], [4, 6]));
//!
//! // A modality of the wrong width is an error that names it.
//! let err = model.reconstruct(&[Tensor::ones([4, 12], &device), Tensor::ones([4, 7], &device)]).unwrap_err();
//! assert_eq!(err.to_string(), "BimodalAutoencoder: modality 1 has shape [4, 7], expected [4, 6] ([batch, d_1], batch from modality 0)");
//! # Ok::<(), mosaic::MosaicError>(())
//! ```

mod bimodal;
mod shallow;
mod train;
mod unimodal;
mod zeroing;

pub use bimodal::{BimodalAutoencoder, BimodalAutoencoderConfig};
pub use shallow::{ShallowBimodalAutoencoder, ShallowBimodalAutoencoderConfig};
pub use train::{encode, fit, FitOptions, Fitted, Progress};
pub use unimodal::{UnimodalAutoencoder, UnimodalAutoencoderConfig};
pub use zeroing::{Zeroed, Zeroing};

use crate::validate::{check_parameter_size, check_positive};
use crate::Result;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{backend::Backend, Tensor};

/// One layer's code for a batch: `[batch, width]`.
#[derive(Debug, Clone)]
pub struct LayerCode<B: Backend> {
    /// The layer's name (`audio_hidden`, `shared`, …), stable across runs.
    pub name: &'static str,
    /// Its activations.
    pub code: Tensor<B, 2>,
}

/// An autoencoder over one or more modalities.
pub trait Autoencoder<B: Backend>: Module<B> {
    /// The widths of the modalities it reads, in the order it takes them.
    fn widths(&self) -> Vec<usize>;

    /// The codes of each encoding layer, from the first to the innermost.
    ///
    /// # Shapes
    /// - `inputs[m]`: `[batch, widths()[m]]` (a missing modality is passed zeroed)
    /// - each code: `[batch, width of the layer]`
    ///
    /// # Errors
    /// [`MosaicError::Shape`](crate::MosaicError::Shape) naming the modality whose shape is
    /// wrong, or an empty batch.
    fn encode_layers(&self, inputs: &[Tensor<B, 2>]) -> Result<Vec<LayerCode<B>>>;

    /// Every modality reconstructed from `inputs`: `[batch, widths()[m]]` each.
    ///
    /// # Errors
    /// Those of [`encode_layers`](Self::encode_layers).
    fn reconstruct(&self, inputs: &[Tensor<B, 2>]) -> Result<Vec<Tensor<B, 2>>>;

    /// The innermost code: the last of [`encode_layers`](Self::encode_layers).
    ///
    /// # Errors
    /// Those of [`encode_layers`](Self::encode_layers).
    fn code(&self, inputs: &[Tensor<B, 2>]) -> Result<Tensor<B, 2>> {
        let mut layers = self.encode_layers(inputs)?;
        Ok(layers.pop().expect("at least one encoding layer").code)
    }
}

/// `σ(x W + b)`.
fn squash<B: Backend>(layer: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    sigmoid(layer.forward(x))
}

/// A `d_in → d_out` layer, its widths checked.
fn dense<B: Backend>(
    layer: &'static str,
    name: &str,
    d_in: usize,
    d_out: usize,
    device: &B::Device,
) -> Result<Linear<B>> {
    check_positive(layer, name, d_out)?;
    check_parameter_size(layer, name, &[d_in, d_out])?;
    Ok(LinearConfig::new(d_in, d_out).init(device))
}
