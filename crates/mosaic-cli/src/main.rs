//! `mosaic`: trains, evaluates and compares the lecture's multimodal sentiment models.
//!
//! ```text
//! mosaic reproduce [--experiment sentiment|av-autoencoder|coordinated|graph] [--dataset trimodal] [--backend flex] [--output results]
//! mosaic train --fusion tfn [--dataset trimodal|DIR] [--modalities text,audio,video] …
//! mosaic eval --checkpoint DIR [--dataset NAME|DIR] [--split test]
//! mosaic completions bash|zsh|fish
//! ```
//!
//! Every option, its default and its meaning: `mosaic help COMMAND`.

use clap::{Args, CommandFactory, Parser, Subcommand};
use mosaic::backend::{BackendKind, OnBackend};
use mosaic::data::{Dataset, Modality, SplitName};
use mosaic::models::{FusionKind, ModelConfig};
use mosaic::train::{self, Metrics, TrainOptions};
use mosaic::AutodiffFusionBackend;
use mosaic_cli::checkpoint::{self, RunConfig, RunMetrics};
use mosaic_cli::error::{Error, Result};
use mosaic_cli::progress::Progress;
use mosaic_cli::{av_autoencoder, coordinated, graph, reproduce};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Multimodal sentiment models (the TFN / LMF reference architecture) on burn.
#[derive(Parser)]
#[command(
    name = "mosaic",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs an experiment and writes its report in OUTPUT. sentiment (the default): trains
    /// each modality alone, each pair and all three with each fusion, prints the table and
    /// writes OUTPUT/reproduce.{md,csv,svg}; each finished model's row is added to
    /// reproduce.csv at once, and --resume skips the rows an interrupted run left there.
    /// av-autoencoder: trains six autoencoders on AV-digits without labels and reads their
    /// codes with probes, retrieval and CKA (OUTPUT/av-autoencoder.{md,csv,svg}).
    /// coordinated: cosine, ranking, contrastive, CCA and deep CCA spaces on AV-digits
    /// against the joint autoencoder (OUTPUT/coordinated.{md,csv,svg}). graph: GCN, GraphSAGE
    /// (full batch, sampled, unsupervised + probe) and an MLP on Cora and CiteSeer over 10
    /// seeds, and the karate club's embeddings (OUTPUT/graph.{md,csv,svg}).
    Reproduce(ReproduceArgs),
    /// Trains one model and writes its checkpoint folder (model.mpk, config.json,
    /// metrics.json).
    Train(TrainArgs),
    /// Prints the metrics of a checkpoint on a dataset (by default the one it was trained on).
    Eval(EvalArgs),
    /// Prints a completion script for a shell (e.g. `mosaic completions bash >
    /// ~/.local/share/bash-completion/completions/mosaic`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Where the data comes from and what runs it.
#[derive(Args)]
struct Source {
    /// `trimodal` (bundled, generated) or a folder with CMU-MOSI's .csd files (docs/datasets.md).
    #[arg(long, default_value = mosaic::data::BUNDLED)]
    dataset: String,
    /// The backend: flex, ndarray, wgpu or cuda (those compiled into this build).
    #[arg(long, default_value = "flex")]
    backend: BackendKind,
}

/// Training options (sentiment: Adam on the L1 loss, early stopping on the validation MAE;
/// av-autoencoder: Adam on the reconstruction error).
#[derive(Args)]
struct Training {
    /// Most epochs [default: 60] (reproduce --experiment av-autoencoder, coordinated: 40; graph: 200).
    #[arg(long)]
    epochs: Option<usize>,
    /// Epochs without a better validation MAE before stopping.
    #[arg(long, default_value_t = TrainOptions::default().patience)]
    patience: usize,
    /// Examples per batch [default: 32] (reproduce --experiment av-autoencoder: 64, coordinated: 200, its autoencoders 64; graph: 64 training nodes per batch of the sampled GraphSAGE).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam's learning rate [default: 0.003] (reproduce --experiment av-autoencoder, coordinated: 0.002; graph: 0.01).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Seed of the initial weights and the batch order (and of AV-digits' pairing and noise).
    #[arg(long, default_value_t = TrainOptions::default().seed)]
    seed: u64,
}

/// The default model sizes (those of [`ModelConfig`]).
fn model_defaults() -> ModelConfig {
    ModelConfig::new(Vec::new(), FusionKind::Concat, 1, 1, 1, 1)
}

