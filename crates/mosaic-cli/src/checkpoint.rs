//! Checkpoints: a folder with `model.mpk` (burn's named MessagePack record, full precision),
//! `config.json` (the model and training configuration, the dataset) and `metrics.json`.
//!
//! A checkpoint is written into a hidden sibling folder, each file flushed to disk, and moved
//! into place only when every file is complete ([`Output`]), so a failed or interrupted run
//! leaves the old checkpoint or the new one, never a mix, never neither. mosaic replaces a
//! folder only when it is one of its checkpoints (or empty); `--force` lets it write into
//! another folder, replacing only its own three files there.
//!
//! Reading is bounded by the files: `config.json` is at most [`MAX_CONFIG_BYTES`], its sizes
//! pass [`ModelConfig::check`], `model.mpk` is at most
//! [`MAX_MODEL_BYTES`], every tensor in it is checked against its shape ([`mpk::check`]),
//! and the model is built only if its weights fit in the file.

use crate::error::{Error, Result};
use crate::{mpk, output};
use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use mosaic::models::{ModelConfig, SentimentModel};
use mosaic::train::{Metrics, TrainOptions};
use mosaic::FusionBackend;
use serde::{Deserialize, Serialize};
use std::io::Read;
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

impl RunConfig {
    /// Checks the model's sizes ([`ModelConfig::check`]) and the training options
    /// ([`TrainOptions::check`]).
    ///
    /// # Errors
    /// The first value out of range, named.
    pub fn check(&self) -> mosaic::Result<()> {
        self.model.check()?;
        self.train.check()
    }
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

/// The files of a checkpoint folder, all written by mosaic.
pub const FILES: [&str; 3] = ["model.mpk", "config.json", "metrics.json"];
/// The largest `config.json` read (1 MiB; mosaic writes about 1 KB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// The largest `model.mpk` read (4 GiB).
pub const MAX_MODEL_BYTES: u64 = 4 << 30;

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::new()
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

/// How the checkpoint will reach its folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The folder does not exist: the staged folder is renamed to it.
    New,
    /// The folder is a mosaic checkpoint (or empty): exchanged with the staged one, whose
    /// files then replace it whole.
    Replace,
    /// `--force` on a folder with other entries: mosaic's files are renamed into it one by
    /// one; nothing else in it is touched.
    Into,
}

/// A checkpoint folder to be written, checked before training ([`Output::prepare`]): its
/// files are written into a staged sibling folder and reach their place in [`Output::commit`].
/// Dropped without a commit, the staged folder is removed.
#[derive(Debug)]
pub struct Output {
    dir: PathBuf,
    staged: PathBuf,
    mode: Mode,
}

impl Output {
    /// Checks that a checkpoint can be written to `dir` and stages its folder. `dir` may be
    /// missing, empty or a mosaic checkpoint (only [`FILES`], with a `config.json` mosaic
    /// reads); a folder with anything else is refused unless `force`, and then only
    /// mosaic's files in it are replaced.
    ///
    /// # Errors
    /// A path that is a file, a folder with other entries (without `force`), a checkpoint
    /// whose `config.json` mosaic does not read (without `force`), or a parent folder that
    /// cannot be written.
    pub fn prepare(dir: &Path, force: bool) -> Result<Self> {
        let mode = Self::mode(dir, force)?;
        let staged = output::sibling_folder(dir, "partial")
            .map_err(|e| Error::file(dir, format!("cannot write next to it: {e}")))?;
        Ok(Output {
            dir: dir.to_path_buf(),
            staged,
            mode,
        })
    }

