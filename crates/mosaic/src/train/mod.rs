//! Training the [`SentimentModel`] of [`crate::models`]: Adam on the L1 loss, early stopping
//! on the validation MAE, and the papers' [`Metrics`]. Deterministic: the same
//! [`TrainOptions::seed`] gives the same weights, batch order and metrics, bit for bit, on
//! any number of threads.
//!
//! ```
//! use mosaic::backend::{Autodiff, Flex};
//! use mosaic::data::Modality;
//! use mosaic::models::{FusionKind, ModelConfig};
//! use mosaic::train::{evaluate, fit, TrainOptions};
//!
//! let (data, _report) = mosaic::data::load("trimodal")?;
//! let config = ModelConfig::for_dataset(&data, &Modality::ALL, FusionKind::Lmf);
//! let options = TrainOptions { epochs: 2, ..TrainOptions::default() };
//! let device = Default::default();
//! let fitted = fit::<Autodiff<Flex>>(&config, &data, &options, &device, |_progress| {})?;
//! let test = evaluate(&fitted.model, &config, &data.test, &device)?;
//! assert_eq!((fitted.epochs_run, test.count), (2, data.test.len()));
//! # Ok::<(), mosaic::MosaicError>(())
//! ```

mod metrics;

pub use metrics::Metrics;

use crate::models::{Batch, ModelConfig, SentimentModel};
use crate::{AutodiffFusionBackend, FusionBackend, MosaicError, Result};
use burn::module::AutodiffModule;
use burn::nn::loss::{LpLossConfig, Reduction};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use mosaic_data::rng::SplitMix64;
use mosaic_data::{Dataset, Modality, Sample};
use serde::{Deserialize, Serialize};

/// The name errors give the training loop.
const TRAINING: &str = "training";

/// Optimisation settings; saved with the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Most epochs.
    pub epochs: usize,
    /// Epochs without a better validation MAE before stopping.
    pub patience: usize,
    /// Segments per batch.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initial weights and the batch order.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 60,
            patience: 10,
            batch_size: 32,
            lr: 3e-3,
            seed: 7,
        }
    }
}

impl TrainOptions {
    /// Checks every setting: at least one epoch, a patience and a batch size of at least 1, a
    /// finite learning rate above 0.
    ///
    /// # Errors
    /// Names the option, its value and what is expected.
    pub fn check(&self) -> Result<()> {
        for (name, value) in [
            ("epochs", self.epochs),
            ("patience", self.patience),
            ("batch_size", self.batch_size),
        ] {
            if value == 0 {
                return Err(MosaicError::invalid(
                    TRAINING,
                    format!("{name} is 0, expected at least 1"),
                ));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(MosaicError::invalid(
                TRAINING,
                format!(
                    "lr is {}, expected a finite learning rate above 0 (e.g. 0.003)",
                    self.lr
                ),
            ));
        }
        Ok(())
    }
}

/// What [`fit`] reports while it trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// After each batch: the running mean of the epoch's training L1 loss.
    Batch {
        /// The epoch (1-based) and the most epochs.
        epoch: usize,
        /// [`TrainOptions::epochs`].
        epochs: usize,
        /// The batch (1-based) and the batches per epoch.
        step: usize,
        /// Batches per epoch.
        steps: usize,
        /// Mean L1 loss of the epoch's batches so far.
        loss: f64,
    },
    /// After each epoch.
    Epoch {
        /// The epoch (1-based).
        epoch: usize,
        /// [`TrainOptions::epochs`].
        epochs: usize,
        /// Mean training L1 loss of the epoch.
        train_loss: f64,
        /// Validation MAE after the epoch.
        valid_mae: f64,
        /// Whether it is the best so far (its weights are kept).
        best: bool,
    },
}

/// A trained model and how training went.
pub struct Fitted<B: Backend> {
    /// The weights of the best validation epoch.
    pub model: SentimentModel<B>,
    /// That epoch (1-based).
    pub best_epoch: usize,
    /// Epochs run.
    pub epochs_run: usize,
}

/// Tensors for `samples`, for the modalities of `config`.
pub fn batch<B: Backend>(samples: &[&Sample], config: &ModelConfig, device: &B::Device) -> Result<Batch<B>> {
    let modalities = config.modality_list()?;
    let n = samples.len();
    let gather = |f: fn(&Sample) -> &[f32]| {
        samples
            .iter()
            .flat_map(|s| f(s).iter().copied())
            .collect::<Vec<f32>>()
    };
    let uses = |m| modalities.contains(&m);
    let matrix = |values: Vec<f32>, width: usize| {
        Tensor::<B, 2>::from_data(TensorData::new(values, [n, width]), device)
    };
    Ok(Batch {
        text: uses(Modality::Text).then(|| {
            let values = gather(|s| &s.text);
            Tensor::from_data(
                TensorData::new(values, [n, config.text_len, config.text_width]),
                device,
            )
        }),
        audio: uses(Modality::Audio).then(|| matrix(gather(|s| &s.audio), config.audio_width)),
        video: uses(Modality::Video).then(|| matrix(gather(|s| &s.video), config.video_width)),
        labels: matrix(samples.iter().map(|s| s.label).collect(), 1),
    })
}

