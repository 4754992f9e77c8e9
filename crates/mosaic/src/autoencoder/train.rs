//! Training an [`Autoencoder`] without labels: Adam on the reconstruction error of every
//! modality, from inputs that [`Zeroing`] may have emptied. Deterministic: the same seed gives
//! the same weights on any number of threads. Every random draw (initial weights, batch order,
//! zeroing) comes from mosaic's [`SplitMix64`], none from burn's generator, which is global
//! per backend: models trained at once on other threads do not change each other's results.

use super::zeroing::{self, Zeroing};
use super::Autoencoder;
use crate::analysis::Matrix;
use crate::rng::SplitMix64;
use crate::{MosaicError, Result};
use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};

const TRAINING: &str = "autoencoder training";

/// Optimisation settings of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Examples per batch.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initial weights, the batch order and the zeroing plan.
    pub seed: u64,
    /// Ngiam's augmentation (bimodal models only).
    pub zeroing: Zeroing,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 30,
            batch_size: 64,
            lr: 2e-3,
            seed: 7,
            zeroing: Zeroing::Off,
        }
    }
}

/// What [`fit`] reports after each epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// The epoch (1-based).
    pub epoch: usize,
    /// [`FitOptions::epochs`].
    pub epochs: usize,
    /// The epoch's mean loss: squared error per value, summed over modalities.
    pub loss: f64,
}

/// A trained autoencoder and its loss per epoch.
pub struct Fitted<M> {
    /// The weights after the last epoch.
    pub model: M,
    /// [`Progress::loss`] of each epoch.
    pub losses: Vec<f64>,
}

/// Redraws every float parameter from [`SplitMix64`]: uniform in `±1/√fan_in`, burn's default
/// for `Linear` (`fan_in` is the first dimension of the last weight matrix visited, which a
/// bias follows).
struct SeededInit {
    rng: SplitMix64,
    fan_in: usize,
}

impl<B: Backend> ModuleMapper<B> for SeededInit {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| {
            let dims = t.dims();
            if D == 2 {
                self.fan_in = dims[0];
            }
            let bound = 1.0 / (self.fan_in.max(1) as f32).sqrt();
            let values: Vec<f32> = (0..dims.iter().product::<usize>())
                .map(|_| bound * self.rng.signed_unit())
                .collect();
            Tensor::from_data(TensorData::new(values, dims), &t.device())
                .set_require_grad(t.is_require_grad())
        })
    }
}

/// The number of rows of `data` (one row-major `[n, widths[m]]` slice per modality), checked.
fn rows(what: &'static str, widths: &[usize], data: &[&[f32]]) -> Result<usize> {
    if data.len() != widths.len() {
        return Err(MosaicError::invalid(
            what,
            format!(
                "got data for {} modalities, the model reads {}",
                data.len(),
                widths.len()
            ),
        ));
    }
    let n = data[0].len() / widths[0];
    for (m, (values, &width)) in data.iter().zip(widths).enumerate() {
        if values.len() != n * width || values.len() % width != 0 {
            return Err(MosaicError::invalid(
                what,
                format!(
                    "modality {m} holds {} values, expected {n} rows of {width} (rows from modality 0)",
                    values.len()
                ),
            ));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(MosaicError::invalid(
                what,
                format!("modality {m}, row {}, holds {}", i / width, values[i]),
            ));
        }
    }
    if n == 0 {
        return Err(MosaicError::invalid(what, "no examples"));
    }
    Ok(n)
}

/// The rows `indices` of each modality as tensors.
fn gather<B: Backend>(
    data: &[&[f32]],
    widths: &[usize],
    indices: &[usize],
    device: &B::Device,
) -> Vec<Tensor<B, 2>> {
    data.iter()
        .zip(widths)
        .map(|(values, &w)| {
            let rows: Vec<f32> = indices
                .iter()
                .flat_map(|&i| values[i * w..(i + 1) * w].iter().copied())
                .collect();
            Tensor::from_data(TensorData::new(rows, [indices.len(), w]), device)
        })
        .collect()
}