/// Model options (sizes of the sub-networks and the fusion layer).
#[derive(Args)]
struct Model {
    /// Rank of low-rank fusion.
    #[arg(long, default_value_t = model_defaults().rank)]
    rank: usize,
    /// Output width of the fusion layer (all but concat).
    #[arg(long, default_value_t = model_defaults().fusion_out)]
    fusion_out: usize,
    /// LSTM hidden width of the text sub-network.
    #[arg(long, default_value_t = model_defaults().text_hidden)]
    text_hidden: usize,
    /// Output width of the text sub-network.
    #[arg(long, default_value_t = model_defaults().text_out)]
    text_out: usize,
    /// Hidden (and output) width of the audio MLP.
    #[arg(long, default_value_t = model_defaults().audio_hidden)]
    audio_hidden: usize,
    /// Hidden (and output) width of the video MLP.
    #[arg(long, default_value_t = model_defaults().video_hidden)]
    video_hidden: usize,
    /// Dropout in the sub-networks and the MLP fusion.
    #[arg(long, default_value_t = model_defaults().dropout, allow_negative_numbers = true)]
    dropout: f64,
}

/// The experiments `mosaic reproduce` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Experiment {
    /// Unimodal, bimodal and trimodal sentiment models with each fusion (reproduce.{md,csv,svg}).
    Sentiment,
    /// Joint audio-visual representations learned without labels on AV-digits
    /// (av-autoencoder.{md,csv,svg}, av-autoencoder-generation.svg).
    AvAutoencoder,
    /// Coordinated representations, weak to strong, against the joint one on AV-digits
    /// (coordinated.{md,csv,svg}).
    Coordinated,
    /// Node classification by neighbourhood aggregation on Cora and CiteSeer, and the karate
    /// club (graph.{md,csv,svg}).
    Graph,
}

#[derive(Args)]
struct ReproduceArgs {
    /// The experiment.
    #[arg(long, value_enum, default_value = "sentiment")]
    experiment: Experiment,
    #[command(flatten)]
    source: Source,
    /// av-autoencoder, coordinated: at most this many pairs per split, for a quick run.
    #[arg(long)]
    limit: Option<usize>,
    /// graph: seeds per model and graph [default: 10], from --seed.
    #[arg(long)]
    seeds: Option<usize>,
    /// The results folder. mosaic replaces only the reproduce files it wrote there.
    #[arg(long, default_value = "results")]
    output: PathBuf,
    /// The fusions compared, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "concat,mlp,tfn,lmf")]
    fusions: Vec<FusionKind>,
    /// Keep the rows an interrupted run with the same settings left in reproduce.csv.
    #[arg(long)]
    resume: bool,
    /// Replace reproduce files in OUTPUT that mosaic did not write.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    training: Training,
    #[command(flatten)]
    model: Model,
}

#[derive(Args)]
struct TrainArgs {
    /// The fusion layer.
    #[arg(long)]
    fusion: FusionKind,
    /// The modalities, comma-separated.
    #[arg(long, default_value = "text,audio,video")]
    modalities: String,
    #[command(flatten)]
    source: Source,
    /// The checkpoint folder [default: runs/DATASET-FUSION-MODALITIES]. It must be missing,
    /// empty or a mosaic checkpoint, which is then replaced.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Write into an OUTPUT that is not a mosaic checkpoint, replacing only mosaic's files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    training: Training,
    #[command(flatten)]
    model: Model,
}

#[derive(Args)]
struct EvalArgs {
    /// The checkpoint folder `mosaic train` wrote.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The dataset [default: the one the checkpoint was trained on].
    #[arg(long)]
    dataset: Option<String>,
    /// The split: test, valid or train.
    #[arg(long, default_value = "test")]
    split: SplitName,
    /// The backend: flex, ndarray, wgpu or cuda (those compiled into this build).
    #[arg(long, default_value = "flex")]
    backend: BackendKind,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A panic (burn's, for one) is reported once, as an error with where it happened, not
    // as a backtrace notice followed by the message.
    let location = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = location.clone();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut seen) = seen.lock() {
            *seen = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        }
        if std::env::var_os("RUST_BACKTRACE").is_some() {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
    }));
    let outcome = std::panic::catch_unwind(|| run(cli)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(std::string::ToString::to_string))
            .unwrap_or_else(|| "unknown cause".into());
        let at = location.lock().ok().and_then(|l| l.clone()).unwrap_or_default();
        Err(Error::Mosaic(mosaic::MosaicError::invalid(
            "internal error",
            format!("{message} (at {at}; RUST_BACKTRACE=1 prints the backtrace)"),
        )))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mosaic: {}", error.chain());
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Reproduce(args) => {
            let backend = args.source.backend;
            backend.run(args)?
        }
        Command::Train(args) => {
            let backend = args.source.backend;
            backend.run(args)?
        }
        Command::Eval(args) => {
            let backend = args.backend;
            backend.run(args)?
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "mosaic", &mut std::io::stdout());
            Ok(())
        }
    }
}