    fn mode(dir: &Path, force: bool) -> Result<Mode> {
        let hint = "choose another --output, or add --force to replace mosaic's checkpoint files in it (nothing else in it is touched)";
        match std::fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Mode::New),
            Err(e) => return Err(Error::io(dir)(e)),
            Ok(m) if !m.is_dir() => return Err(Error::file(dir, "is a file, not a checkpoint folder")),
            Ok(_) => {}
        }
        let contents = output::contents(dir, &FILES).map_err(Error::io(dir))?;
        let own_only = contents.foreign.is_empty();
        if own_only && (contents.own.is_empty() || read_config(dir).is_ok()) {
            return Ok(Mode::Replace);
        }
        if force {
            return Ok(Mode::Into);
        }
        let what = if own_only {
            format!(
                "holds {} but no config.json that mosaic reads, so it is not recognised as a mosaic checkpoint",
                output::some_of(&contents.own)
            )
        } else {
            format!(
                "not a mosaic checkpoint folder (it holds {})",
                output::some_of(&contents.foreign)
            )
        };
        Err(Error::file(
            dir,
            format!("{what}; mosaic replaces only its own checkpoints: {hint}"),
        ))
    }

    /// Where the checkpoint goes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the checkpoint's files, each flushed to disk, into the staged folder, then
    /// moves them into place (module docs of [`output`]).
    ///
    /// # Errors
    /// A file that could not be written or moved, with the system's message; a folder that
    /// changed during training so that it is no longer what [`Output::prepare`] accepted.
    pub fn commit<B: Backend>(
        self,
        model: SentimentModel<B>,
        config: &RunConfig,
        metrics: &RunMetrics,
    ) -> Result<()> {
        let write = |file: &str, bytes: Vec<u8>| {
            let path = self.staged.join(file);
            output::write_synced(&path, &bytes).map_err(Error::io(&path))
        };
        let json = |file: &str, value: serde_json::Result<String>| {
            value
                .map(String::into_bytes)
                .map_err(|e| Error::file(self.staged.join(file), e.to_string()))
        };
        write(
            "config.json",
            json("config.json", serde_json::to_string_pretty(config))?,
        )?;
        write(
            "metrics.json",
            json("metrics.json", serde_json::to_string_pretty(metrics))?,
        )?;
        let bytes = Recorder::<B>::record(&recorder(), model.into_record(), ())
            .map_err(|e| Error::file(self.staged.join("model.mpk"), e.to_string()))?;
        write("model.mpk", bytes)?;
        output::sync_dir(&self.staged).map_err(Error::io(&self.staged))?;
        // What the folder is now (it may have changed during training); without --force it
        // must still be missing, empty or a mosaic checkpoint.
        let mode = match self.mode {
            Mode::Into => Mode::Into,
            Mode::New | Mode::Replace => Self::mode(&self.dir, false)?,
        };
        let moved = match mode {
            Mode::New => std::fs::rename(&self.staged, &self.dir),
            Mode::Replace => output::exchange(&self.staged, &self.dir),
            Mode::Into => FILES
                .iter()
                .try_for_each(|file| std::fs::rename(self.staged.join(file), self.dir.join(file))),
        };
        moved
            .and_then(|()| output::sync_dir(output::parent_of(&self.dir)))
            .and_then(|()| output::sync_dir(&self.dir))
            .map_err(Error::io(&self.dir))
        // Drop removes what is left at the staged path: nothing (New), the old checkpoint's
        // files (Replace), or an empty folder (Into).
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        output::remove_own(&self.staged, &FILES);
    }
}

/// Reads `config.json` of the checkpoint in `dir`.
///
/// # Errors
/// A missing or unreadable file, or JSON that is not a mosaic run configuration.
pub fn read_config(dir: &Path) -> Result<RunConfig> {
    let path = dir.join("config.json");
    let bytes = read_bounded(&path, MAX_CONFIG_BYTES).map_err(|e| match e {
        Error::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => Error::file(
            path,
            "not found (a checkpoint is the folder `mosaic train` writes, with config.json and model.mpk)",
        ),
        other => other,
    })?;
    let config: RunConfig = serde_json::from_slice(&bytes)
        .map_err(|e| Error::file(&path, format!("not a mosaic run configuration: {e}")))?;
    config.check().map_err(|e| Error::file(&path, e.to_string()))?;
    Ok(config)
}

/// The bytes of `path`, refused when the file is larger than `limit`.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(Error::io(path))?;
    let len = file.metadata().map_err(Error::io(path))?.len();
    if len > limit {
        return Err(Error::file(
            path,
            format!("{len} bytes, more than the {limit} bytes mosaic reads from such a file"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::io(path))?;
    Ok(bytes)
}

/// Loads the checkpoint in `dir`: its configuration and its model.
///
/// # Errors
/// [`read_config`]'s errors; a missing, unreadable or oversized `model.mpk`, or one whose
/// tensors' bytes disagree with their shapes ([`mpk::check`]); a configuration whose weights
/// could not fit in `model.mpk`; weights whose structure or shapes differ from the model
/// `config.json` describes (a checkpoint from another config).
pub fn load<B: FusionBackend>(dir: &Path, device: &B::Device) -> Result<(RunConfig, SentimentModel<B>)> {
    let config = read_config(dir)?;
    let path = dir.join("model.mpk");
    let bytes = read_bounded(&path, MAX_MODEL_BYTES)?;
    let mismatch = |detail: String| {
        Error::file(
            &path,
            format!(
                "the weights do not belong to the model of {} ({detail}); was this checkpoint written with another config?",
                dir.join("config.json").display()
            ),
        )
    };
    let checked = mpk::check(&bytes)
        .map_err(|e| Error::file(&path, format!("not a valid mosaic model record: {e}")))?;
    // The configuration's weights must fit in the file before any of them is allocated.
    let least = config.model.least_weight_elements().saturating_mul(4);
    if least > checked.tensor_bytes {
        return Err(mismatch(format!(
            "the config's weights take at least {least} bytes, the file holds {} bytes of tensors",
            checked.tensor_bytes
        )));
    }
    let fresh = config.model.init::<B>(device)?;
    let expected = shapes(&fresh);
    // burn panics on some record mismatches (e.g. another fusion layer); report them too.
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Recorder::<B>::load(&recorder(), bytes, device).map(|record| fresh.load_record(record))
    }));
    let model = match loaded {
        Ok(Ok(model)) => model,
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
