//! Training [`TwoTowers`] on paired views with one coordination [`Objective`]: Adam on
//! batches of pairs, deterministic for a seed on any number of threads (weights and batch
//! order from mosaic's generator, as in `autoencoder::fit`).

use super::contrastive::info_nce_loss;
use super::deep_cca::deep_cca_loss;
use super::ranking::{hinge_ranking_loss, Negatives};
use super::similarity::{cosine_loss, cosine_similarities};
use super::towers::{TwoTowers, TwoTowersConfig};
use crate::analysis::Matrix;
use crate::batches::{check_rows, gather, run_epochs, seeded, BatchPlan, Schedule};
pub use crate::batches::{Fitted, Progress};
use crate::{MosaicError, Result};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;

const TRAINING: &str = "coordinated training";

/// What ties the two spaces together, from weak to strong.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Objective {
    /// [`cosine_loss`]: pairs pulled together, nothing pushed apart.
    Cosine,
    /// [`hinge_ranking_loss`] on the batch's cosine similarities (VSE with
    /// [`Negatives::Sum`], VSE++ with [`Negatives::Max`]).
    Ranking {
        /// `α`.
        margin: f64,
        /// Which negatives count.
        negatives: Negatives,
    },
    /// [`info_nce_loss`] on the batch's cosine similarities, at the model's learnable
    /// temperature (CLIP).
    InfoNce,
    /// [`deep_cca_loss`]: the batch's total canonical correlation (deep CCA).
    DeepCca {
        /// The ridge term `r` of both views' covariances.
        regulariser: f64,
    },
}

impl Objective {
    /// A short name for reports: `cosine`, `vse`, `vse++`, `infonce`, `dcca`.
    pub fn name(&self) -> &'static str {
        match self {
            Objective::Cosine => "cosine",
            Objective::Ranking {
                negatives: Negatives::Sum,
                ..
            } => "vse",
            Objective::Ranking {
                negatives: Negatives::Max,
                ..
            } => "vse++",
            Objective::InfoNce => "infonce",
            Objective::DeepCca { .. } => "dcca",
        }
    }

    /// The objective's loss on one batch of pairs (`[1]`).
    ///
    /// # Errors
    /// Those of the loss.
    pub fn loss<B: Backend>(&self, model: &TwoTowers<B>, views: [Tensor<B, 2>; 2]) -> Result<Tensor<B, 1>> {
        let [x0, x1] = views;
        let (e0, e1) = (model.embed(0, x0)?, model.embed(1, x1)?);
        match *self {
            Objective::Cosine => cosine_loss(e0, e1),
            Objective::Ranking { margin, negatives } => {
                hinge_ranking_loss(cosine_similarities(e0, e1)?, margin, negatives)
            }
            Objective::InfoNce => info_nce_loss(cosine_similarities(e0, e1)?, model.temperature.scale()),
            Objective::DeepCca { regulariser } => Ok(deep_cca_loss(e0, e1, regulariser)?.loss),
        }
    }

    /// The smallest batch the objective accepts for embeddings of width `k`.
    fn min_batch(&self, k: usize) -> usize {
        match self {
            Objective::Cosine => 1,
            Objective::Ranking { .. } | Objective::InfoNce => 2,
            Objective::DeepCca { .. } => k + 1,
        }
    }
}

/// Optimisation settings of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Pairs per batch: the negatives of the ranking and contrastive objectives, the sample
    /// of deep CCA's covariances.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initial weights and the batch order.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 30,
            batch_size: 200,
            lr: 1e-3,
            seed: 7,
        }
    }
}

/// Trains the towers `config` describes, weights drawn from `options.seed`, on `n` pairs:
/// `data[v]` is view `v`, row-major `[n, d_v]`. A last batch too small for the objective
/// (see [`FitOptions::batch_size`]) is left out of its epoch.
///
/// # Errors
/// Bad options or configuration, data of other widths or with non-finite values, a batch
/// too small for the objective (deep CCA needs more pairs than embedding units), or
/// training that diverges ([`MosaicError::Diverged`]).
pub fn fit<B: AutodiffBackend>(
    config: &TwoTowersConfig,
    objective: Objective,
    data: [&[f32]; 2],
    options: &FitOptions,
    device: &B::Device,
    progress: impl FnMut(Progress),
) -> Result<Fitted<TwoTowers<B::InnerBackend>>> {
    let initial = config.init::<B>(device)?;
    let model = TwoTowers {
        towers: seeded(initial.towers, options.seed),
        ..initial
    };
    let widths = model.d_inputs.clone();
    let n = check_rows(TRAINING, &widths, &data)?;
    let min_batch = objective.min_batch(config.d_output);
    if options.batch_size < min_batch || n < min_batch {
        return Err(MosaicError::invalid(
            TRAINING,
            format!(
                "batch_size {} with {n} pairs: {} needs batches of at least {min_batch} pairs (embedding width {})",
                options.batch_size,
                objective.name(),
                config.d_output
            ),
        ));
    }
    let schedule = Schedule {
        epochs: options.epochs,
        batch_size: options.batch_size,
        lr: options.lr,
        seed: options.seed,
        min_batch,
    };
    let batch_loss = |model: &TwoTowers<B>, batch: &BatchPlan| {
        let [x0, x1] =
            <[_; 2]>::try_from(gather::<B>(&data, &widths, batch.indices, device)).expect("two views");
        objective.loss(model, [x0, x1])
    };
    run_epochs(TRAINING, model, n, &schedule, batch_loss, progress)
}