fn load_dataset(name: &str) -> Result<Dataset> {
    let (data, report) = mosaic::data::load(name)?;
    for line in report.lines() {
        eprintln!("mosaic: {line}");
    }
    data.validate()?;
    Ok(data)
}

impl Training {
    fn options(&self) -> Result<TrainOptions> {
        let defaults = TrainOptions::default();
        let options = TrainOptions {
            epochs: self.epochs.unwrap_or(defaults.epochs),
            patience: self.patience,
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            lr: self.lr.unwrap_or(defaults.lr),
            seed: self.seed,
        };
        options.check()?;
        Ok(options)
    }
}

impl Model {
    /// The model configuration for `data`, `modalities` and `fusion`, with these sizes.
    fn config(&self, data: &Dataset, modalities: &[Modality], fusion: FusionKind) -> Result<ModelConfig> {
        let config = ModelConfig {
            text_hidden: self.text_hidden,
            text_out: self.text_out,
            audio_hidden: self.audio_hidden,
            video_hidden: self.video_hidden,
            fusion_out: self.fusion_out,
            rank: self.rank,
            dropout: self.dropout,
            ..ModelConfig::for_dataset(data, modalities, fusion)
        };
        config.check()?;
        Ok(config)
    }
}

fn print_metrics(label: &str, m: &Metrics) {
    println!(
        "{label}: Acc-2 {:.1}  F1 {:.1}  Acc-7 {:.1}  MAE {:.3}  Corr {:.3}  ({} segments)",
        100.0 * m.acc2,
        100.0 * m.f1,
        100.0 * m.acc7,
        m.mae,
        m.corr,
        m.count
    );
}

fn dataset_slug(name: &str) -> String {
    std::path::Path::new(name)
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().to_string())
}

impl OnBackend for TrainArgs {
    type Output = Result<()>;

    fn run<B: AutodiffFusionBackend>(self, device: B::Device) -> Result<()> {
        let modalities = Modality::parse_list(&self.modalities)?;
        let train = self.training.options()?;
        let dataset = self.source.dataset;
        let data = load_dataset(&dataset)?;
        let fusion = self.fusion;
        let config = self.model.config(&data, &modalities, fusion)?;
        let set: Vec<&str> = modalities.iter().map(|m| m.name()).collect();
        let output = self.output.unwrap_or_else(|| {
            PathBuf::from("runs").join(format!("{}-{fusion}-{}", dataset_slug(&dataset), set.join("-")))
        });
        // Checked (and its folder staged) before training, not after.
        let output = checkpoint::Output::prepare(&output, self.force)?;
        println!(
            "training {fusion} fusion of {} on {} ({} train / {} valid / {} test segments) with {}",
            set.join(", "),
            data.name,
            data.train.len(),
            data.valid.len(),
            data.test.len(),
            self.source.backend
        );
        let start = Instant::now();
        let mut progress = Progress::new("train", true);
        let fitted = train::fit::<B>(&config, &data, &train, &device, |p| progress.update(p));
        progress.finish();
        let fitted = fitted?;
        let seconds = start.elapsed().as_secs_f64();
        let test = train::evaluate(&fitted.model, &config, &data.test, &device)?;
        let valid = train::evaluate(&fitted.model, &config, &data.valid, &device)?;
        println!(
            "best validation epoch {} of {} ({seconds:.1} s)",
            fitted.best_epoch, fitted.epochs_run
        );
        print_metrics("test", &test);
        if let Some(best) = data.oracle_mae(SplitName::Test, &modalities) {
            println!("best achievable test MAE with these modalities: {best:.3}");
        }
        let metrics = RunMetrics {
            test,
            valid,
            best_epoch: fitted.best_epoch,
            epochs_run: fitted.epochs_run,
            seconds,
        };
        let dir = output.dir().to_path_buf();
        output.commit(
            fitted.model,
            &RunConfig {
                model: config,
                train,
                dataset,
            },
            &metrics,
        )?;
        println!("checkpoint: {}", dir.display());
        Ok(())
    }
}

impl OnBackend for EvalArgs {
    type Output = Result<()>;