/// Checks that `data` has the widths `config` was made for.
///
/// # Errors
/// Names the modality and both widths.
pub fn check_widths(config: &ModelConfig, data: &Dataset) -> Result<()> {
    let pairs = [
        ("text sequence length", config.text_len, data.text_len),
        ("text word-vector width", config.text_width, data.text_width),
        ("audio width", config.audio_width, data.audio_width),
        ("video width", config.video_width, data.video_width),
    ];
    for (what, expected, actual) in pairs {
        if expected != actual {
            return Err(MosaicError::invalid(
                "SentimentModel",
                format!(
                    "the model expects {what} {expected}, dataset `{}` has {actual}",
                    data.name
                ),
            ));
        }
    }
    Ok(())
}

/// Predictions for `samples` (evaluation mode), in batches of 256.
pub fn predict<B: FusionBackend>(
    model: &SentimentModel<B>,
    config: &ModelConfig,
    samples: &[Sample],
    device: &B::Device,
) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(256) {
        let refs: Vec<&Sample> = chunk.iter().collect();
        let predictions = model.forward(&batch::<B>(&refs, config, device)?)?;
        out.extend(predictions.into_data().iter::<f32>());
    }
    Ok(out)
}

/// The metrics of `model` on `samples`.
pub fn evaluate<B: FusionBackend>(
    model: &SentimentModel<B>,
    config: &ModelConfig,
    samples: &[Sample],
    device: &B::Device,
) -> Result<Metrics> {
    let predictions = predict(model, config, samples, device)?;
    let labels: Vec<f32> = samples.iter().map(|s| s.label).collect();
    Metrics::new(&predictions, &labels)
}

/// Trains a model of `config` on `data.train`, keeping the weights of the epoch with the
/// lowest validation MAE and stopping after `patience` epochs without improvement.
///
/// # Errors
/// Options [`TrainOptions::check`] refuses, a configuration the layers reject, a dataset of
/// other widths, or training that diverges: a loss or a validation prediction that is not
/// finite stops it with [`MosaicError::Diverged`], naming the epoch.
///
/// `progress` is called after every batch and every epoch (e.g. to draw a progress bar).
pub fn fit<B: AutodiffFusionBackend>(
    config: &ModelConfig,
    data: &Dataset,
    options: &TrainOptions,
    device: &B::Device,
    mut progress: impl FnMut(Progress),
) -> Result<Fitted<B::InnerBackend>> {
    options.check()?;
    check_widths(config, data)?;
    B::seed(device, options.seed);
    let mut model = config.init::<B>(device)?;
    let mut optimizer = AdamConfig::new().init::<B, SentimentModel<B>>();
    let mut order: Vec<usize> = (0..data.train.len()).collect();
    let steps = data.train.len().div_ceil(options.batch_size);
    let mut best: Option<(SentimentModel<B::InnerBackend>, usize, f64)> = None;
    let mut epochs_run = 0;
    let diverged = |epoch: usize, what: String| MosaicError::Diverged {
        epoch,
        message: format!("{what}; try a lower learning rate (lr is {})", options.lr),
    };
    for epoch in 1..=options.epochs {
        epochs_run = epoch;
        SplitMix64::new(options.seed.wrapping_add(epoch as u64)).shuffle(&mut order);
        let mut total = 0.0;
        for (step, indices) in order.chunks(options.batch_size).enumerate() {
            let samples: Vec<&Sample> = indices.iter().map(|&i| &data.train[i]).collect();
            let batch = batch::<B>(&samples, config, device)?;
            let loss =
                LpLossConfig::l1().forward(model.forward(&batch)?, batch.labels.clone(), Reduction::Mean);
            let value = loss.clone().into_scalar().elem::<f64>();
            if !value.is_finite() {
                return Err(diverged(
                    epoch,
                    format!("the loss of batch {} is {value}", step + 1),
                ));
            }
            total += value * samples.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(options.lr, model, grads);
            progress(Progress::Batch {
                epoch,
                epochs: options.epochs,
                step: step + 1,
                steps,
                loss: total / ((step * options.batch_size + samples.len()) as f64),
            });
        }
        let valid_model = model.valid();
        let valid_mae = evaluate(&valid_model, config, &data.valid, device)
            .map_err(|e| diverged(epoch, format!("on the validation split, {e}")))?
            .mae;
        let improved = best.as_ref().is_none_or(|(_, _, mae)| valid_mae < *mae);
        progress(Progress::Epoch {
            epoch,
            epochs: options.epochs,
            train_loss: total / data.train.len() as f64,
            valid_mae,
            best: improved,
        });
        if improved {
            best = Some((valid_model, epoch, valid_mae));
        } else if best
            .as_ref()
            .is_some_and(|(_, e, _)| epoch - e >= options.patience)
        {
            break;
        }
    }
    let (model, best_epoch, _) = best.ok_or_else(|| MosaicError::invalid(TRAINING, "no epoch ran"))?;
    Ok(Fitted {
        model,
        best_epoch,
        epochs_run,
    })
}