/// View `view`'s embeddings of `data` (row-major `[n, d_view]`), in batches of 256: `[n, k]`.
///
/// # Errors
/// A view other than 0 or 1, or data of another width or with non-finite values.
pub fn embed<B: Backend>(
    model: &TwoTowers<B>,
    view: usize,
    data: &[f32],
    device: &B::Device,
) -> Result<Matrix> {
    let width = *model
        .d_inputs
        .get(view)
        .ok_or_else(|| MosaicError::invalid("embed", format!("view {view}: the model has views 0 and 1")))?;
    let n = check_rows("embed", &[width], &[data])?;
    let mut values = Vec::new();
    let mut k = 0;
    for start in (0..n).step_by(256) {
        let indices: Vec<usize> = (start..n.min(start + 256)).collect();
        let x = gather::<B>(&[data], &[width], &indices, device).remove(0);
        let e = model.embed(view, x)?;
        k = e.dims()[1];
        values.extend(e.into_data().iter::<f64>());
    }
    Matrix::new(n, k, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Autodiff, Flex};
    use crate::data::rng::SplitMix64;

    /// Two views of one latent value per pair, in 4 and 3 dimensions.
    fn toy(n: usize) -> (Vec<f32>, Vec<f32>) {
        let mut rng = SplitMix64::new(5);
        let latent: Vec<f32> = (0..n).map(|_| rng.signed_unit()).collect();
        let a = latent.iter().flat_map(|&t| [t, -t, 0.5 * t, t * t]).collect();
        let b = latent
            .iter()
            .flat_map(|&t| [2.0 * t, 1.0 - t, t * t * t])
            .collect();
        (a, b)
    }

    #[test]
    fn every_objective_lowers_its_loss_repeatably() {
        let (a, b) = toy(240);
        let device = Default::default();
        let config = TwoTowersConfig::new(vec![4, 3]).with_hidden(16).with_d_output(4);
        let options = FitOptions {
            epochs: 25,
            batch_size: 40,
            lr: 1e-2,
            seed: 3,
        };
        for objective in [
            Objective::Cosine,
            Objective::Ranking {
                margin: 0.2,
                negatives: Negatives::Sum,
            },
            Objective::Ranking {
                margin: 0.2,
                negatives: Negatives::Max,
            },
            Objective::InfoNce,
            Objective::DeepCca { regulariser: 1e-3 },
        ] {
            let run =
                || fit::<Autodiff<Flex>>(&config, objective, [&a, &b], &options, &device, |_| {}).unwrap();
            let first = run();
            let (start, end) = (first.losses[0], first.losses[24]);
            assert!(
                end < start - 0.05 * start.abs().max(0.1),
                "{}: losses {:?}",
                objective.name(),
                first.losses
            );
            assert_eq!(first.losses, run().losses, "{}", objective.name());
            let e = embed(&first.model, 1, &b, &device).unwrap();
            assert_eq!((e.rows(), e.cols()), (240, 4));
        }
    }

    #[test]
    fn bad_data_and_options_are_named() {
        let (a, b) = toy(40);
        let device = Default::default();
        let config = TwoTowersConfig::new(vec![4, 3]).with_d_output(8);
        let go = |objective, data: [&[f32]; 2], batch_size| {
            let options = FitOptions {
                batch_size,
                ..FitOptions::default()
            };
            fit::<Autodiff<Flex>>(&config, objective, data, &options, &device, |_| {})
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            go(Objective::DeepCca { regulariser: 1e-3 }, [&a, &b], 8),
            "coordinated training: batch_size 8 with 40 pairs: dcca needs batches of at least 9 pairs (embedding width 8)"
        );
        assert_eq!(
            go(Objective::InfoNce, [&a, &b[..117]], 20),
            "coordinated training: modality 1 holds 117 values, expected 40 rows of 3 (rows from modality 0)"
        );
        let mut bad = b.clone();
        bad[5] = f32::INFINITY;
        assert_eq!(
            go(Objective::Cosine, [&a, &bad], 20),
            "coordinated training: modality 1, row 1, holds inf"
        );
    }
}