/// Trains the model `init` makes, its weights redrawn from `options.seed`, on `data`, one
/// row-major `[n, width]` slice per modality in the model's order. Each batch's loss is
/// `Σ_m mean((x̂_m − x_m)²)`, the targets `x_m` being the inputs before zeroing.
///
/// # Errors
/// Bad options, data of other widths or with non-finite values, [`Zeroing::Thirds`] on a
/// model that is not bimodal, or training that diverges ([`MosaicError::Diverged`]).
pub fn fit<B, M>(
    init: impl FnOnce(&B::Device) -> Result<M>,
    data: &[&[f32]],
    options: &FitOptions,
    device: &B::Device,
    mut progress: impl FnMut(Progress),
) -> Result<Fitted<M::InnerModule>>
where
    B: AutodiffBackend,
    M: Autoencoder<B> + AutodiffModule<B>,
{
    if options.epochs == 0 || options.batch_size == 0 || !(options.lr.is_finite() && options.lr > 0.0) {
        return Err(MosaicError::invalid(
            TRAINING,
            format!(
                "epochs {}, batch_size {}, lr {}: expected at least one epoch, a batch of at least 1 and a finite lr above 0",
                options.epochs, options.batch_size, options.lr
            ),
        ));
    }
    let mut model = init(device)?.map(&mut SeededInit {
        rng: SplitMix64::new(options.seed ^ 0x1417),
        fan_in: 1,
    });
    let widths = model.widths();
    let n = rows(TRAINING, &widths, data)?;
    if options.zeroing == Zeroing::Thirds && widths.len() != 2 {
        return Err(MosaicError::invalid(
            TRAINING,
            format!(
                "zeroing needs a bimodal model, this one reads {} modalities",
                widths.len()
            ),
        ));
    }
    let mut optimizer = AdamConfig::new().init::<B, M>();
    let mut order: Vec<usize> = (0..n).collect();
    let mut losses = Vec::with_capacity(options.epochs);
    for epoch in 1..=options.epochs {
        let epoch_seed = options.seed.wrapping_add(epoch as u64);
        SplitMix64::new(epoch_seed).shuffle(&mut order);
        let plan = options.zeroing.plan(n, epoch_seed ^ 0x5A5A);
        let mut total = 0.0;
        for (b, indices) in order.chunks(options.batch_size).enumerate() {
            let targets = gather::<B>(data, &widths, indices, device);
            let start = b * options.batch_size;
            let inputs = zeroing::apply(targets.clone(), &plan[start..start + indices.len()]);
            let loss = model
                .reconstruct(&inputs)?
                .into_iter()
                .zip(targets)
                .map(|(x_hat, x)| (x_hat - x).powi_scalar(2).mean())
                .reduce(|a, b| a + b)
                .expect("at least one modality");
            let value = loss.clone().into_scalar().elem::<f64>();
            if !value.is_finite() {
                return Err(MosaicError::Diverged {
                    epoch,
                    message: format!(
                        "the loss of batch {} is {value}; try a lower learning rate (lr is {})",
                        b + 1,
                        options.lr
                    ),
                });
            }
            total += value * indices.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(options.lr, model, grads);
        }
        losses.push(total / n as f64);
        progress(Progress {
            epoch,
            epochs: options.epochs,
            loss: total / n as f64,
        });
    }
    Ok(Fitted {
        model: model.valid(),
        losses,
    })
}

