//! `mosaic`: trains, evaluates and compares the lecture's multimodal sentiment models.
//!
//! ```text
//! mosaic reproduce [--dataset trimodal] [--backend flex] [--output results]
//! mosaic train --dataset trimodal|DIR --fusion tfn --modalities text,audio,video [--backend flex] …
//! mosaic eval --checkpoint DIR [--dataset NAME|DIR] [--backend flex]
//! ```

use burn::tensor::backend::AutodiffBackend;
use checkpoint::{RunConfig, RunMetrics};
use mosaic::backend::{Autodiff, BackendKind};
use mosaic::FusionBackend;
use mosaic_cli::args::Options;
use mosaic_cli::metrics::Metrics;
use mosaic_cli::model::{FusionKind, ModelConfig};
use mosaic_cli::progress::Progress;
use mosaic_cli::{checkpoint, reproduce, train};
use mosaic_data::{Dataset, Modality, SplitName};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use train::TrainOptions;

const USAGE: &str = "\
mosaic: multimodal sentiment models (TFN/LMF reference architecture) on burn

usage:
  mosaic reproduce [--dataset trimodal|DIR] [--backend B] [--output results] [--fusions concat,mlp,tfn,lmf]
                   [--resume] [--force] [training options]
      trains each modality alone, each pair and all three with each fusion, prints the table
      and writes DIR/reproduce.{md,csv,svg}; each finished model's row is added to
      reproduce.csv at once, and --resume skips the rows an interrupted run left there
  mosaic train --fusion concat|sum|product|mlp|bilinear|tfn|lmf [--modalities text,audio,video]
               [--dataset trimodal|DIR] [--backend B] [--output runs/NAME] [--force] [training options]
               [model options]
      trains one model; writes the checkpoint folder (model.mpk, config.json, metrics.json)

  mosaic eval --checkpoint DIR [--dataset NAME|DIR] [--backend B] [--split test|valid|train]
      the metrics of a checkpoint on a dataset (default: the one it was trained on)

  --dataset     `trimodal` (bundled, generated) or a folder with CMU-MOSI's .csd files (docs/datasets.md)
  --backend     flex (default), ndarray, wgpu, cuda
  --output      checked before training: mosaic replaces only a checkpoint folder (or its own
                reproduce files) it wrote; --force writes into another folder, replacing only
                mosaic's own files there
training options: --epochs 60 --patience 10 --batch-size 32 --lr 0.003 --seed 7
model options:    --rank 4 --fusion-out 16 --text-hidden 16 --text-out 8 --audio-hidden 8
                  --video-hidden 8 --dropout 0.1
metrics (test split): Acc-2 and weighted F1 on non-zero labels, Acc-7, MAE, Pearson correlation";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mosaic: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    let (name, mut options): (&'static str, Options) = match command.as_str() {
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            return Ok(());
        }
        "train" => ("train", Options::parse("train", rest, &["force"])?),
        "eval" => ("eval", Options::parse("eval", rest, &[])?),
        "reproduce" => (
            "reproduce",
            Options::parse("reproduce", rest, &["force", "resume"])?,
        ),
        other => {
            return Err(format!(
                "unknown command `{other}` (expected train, eval, reproduce or help)"
            ))
        }
    };
    let backend: BackendKind = options.parsed(
        "backend",
        BackendKind::Flex,
        "a backend (flex, ndarray, wgpu, cuda)",
    )?;
    backend.require_compiled().map_err(|e| e.to_string())?;
    match backend {
        #[cfg(feature = "flex")]
        BackendKind::Flex => dispatch::<Autodiff<mosaic::backend::Flex>>(name, options, backend),
        #[cfg(feature = "ndarray")]
        BackendKind::NdArray => dispatch::<Autodiff<mosaic::backend::NdArray>>(name, options, backend),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => dispatch::<Autodiff<mosaic::backend::Wgpu>>(name, options, backend),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => dispatch::<Autodiff<mosaic::backend::Cuda>>(name, options, backend),
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "the {other} backend is not compiled into this binary: build it with `cargo build -p mosaic-cli --features {other}`"
        )),
    }
}

