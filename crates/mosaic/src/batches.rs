//! What the label-free training loops share (`autoencoder::fit`, `coordinated::fit`): data
//! handed over as row-major `f32` slices, checked and gathered into batches; weights drawn
//! from mosaic's [`SplitMix64`], never from burn's generator, which is global per backend (so
//! models trained at once on other threads do not change each other's results); and the
//! epoch loop: a seeded shuffle, Adam, the loss checked for divergence, progress per epoch.

use crate::rng::SplitMix64;
use crate::{MosaicError, Result};
use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};

/// What a training loop (`autoencoder::fit`, `coordinated::fit`) reports after each epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// The epoch (1-based).
    pub epoch: usize,
    /// The number of epochs requested.
    pub epochs: usize,
    /// The epoch's mean loss per example: the objective of the loop that reports it.
    pub loss: f64,
}

/// A trained model and its loss per epoch.
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

/// Redraws every weight matrix from [`SplitMix64`] as Glorot (Xavier) uniform,
/// `±√(6 / (fan_in + fan_out))`, and sets every vector (bias) to 0: the graph papers' init.
struct GlorotInit {
    rng: SplitMix64,
}

impl<B: Backend> ModuleMapper<B> for GlorotInit {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| {
            let dims = t.dims();
            let n: usize = dims.iter().product();
            let values: Vec<f32> = if D == 2 {
                let bound = (6.0 / (dims[0] + dims[1]) as f32).sqrt();
                (0..n).map(|_| bound * self.rng.signed_unit()).collect()
            } else {
                vec![0.0; n]
            };
            Tensor::from_data(TensorData::new(values, dims), &t.device())
                .set_require_grad(t.is_require_grad())
        })
    }
}

/// `model` with its weight matrices redrawn from `seed` as Glorot uniform and its biases 0
/// (see [`GlorotInit`]).
pub(crate) fn seeded_glorot<B: Backend, M: burn::module::Module<B>>(model: M, seed: u64) -> M {
    model.map(&mut GlorotInit {
        rng: SplitMix64::new(seed ^ 0x6c07),
    })
}

/// `model` with every float parameter redrawn from `seed` (see [`SeededInit`]).
pub(crate) fn seeded<B: Backend, M: burn::module::Module<B>>(model: M, seed: u64) -> M {
    model.map(&mut SeededInit {
        rng: SplitMix64::new(seed ^ 0x1417),
        fan_in: 1,
    })
}

pub(crate) fn check_rows(what: &'static str, widths: &[usize], data: &[&[f32]]) -> Result<usize> {
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
pub(crate) fn gather<B: Backend>(
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

/// The optimisation settings every loop shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Schedule {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub seed: u64,
    /// A last batch smaller than this is left out of its epoch (its examples fall elsewhere
    /// in the next epoch's shuffle); 1 keeps every batch.
    pub min_batch: usize,
}

/// One batch of an epoch, for the loop's loss.
pub(crate) struct BatchPlan<'a> {
    /// The epoch's seed (its shuffle's), for draws that change per epoch.
    pub epoch_seed: u64,
    /// The batch's position in the epoch's order.
    pub start: usize,
    /// The examples, in the epoch's order.
    pub indices: &'a [usize],
}

/// Runs `schedule.epochs` epochs of Adam on `model` over `n` examples: each epoch shuffles
/// the examples with its own seed, and each batch's loss is `batch_loss`'s (a mean over the
/// batch); progress reports the epoch's mean loss per example.
///
/// # Errors
/// Bad settings, `batch_loss`'s errors, or a non-finite loss ([`MosaicError::Diverged`]).
pub(crate) fn run_epochs<B, M>(
    what: &'static str,
    mut model: M,
    n: usize,
    schedule: &Schedule,
    mut batch_loss: impl FnMut(&M, &BatchPlan) -> Result<Tensor<B, 1>>,
    mut progress: impl FnMut(Progress),
) -> Result<Fitted<M::InnerModule>>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    let Schedule {
        epochs,
        batch_size,
        lr,
        seed,
        min_batch,
    } = *schedule;
    if epochs == 0 || batch_size == 0 || !(lr.is_finite() && lr > 0.0) {
        return Err(MosaicError::invalid(
            what,
            format!(
                "epochs {epochs}, batch_size {batch_size}, lr {lr}: expected at least one epoch, a batch of at least 1 and a finite lr above 0"
            ),
        ));
    }
    let mut optimizer = AdamConfig::new().init::<B, M>();
    let mut order: Vec<usize> = (0..n).collect();
    let mut losses = Vec::with_capacity(epochs);
    for epoch in 1..=epochs {
        let epoch_seed = seed.wrapping_add(epoch as u64);
        SplitMix64::new(epoch_seed).shuffle(&mut order);
        let (mut total, mut seen) = (0.0, 0);
        for (b, indices) in order.chunks(batch_size).enumerate() {
            if indices.len() < min_batch {
                continue;
            }
            let plan = BatchPlan {
                epoch_seed,
                start: b * batch_size,
                indices,
            };
            let loss = batch_loss(&model, &plan)?;
            let value = loss.clone().into_scalar().elem::<f64>();
            if !value.is_finite() {
                return Err(MosaicError::Diverged {
                    epoch,
                    message: format!(
                        "the loss of batch {} is {value}; try a lower learning rate (lr is {lr})",
                        b + 1
                    ),
                });
            }
            total += value * indices.len() as f64;
            seen += indices.len();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
        }
        let loss = total / seen.max(1) as f64;
        losses.push(loss);
        progress(Progress { epoch, epochs, loss });
    }
    Ok(Fitted {
        model: model.valid(),
        losses,
    })
}