    fn run<B: AutodiffFusionBackend>(self, device: B::Device) -> Result<()> {
        let (config, model) = checkpoint::load::<B::InnerBackend>(&self.checkpoint, &device)?;
        let data = load_dataset(self.dataset.as_deref().unwrap_or(&config.dataset))?;
        train::check_widths(&config.model, &data)
            .map_err(|e| Error::file(&self.checkpoint, e.to_string()))?;
        let metrics = train::evaluate(&model, &config.model, data.split(self.split), &device)?;
        println!(
            "{} fusion of {} on {} ({} split)",
            config.model.fusion,
            config.model.modalities.join(", "),
            data.name,
            self.split.name()
        );
        print_metrics(self.split.name(), &metrics);
        Ok(())
    }
}

/// The body of `reproduce` for an AV-digits experiment module (`av_autoencoder`,
/// `coordinated`: each has `Settings`, `NAME`, `FILES`, `check_output`, `run`, `markdown`
/// and `write`): the options applied to its settings, the output folder checked before
/// training, the report printed and written.
macro_rules! av_digits_experiment {
    ($module:ident, $args:expr, $backend:ty, $device:expr) => {{
        let args = $args;
        args.check_av_digits()?;
        let defaults = $module::Settings::default();
        let t = &args.training;
        let settings = $module::Settings {
            seed: t.seed,
            epochs: t.epochs.unwrap_or(defaults.epochs),
            batch_size: t.batch_size.unwrap_or(defaults.batch_size),
            lr: t.lr.unwrap_or(defaults.lr),
            limit: args.limit,
            ..defaults
        };
        $module::check_output(&args.output, args.force)?;
        println!("reproducing {} with {}", $module::NAME, args.source.backend);
        let report = $module::run::<$backend>(&settings, $device, |line| println!("{line}"))?;
        println!("\n{}", $module::markdown(&report));
        $module::write(&args.output, &report)?;
        println!(
            "wrote {} in {} ({:.0} s)",
            $module::FILES.join(", "),
            args.output.display(),
            report.seconds
        );
        Ok(())
    }};
}

impl ReproduceArgs {
    /// Refuses the options only `--experiment sentiment` takes.
    fn check_av_digits(&self) -> Result<()> {
        if self.source.dataset != mosaic::data::BUNDLED || self.resume {
            return Err(Error::Mosaic(mosaic::MosaicError::invalid(
                "reproduce",
                "--dataset and --resume apply to --experiment sentiment only (av-autoencoder, coordinated and graph read the data mosaic ships with, in one run of minutes)",
            )));
        }
        Ok(())
    }

    /// `--experiment coordinated`: trains the coordinated and joint models and writes the report.
    fn coordinated<B: AutodiffFusionBackend>(self, device: &B::Device) -> Result<()> {
        av_digits_experiment!(coordinated, self, B, device)
    }

    /// `--experiment graph`: trains the node classifiers and writes the report.
    fn graph<B: AutodiffFusionBackend>(self, device: &B::Device) -> Result<()> {
        self.check_av_digits()?;
        if self.limit.is_some() {
            return Err(Error::Mosaic(mosaic::MosaicError::invalid(
                "reproduce",
                "--limit does not apply to --experiment graph (it trains on whole graphs)",
            )));
        }
        let defaults = graph::Settings::default();
        let t = &self.training;
        let settings = graph::Settings {
            seed: t.seed,
            seeds: self.seeds.unwrap_or(defaults.seeds),
            epochs: t.epochs.unwrap_or(defaults.epochs),
            lr: t.lr.unwrap_or(defaults.lr),
            batch_size: t.batch_size.unwrap_or(defaults.batch_size),
            ..defaults
        };
        graph::check_output(&self.output, self.force)?;
        println!("reproducing {} with {}", graph::NAME, self.source.backend);
        let report = graph::run::<B>(&settings, device, |line| println!("{line}"))?;
        println!("\n{}", graph::markdown(&report));
        graph::write(&self.output, &report)?;
        println!(
            "wrote {} in {} ({:.0} s)",
            graph::FILES.join(", "),
            self.output.display(),
            report.seconds
        );
        Ok(())
    }

    /// `--experiment av-autoencoder`: trains the six autoencoders and writes the report.
    fn av_autoencoder<B: AutodiffFusionBackend>(self, device: &B::Device) -> Result<()> {
        av_digits_experiment!(av_autoencoder, self, B, device)
    }
}

impl OnBackend for ReproduceArgs {
    type Output = Result<()>;

