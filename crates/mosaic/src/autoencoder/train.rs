//! Training an [`Autoencoder`] without labels: Adam on the reconstruction error of every
//! modality, from inputs that [`Zeroing`] may have emptied. Deterministic: the same seed gives
//! the same weights on any number of threads. Every random draw (initial weights, batch order,
//! zeroing) comes from mosaic's [`SplitMix64`](crate::rng::SplitMix64), none from burn's generator, which is global
//! per backend: models trained at once on other threads do not change each other's results.

use super::zeroing::{self, Zeroing};
use super::Autoencoder;
use crate::analysis::Matrix;
use crate::batches::{check_rows, gather, run_epochs, seeded, BatchPlan, Schedule};
pub use crate::batches::{Fitted, Progress};
use crate::{MosaicError, Result};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};

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
    progress: impl FnMut(Progress),
) -> Result<Fitted<M::InnerModule>>
where
    B: AutodiffBackend,
    M: Autoencoder<B> + AutodiffModule<B>,
{
    let model = seeded(init(device)?, options.seed);
    let widths = model.widths();
    let n = check_rows(TRAINING, &widths, data)?;
    if options.zeroing == Zeroing::Thirds && widths.len() != 2 {
        return Err(MosaicError::invalid(
            TRAINING,
            format!(
                "zeroing needs a bimodal model, this one reads {} modalities",
                widths.len()
            ),
        ));
    }
    let schedule = Schedule {
        epochs: options.epochs,
        batch_size: options.batch_size,
        lr: options.lr,
        seed: options.seed,
        min_batch: 1,
    };
    let mut plan = (0, Vec::new());
    let batch_loss = |model: &M, batch: &BatchPlan| {
        if plan.0 != batch.epoch_seed || plan.1.is_empty() {
            plan = (
                batch.epoch_seed,
                options.zeroing.plan(n, batch.epoch_seed ^ 0x5A5A),
            );
        }
        let targets = gather::<B>(data, &widths, batch.indices, device);
        let zeroed = &plan.1[batch.start..batch.start + batch.indices.len()];
        let inputs = zeroing::apply(targets.clone(), zeroed);
        Ok(model
            .reconstruct(&inputs)?
            .into_iter()
            .zip(targets)
            .map(|(x_hat, x)| (x_hat - x).powi_scalar(2).mean())
            .reduce(|a, b| a + b)
            .expect("at least one modality"))
    };
    run_epochs(TRAINING, model, n, &schedule, batch_loss, progress)
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
    let n = check_rows("encode", &widths, data)?;
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
