//! Checkpoints: a folder with `model.mpk` (burn's named MessagePack record, full precision),
//! `config.json` (the model and training configuration, the dataset) and `metrics.json`.
//!
//! A checkpoint is written into a hidden sibling folder and renamed into place only when
//! every file is complete, so a failed or interrupted run leaves nothing half-written.

use crate::metrics::Metrics;
use crate::model::{ModelConfig, SentimentModel};
use crate::train::TrainOptions;
use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use mosaic::FusionBackend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// The model.
    pub model: ModelConfig,
    /// The optimisation.
    pub train: TrainOptions,
    /// The dataset it was trained on (`trimodal` or a folder).
    pub dataset: String,
}

/// `metrics.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMetrics {
    /// On the test split, with the best validation epoch's weights.
    pub test: Metrics,
    /// On the validation split.
    pub valid: Metrics,
    /// Best validation epoch (1-based).
    pub best_epoch: usize,
    /// Epochs run before stopping.
    pub epochs_run: usize,
    /// Training time.
    pub seconds: f64,
}

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::new()
}

/// Shapes of every float parameter, in visiting order.
struct Shapes(Vec<Vec<usize>>);

impl<B: Backend> ModuleVisitor<B> for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.val().dims().to_vec());
    }
}

fn shapes<B: Backend>(model: &SentimentModel<B>) -> Vec<Vec<usize>> {
    let mut shapes = Shapes(Vec::new());
    model.visit(&mut shapes);
    shapes.0
}

/// Writes a checkpoint to `dir` (replacing one that is there).
///
/// # Errors
/// The file that could not be written, with the system's message.
pub fn save<B: Backend>(
    dir: &Path,
    model: SentimentModel<B>,
    config: &RunConfig,
    metrics: &RunMetrics,
) -> Result<(), String> {
    let name = dir
        .file_name()
        .ok_or_else(|| format!("{}: not a folder name", dir.display()))?
        .to_string_lossy()
        .to_string();
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let partial = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let write = || -> Result<(), String> {
        std::fs::create_dir(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        let json = |file: &str, value: String| {
            let path = partial.join(file);
            std::fs::write(&path, value).map_err(|e| format!("{}: {e}", path.display()))
        };
        json(
            "config.json",
            serde_json::to_string_pretty(config).expect("a config serialises"),
        )?;
        json(
            "metrics.json",
            serde_json::to_string_pretty(metrics).expect("metrics serialise"),
        )?;
        model
            .save_file(partial.join("model"), &recorder())
            .map_err(|e| format!("{}: {e}", partial.join("model.mpk").display()))
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    replace(&partial, dir)
}

/// Moves the finished `partial` folder to `dir`, removing what `dir` held.
fn replace(partial: &Path, dir: &Path) -> Result<(), String> {
    let old: Option<PathBuf> = dir.exists().then(|| partial.with_extension("old"));
    if let Some(old) = &old {
        std::fs::rename(dir, old).map_err(|e| format!("{}: cannot replace it: {e}", dir.display()))?;
    }
    std::fs::rename(partial, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}

/// Reads `config.json` of the checkpoint in `dir`.
///
/// # Errors
/// A missing or unreadable file, or JSON that is not a mosaic run configuration.
pub fn read_config(dir: &Path) -> Result<RunConfig, String> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (a checkpoint is the folder `mosaic train` writes, with config.json and model.mpk)",
            path.display()
        )
    })?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a mosaic run configuration: {e}", path.display()))
}

/// Loads the checkpoint in `dir`: its configuration and its model.
///
/// # Errors
/// [`read_config`]'s errors; a missing or unreadable `model.mpk`; weights whose structure or
/// shapes differ from the model `config.json` describes (a checkpoint from another config).
pub fn load<B: FusionBackend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(RunConfig, SentimentModel<B>), String> {
    let config = read_config(dir)?;
    let fresh = config.model.init::<B>(device)?;
    let expected = shapes(&fresh);
    let path = dir.join("model.mpk");
    let mismatch = |detail: String| {
        format!(
            "{}: the weights do not belong to the model of {} ({detail}); was this checkpoint written with another config?",
            path.display(),
            dir.join("config.json").display()
        )
    };
    // burn panics on some record mismatches (e.g. another fusion layer); report them too.
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fresh.load_file(dir.join("model"), &recorder(), device)
    }));
    let model = match loaded {
        Ok(Ok(model)) => model,
        Ok(Err(e)) if !path.exists() => return Err(format!("{}: {e}", path.display())),
        Ok(Err(e)) => return Err(mismatch(e.to_string())),
        Err(_) => return Err(mismatch("its record has another structure".into())),
    };
    let actual = shapes(&model);
    if let Some(i) = (0..expected.len().max(actual.len())).find(|&i| actual.get(i) != expected.get(i)) {
        return Err(mismatch(format!(
            "parameter {i} has shape {:?}, the config gives {:?}",
            actual.get(i),
            expected.get(i)
        )));
    }
    Ok((config, model))
}