fn dispatch<B>(command: &str, options: Options, backend: BackendKind) -> Result<(), String>
where
    B: AutodiffBackend + FusionBackend,
    B::InnerBackend: FusionBackend,
{
    let device = B::Device::default();
    match command {
        "train" => train_command::<B>(options, backend, &device),
        "eval" => eval_command::<B::InnerBackend>(options, &device),
        _ => reproduce_command::<B>(options, backend, &device),
    }
}

/// `--dataset`, by default the bundled one.
fn dataset_name(options: &mut Options) -> String {
    options
        .text("dataset")
        .unwrap_or_else(|| mosaic_data::BUNDLED.into())
}

fn load_dataset(name: &str) -> Result<Dataset, String> {
    let (data, report) = mosaic_data::load(name).map_err(|e| e.to_string())?;
    for line in report.lines() {
        eprintln!("mosaic: {line}");
    }
    data.validate().map_err(|e| e.to_string())?;
    Ok(data)
}

fn train_options(options: &mut Options) -> Result<TrainOptions, String> {
    let d = TrainOptions::default();
    let whole = "a whole number";
    let train = TrainOptions {
        epochs: options.parsed("epochs", d.epochs, whole)?,
        patience: options.parsed("patience", d.patience, whole)?,
        batch_size: options.parsed("batch-size", d.batch_size, whole)?,
        lr: options.parsed("lr", d.lr, "a number")?,
        seed: options.parsed("seed", d.seed, whole)?,
    };
    train.check()?;
    Ok(train)
}

/// The model configuration for `data`, `modalities` and `fusion`, with the model options.
fn model_config(
    options: &mut Options,
    data: &Dataset,
    modalities: &[Modality],
    fusion: FusionKind,
) -> Result<ModelConfig, String> {
    let d = ModelConfig::new(vec![], fusion, 0, 0, 0, 0);
    let whole = "a whole number";
    let config = ModelConfig {
        modalities: modalities.iter().map(|m| m.name().to_string()).collect(),
        fusion,
        text_len: data.text_len,
        text_width: data.text_width,
        audio_width: data.audio_width,
        video_width: data.video_width,
        text_hidden: options.parsed("text-hidden", d.text_hidden, whole)?,
        text_out: options.parsed("text-out", d.text_out, whole)?,
        audio_hidden: options.parsed("audio-hidden", d.audio_hidden, whole)?,
        video_hidden: options.parsed("video-hidden", d.video_hidden, whole)?,
        fusion_out: options.parsed("fusion-out", d.fusion_out, whole)?,
        rank: options.parsed("rank", d.rank, whole)?,
        dropout: options.parsed("dropout", d.dropout, "a number")?,
    };
    config.check()?;
    Ok(config)
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

fn train_command<B>(mut options: Options, backend: BackendKind, device: &B::Device) -> Result<(), String>
where
    B: AutodiffBackend + FusionBackend,
    B::InnerBackend: FusionBackend,
{
    let dataset = dataset_name(&mut options);
    let fusion: FusionKind = options
        .text("fusion")
        .ok_or("train: --fusion is required (concat, sum, product, mlp, bilinear, tfn or lmf)")?
        .parse()?;
    let modalities = Modality::parse_list(
        &options
            .text("modalities")
            .unwrap_or_else(|| "text,audio,video".into()),
    )
    .map_err(|e| format!("train: --modalities: {e}"))?;
    let output = options.text("output").map(PathBuf::from);
    let force = options.flag("force")?;
    let train = train_options(&mut options)?;
    let data = load_dataset(&dataset)?;
    let config = model_config(&mut options, &data, &modalities, fusion)?;
    options.finish()?;
    let set: Vec<&str> = modalities.iter().map(|m| m.name()).collect();
    let output = output.unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("{}-{fusion}-{}", dataset_slug(&dataset), set.join("-")))
    });
    // Checked (and its folder staged) before training, not after.
    let output = checkpoint::Output::prepare(&output, force)?;
    println!(
        "training {fusion} fusion of {} on {} ({} train / {} valid / {} test segments) with {backend}",
        set.join(", "),
        data.name,
        data.train.len(),
        data.valid.len(),
        data.test.len()
    );
    let start = Instant::now();
    let fitted = train::fit::<B>(&config, &data, &train, device, &Progress::new("train", true))?;
    let seconds = start.elapsed().as_secs_f64();
    let test = train::evaluate(&fitted.model, &config, &data.test, device)?;
    let valid = train::evaluate(&fitted.model, &config, &data.valid, device)?;
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

