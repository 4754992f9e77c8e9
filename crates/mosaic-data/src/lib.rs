//! Datasets for mosaic's sentiment experiments (CMU 11-777, "Multimodal Representations"):
//!
//! - [`synthetic`]: the bundled trimodal benchmark, generated deterministically, whose labels
//!   have known unimodal, bimodal and trimodal parts (`docs/datasets.md`);
//! - [`mosi`]: CMU-MOSI from the CMU-MultimodalSDK's computational sequences ([`csd`]),
//!   word-aligned, with the standard [`folds`].
//!
//! Both give a [`Dataset`]: train, valid and test segments with a text sequence, an audio
//! vector, a video vector and a sentiment label in [-3, 3].
//!
//! ```
//! use mosaic_data::{load, Modality, SplitName};
//!
//! let (data, _report) = load("trimodal")?;
//! assert_eq!(data.train.len(), 2000);
//! // Without the video, the trimodal and audio-video terms cannot be predicted:
//! let text_audio = data.oracle_mae(SplitName::Test, &[Modality::Text, Modality::Audio]).unwrap();
//! let all = data.oracle_mae(SplitName::Test, &Modality::ALL).unwrap();
//! assert!(text_audio > 2.0 * all);
//! # Ok::<(), mosaic_data::DataError>(())
//! ```

pub mod audio;
pub mod avdigits;
pub mod csd;
mod dataset;
mod error;
pub mod folds;
pub mod graph;
pub mod mosi;
pub mod rng;
pub mod synthetic;

pub use dataset::{modality_set, Dataset, Modality, ModalitySet, Sample, SplitName, Term};
pub use error::{DataError, Result};

use std::path::Path;

/// Name of the bundled dataset.
pub const BUNDLED: &str = "trimodal";

/// Loads `trimodal` (the bundled dataset, [`synthetic::SyntheticConfig::default`]) or the
/// CMU-MOSI files in a folder ([`mosi::MosiFiles::in_dir`], [`mosi::MAX_WORDS`] words).
///
/// The report lists what CMU-MOSI loading left out (empty for the bundled dataset).
///
/// # Errors
/// An unknown name that is not a folder, or any loading error of [`mosi::load`].
pub fn load(name_or_dir: &str) -> Result<(Dataset, mosi::LoadReport)> {
    if name_or_dir == BUNDLED {
        let data = synthetic::generate(&synthetic::SyntheticConfig::default());
        return Ok((data, mosi::LoadReport::default()));
    }
    let dir = Path::new(name_or_dir);
    if !dir.is_dir() {
        return Err(DataError::Invalid(format!(
            "dataset `{name_or_dir}`: expected `{BUNDLED}` (the bundled dataset) or a folder holding CMU-MOSI's .csd files (docs/datasets.md)"
        )));
    }
    mosi::load(&mosi::MosiFiles::in_dir(dir), mosi::MAX_WORDS)
}