/// Every layer's code for `data` (as in [`fit`]), computed in batches of 256: one
/// `[n, width]` [`Matrix`] per layer of [`Autoencoder::encode_layers`], with its name.
///
/// # Errors
/// Data of other widths or with non-finite values.
pub fn encode<B: Backend, M: Autoencoder<B>>(
    model: &M,
    data: &[&[f32]],
    device: &B::Device,
) -> Result<Vec<(&'static str, Matrix)>> {
    let widths = model.widths();
    let n = rows("encode", &widths, data)?;
    let mut layers: Vec<(&'static str, Vec<f64>, usize)> = Vec::new();
    for start in (0..n).step_by(256) {
        let indices: Vec<usize> = (start..n.min(start + 256)).collect();
        let codes = model.encode_layers(&gather::<B>(data, &widths, &indices, device))?;
        if layers.is_empty() {
            layers = codes
                .iter()
                .map(|c| (c.name, Vec::new(), c.code.dims()[1]))
                .collect();
        }
        for (layer, code) in layers.iter_mut().zip(codes) {
            layer.1.extend(code.code.into_data().iter::<f64>());
        }
    }
    layers
        .into_iter()
        .map(|(name, values, width)| Ok((name, Matrix::new(n, width, values)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoencoder::{BimodalAutoencoderConfig, UnimodalAutoencoderConfig};
    use crate::backend::{Autodiff, Flex};
    use crate::data::rng::SplitMix64;

    /// Two-modality data whose audio and video both encode one latent value per example.
    fn toy(n: usize) -> (Vec<f32>, Vec<f32>) {
        let mut rng = SplitMix64::new(3);
        let latent: Vec<f32> = (0..n).map(|_| rng.signed_unit()).collect();
        let audio = latent.iter().flat_map(|&t| [t, -t, 0.5 * t, t * t]).collect();
        let video = latent.iter().flat_map(|&t| [2.0 * t, 1.0 - t]).collect();
        (audio, video)
    }

    #[test]
    fn training_lowers_the_loss_and_is_repeatable() {
        let (audio, video) = toy(256);
        let device = Default::default();
        let options = FitOptions {
            epochs: 40,
            batch_size: 16,
            lr: 1e-2,
            seed: 3,
            zeroing: Zeroing::Thirds,
        };
        let run = || {
            fit::<Autodiff<Flex>, _>(
                |d| {
                    BimodalAutoencoderConfig::new(4, 2)
                        .with_hidden(8)
                        .with_shared(4)
                        .init(d)
                },
                &[&audio, &video],
                &options,
                &device,
                |_| {},
            )
            .unwrap()
        };
        let first = run();
        assert!(
            first.losses[39] < 0.3 * first.losses[0],
            "losses {:?}",
            first.losses
        );
        // Other tests draw from burn's generator meanwhile: training does not use it.
        assert_eq!(first.losses, run().losses);
        let codes = encode(&first.model, &[&audio, &video], &device).unwrap();
        assert_eq!(
            codes
                .iter()
                .map(|(n, m)| (*n, m.rows(), m.cols()))
                .collect::<Vec<_>>(),
            [
                ("audio_hidden", 256, 8),
                ("video_hidden", 256, 8),
                ("shared", 256, 4)
            ]
        );
    }

    #[test]
    fn bad_data_and_options_are_named() {
        let device = Default::default();
        let unimodal = |d: &_| UnimodalAutoencoderConfig::new(4).init::<Autodiff<Flex>>(d);
        let go = |data: &[&[f32]], options: FitOptions| {
            fit(unimodal, data, &options, &device, |_| {})
                .err()
                .unwrap()
                .to_string()
        };
        let ok = FitOptions::default();
        assert_eq!(
            go(&[&[0.0; 6]], ok),
            "autoencoder training: modality 0 holds 6 values, expected 1 rows of 4 (rows from modality 0)"
        );
        assert_eq!(go(&[&[]], ok), "autoencoder training: no examples");
        assert_eq!(
            go(&[&[0.0, f32::NAN, 0.0, 0.0]], ok),
            "autoencoder training: modality 0, row 0, holds NaN"
        );
        assert_eq!(
            go(
                &[&[0.0; 8]],
                FitOptions {
                    zeroing: Zeroing::Thirds,
                    ..ok
                }
            ),
            "autoencoder training: zeroing needs a bimodal model, this one reads 1 modalities"
        );
        assert!(go(&[&[0.0; 8]], FitOptions { lr: -1.0, ..ok }).contains("lr -1"));
    }
}
