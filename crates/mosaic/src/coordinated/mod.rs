//! Coordinated representations (CMU 11-777, "Multimodal Representations"): a space per
//! modality, each with its own encoder, tied by a constraint, from weak to strong:
//!
//! - [`similarity`]: the cosine loss (pairs close, nothing else);
//! - [`ranking`]: the hinge ranking loss of VSE (every negative) and VSE++ (the hardest);
//! - [`contrastive`]: CLIP's symmetric InfoNCE loss with a learnable, clamped temperature;
//! - [`cca`]: linear CCA (maximal correlation under whitening constraints, closed form);
//! - [`deep_cca`]: deep CCA, the total canonical correlation of two networks' outputs.
//!
//! [`TwoTowers`] holds one encoder per view and [`fit`] trains it with any [`Objective`]; the
//! losses also work alone, on any embeddings (`a`, `b`: `[n, d]`, row `i` of each a pair) or
//! similarity matrices (`[n, n]`, pairs on the diagonal). The losses are written with burn's
//! tensor ops, so they run and differentiate on every backend; deep CCA computes its
//! correlation and gradient in f64 on the host.
//!
//! ```
//! use burn::tensor::Tensor;
//! use mosaic::backend::{Cpu, CpuDevice};
//! use mosaic::coordinated::{cosine_similarities, hinge_ranking_loss, info_nce_loss, Negatives};
//!
//! let device = CpuDevice::default();
//! // Three pairs of 2-D embeddings: each audio clip points where its image does.
//! let audio = Tensor::<Cpu, 2>::from_floats([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], &device);
//! let image = Tensor::<Cpu, 2>::from_floats([[2.0, 0.1], [0.1, 3.0], [1.0, 0.9]], &device);
//! let s = cosine_similarities(audio, image)?; // [3, 3], pairs on the diagonal
//! let vse = hinge_ranking_loss(s.clone(), 0.2, Negatives::Sum)?;
//! let clip = info_nce_loss(s, Tensor::from_floats([1.0 / 0.07], &device))?;
//! assert!(vse.into_scalar() < 0.2 && clip.into_scalar() < 0.5);
//!
//! // A similarity matrix that is not square is an error that says what was expected.
//! let err = hinge_ranking_loss(Tensor::<Cpu, 2>::zeros([3, 2], &device), 0.2, Negatives::Max).unwrap_err();
//! assert!(err.to_string().starts_with("hinge ranking loss: input has shape [3, 2], expected [n, n]"));
//! # Ok::<(), mosaic::MosaicError>(())
//! ```

pub mod cca;
pub mod contrastive;
pub mod deep_cca;
pub mod ranking;
pub mod similarity;
mod towers;
mod train;

pub use cca::{Cca, CcaOptions};
pub use contrastive::{info_nce_loss, Temperature, TemperatureConfig};
pub use deep_cca::{deep_cca_loss, total_correlation, DeepCcaLoss, TotalCorrelation};
pub use ranking::{hinge_ranking_loss, Negatives};
pub use similarity::{cosine_loss, cosine_similarities};
pub use towers::{Tower, TwoTowers, TwoTowersConfig};
pub use train::{embed, fit, FitOptions, Fitted, Objective, Progress};

use crate::validate::{check_input, Dim};
use crate::Result;

/// Checks two views' embeddings: view 0 `[n, d]`, not empty; view 1 `[n, d]` when `paired`
/// (row `i` of each a pair), else `[m, d]`.
fn check_views(what: &'static str, a: &[usize], b: &[usize], paired: bool) -> Result<()> {
    check_input(
        what,
        Some(0),
        a,
        &[Dim::NonEmpty("n", "the batch"), Dim::NonEmpty("d", "the width")],
        " ([n, d])",
    )?;
    let (first, note) = if paired {
        (Dim::Is(a[0]), " ([n, d], as modality 0: row i of each is a pair)")
    } else {
        (Dim::NonEmpty("m", "the batch"), " ([m, d], d as modality 0)")
    };
    check_input(what, Some(1), b, &[first, Dim::Is(a[1])], note)
}