fn dataset_slug(name: &str) -> String {
    std::path::Path::new(name)
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().to_string())
}

fn eval_command<B: FusionBackend>(mut options: Options, device: &B::Device) -> Result<(), String> {
    let dir = PathBuf::from(
        options
            .text("checkpoint")
            .ok_or("eval: --checkpoint DIR is required")?,
    );
    let dataset = options.text("dataset");
    let split = match options.text("split").as_deref() {
        None | Some("test") => SplitName::Test,
        Some("valid") => SplitName::Valid,
        Some("train") => SplitName::Train,
        Some(other) => {
            return Err(format!(
                "eval: --split: expected test, valid or train, got `{other}`"
            ))
        }
    };
    options.finish()?;
    let (config, model) = checkpoint::load::<B>(&dir, device)?;
    let data = load_dataset(dataset.as_deref().unwrap_or(&config.dataset))?;
    train::check_widths(&config.model, &data).map_err(|e| format!("checkpoint {}: {e}", dir.display()))?;
    let metrics = train::evaluate(&model, &config.model, data.split(split), device)?;
    println!(
        "{} fusion of {} on {} ({} split)",
        config.model.fusion,
        config.model.modalities.join(", "),
        data.name,
        split.name()
    );
    print_metrics(split.name(), &metrics);
    Ok(())
}

fn reproduce_command<B>(mut options: Options, backend: BackendKind, device: &B::Device) -> Result<(), String>
where
    B: AutodiffBackend + FusionBackend,
    B::InnerBackend: FusionBackend,
{
    let dataset = dataset_name(&mut options);
    let output = PathBuf::from(options.text("output").unwrap_or_else(|| "results".into()));
    let force = options.flag("force")?;
    let resume = options.flag("resume")?;
    let fusions: Vec<FusionKind> = options
        .text("fusions")
        .unwrap_or_else(|| "concat,mlp,tfn,lmf".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("reproduce: --fusions: {e}"))?;
    let train = train_options(&mut options)?;
    let data = load_dataset(&dataset)?;
    let runs = reproduce::plan(&fusions);
    // Model options apply to every run: read them once against a placeholder.
    let template = model_config(&mut options, &data, &Modality::ALL, FusionKind::Concat)?;
    options.finish()?;
    let settings = serde_json::json!({
        "dataset": dataset,
        "fusions": fusions,
        "train": train,
        "model": template,
    });
    let (results, finished) = reproduce::Results::start(&output, &settings, resume, force, data.test.len())?;
    println!(
        "reproducing on {} ({} train / {} valid / {} test segments) with {backend}: {} models",
        data.name,
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        runs.len()
    );
    let start = Instant::now();
    let mut rows = Vec::new();
    for (i, (modalities, fusion)) in runs.iter().enumerate() {
        let done = finished
            .iter()
            .find(|r| (&r.modalities, r.fusion) == (modalities, *fusion));
        if let Some(row) = done {
            println!(
                "[{}/{}] {} {}: test MAE {:.3}, from {}/reproduce.csv (--resume)",
                i + 1,
                runs.len(),
                reproduce::set_name(modalities),
                fusion,
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
        let label = format!(
            "[{}/{}] {} {}",
            i + 1,
            runs.len(),
            reproduce::set_name(modalities),
            fusion
        );
        let run_start = Instant::now();
        let fitted = train::fit::<B>(
            &config,
            &data,
            &train,
            device,
            &Progress::new(label.clone(), false),
        )?;
        let test = train::evaluate(&fitted.model, &config, &data.test, device)?;
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
        &reproduce::svg(&rows, &data.name),
    )?;
    println!(
        "wrote {0}/reproduce.md, {0}/reproduce.csv, {0}/reproduce.svg ({seconds:.0} s)",
        output.display()
    );
    Ok(())
}