    fn run<B: AutodiffFusionBackend>(self, device: B::Device) -> Result<()> {
        if self.seeds.is_some() && self.experiment != Experiment::Graph {
            return Err(Error::Mosaic(mosaic::MosaicError::invalid(
                "reproduce",
                "--seeds applies to --experiment graph only",
            )));
        }
        match self.experiment {
            Experiment::AvAutoencoder => return self.av_autoencoder::<B>(&device),
            Experiment::Coordinated => return self.coordinated::<B>(&device),
            Experiment::Graph => return self.graph::<B>(&device),
            Experiment::Sentiment => {}
        }
        if self.limit.is_some() {
            return Err(Error::Mosaic(mosaic::MosaicError::invalid(
                "reproduce",
                "--limit applies to --experiment av-autoencoder and coordinated only",
            )));
        }
        let train = self.training.options()?;
        let dataset = self.source.dataset;
        let data = load_dataset(&dataset)?;
        let runs = reproduce::plan(&self.fusions);
        // Model options apply to every run.
        let template = self.model.config(&data, &Modality::ALL, FusionKind::Concat)?;
        let settings = serde_json::json!({
            "dataset": dataset,
            "fusions": self.fusions,
            "train": train,
            "model": template,
        });
        let output = self.output;
        let (results, finished) =
            reproduce::Results::start(&output, &settings, self.resume, self.force, data.test.len())?;
        println!(
            "reproducing on {} ({} train / {} valid / {} test segments) with {}: {} models",
            data.name,
            data.train.len(),
            data.valid.len(),
            data.test.len(),
            self.source.backend,
            runs.len()
        );
        let start = Instant::now();
        let mut rows = Vec::new();
        for (i, (modalities, fusion)) in runs.iter().enumerate() {
            let label = format!(
                "[{}/{}] {} {}",
                i + 1,
                runs.len(),
                reproduce::set_name(modalities),
                fusion
            );
            let done = finished
                .iter()
                .find(|r| (&r.modalities, r.fusion) == (modalities, *fusion));
            if let Some(row) = done {
                println!(
                    "{label}: test MAE {:.3}, from {}/reproduce.csv (--resume)",
                    row.test.mae,
                    output.display()
                );
                rows.push(row.clone());
                continue;
            }
            let config = ModelConfig {
                modalities: modalities.iter().map(|m| m.name().to_string()).collect(),
                fusion: *fusion,
                ..template.clone()
            };
            let run_start = Instant::now();
            let mut progress = Progress::new(label.clone(), false);
            let fitted = train::fit::<B>(&config, &data, &train, &device, |p| progress.update(p));
            progress.finish();
            let fitted = fitted?;
            let test = train::evaluate(&fitted.model, &config, &data.test, &device)?;
            let row = reproduce::Row {
                modalities: modalities.clone(),
                fusion: *fusion,
                test,
                oracle_mae: data.oracle_mae(SplitName::Test, modalities),
                best_epoch: fitted.best_epoch,
                seconds: run_start.elapsed().as_secs_f64(),
            };
            println!(
                "{label}: test MAE {:.3} (best achievable {}), Acc-2 {:.1}, epoch {} of {}, {:.1} s",
                test.mae,
                row.oracle_mae.map_or("–".into(), |m| format!("{m:.3}")),
                100.0 * test.acc2,
                fitted.best_epoch,
                fitted.epochs_run,
                row.seconds
            );
            results.append(&row)?;
            rows.push(row);
        }
        let seconds = start.elapsed().as_secs_f64();
        let markdown = reproduce::markdown(&rows, &data.name, seconds);
        println!("\n{markdown}");
        results.finish(
            &markdown,
            &reproduce::csv(&rows),
            &reproduce::svg(&rows, &data.name)?,
        )?;
        println!(
            "wrote {0}/reproduce.md, {0}/reproduce.csv, {0}/reproduce.svg ({seconds:.0} s)",
            output.display()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_default_to_the_library_defaults() {
        let cli = Cli::try_parse_from(["mosaic", "train", "--fusion", "lmf"]).unwrap();
        let Command::Train(args) = cli.command else {
            panic!("not the train command");
        };
        assert_eq!(args.training.options().unwrap(), TrainOptions::default());
        let defaults = model_defaults();
        assert_eq!(
            (args.model.rank, args.model.fusion_out, args.model.dropout),
            (defaults.rank, defaults.fusion_out, defaults.dropout)
        );
        assert_eq!(args.source.backend, BackendKind::Flex);
    }
}
