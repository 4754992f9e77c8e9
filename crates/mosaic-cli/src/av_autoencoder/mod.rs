//! `mosaic reproduce --experiment av-autoencoder`: joint representations learned without
//! labels on AV-digits (spoken digits paired with handwritten ones), in the spirit of the
//! tables of Ngiam et al., "Multimodal Deep Learning" (ICML 2011).
//!
//! Six autoencoders are trained on the training pairs, without labels: the bimodal deep
//! autoencoder and the shallow bimodal autoencoder, each with and without the zeroing
//! augmentation, and one autoencoder per modality. A linear probe
//! ([`mosaic::analysis::probe`]) trained on the training codes, its ridge strength chosen on
//! the validation codes, then reads each representation on the test pairs:
//!
//! - multimodal fusion: codes from both modalities against one modality's, and raw features;
//! - cross-modality learning: features learned with both modalities, probe trained and tested
//!   with one modality only, against that modality's own autoencoder;
//! - shared representation learning: probe trained on audio codes, tested on video codes,
//!   and the reverse (chance is 10%);
//! - noisy audio: probes trained on clean audio, tested on audio with white noise;
//! - per layer: probe accuracy, cross-modal retrieval and linear CKA between the codes
//!   audio alone and video alone give, and the share of units one modality drives.
//!
//! Everything is seeded: the same settings give the same numbers on every run.

use crate::error::{Error, Result};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use mosaic::analysis::cka::linear_cka;
use mosaic::analysis::probe::{probe, LinearProbe};
use mosaic::analysis::retrieval::{retrieve, Retrieval};
use mosaic::analysis::units::{modality_share, UnitShare};
use mosaic::analysis::Matrix;
use mosaic::autoencoder::{
    encode, fit, Autoencoder, BimodalAutoencoderConfig, FitOptions, Progress,
    ShallowBimodalAutoencoderConfig, UnimodalAutoencoderConfig, Zeroing,
};
use mosaic::data::avdigits::{AvDigits, AvDigitsConfig, AvSplit, AUDIO_WIDTH, CLASSES, VIDEO_WIDTH};
use mosaic_plot::{ImageGrid, ImageRow};
use serde::Serialize;

/// The experiment's name, and the stem of its files.
pub const NAME: &str = "av-autoencoder";

/// The files the experiment writes in its output folder; nothing else there is touched.
pub const FILES: [&str; 4] = [
    "av-autoencoder.md",
    "av-autoencoder.csv",
    "av-autoencoder.svg",
    "av-autoencoder-generation.svg",
];

const CSV_HEADER: &str = "section,representation,trained_on,tested_on,metric,value";

/// The experiment's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Seed of the pairing, the weights, the batch order, the zeroing and the noise.
    pub seed: u64,
    /// Training epochs of every autoencoder.
    pub epochs: usize,
    /// Pairs per batch.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Width of each hidden layer.
    pub hidden: usize,
    /// Width of the shared (innermost) code.
    pub shared: usize,
    /// At most this many pairs per split (every split thinned evenly), for quick runs.
    pub limit: Option<usize>,
    /// Signal-to-noise ratios of the noisy-audio rows, in dB.
    pub snrs: Vec<f64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 7,
            epochs: 40,
            batch_size: 64,
            lr: 2e-3,
            hidden: 128,
            shared: 64,
            limit: None,
            snrs: vec![30.0, 20.0, 10.0, 0.0],
        }
    }
}

/// One probe accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct AccuracyRow {
    /// The table it belongs to.
    pub section: &'static str,
    /// The representation read.
    pub representation: String,
    /// What the probe was trained on.
    pub trained_on: &'static str,
    /// What it was tested on.
    pub tested_on: String,
    /// Test accuracy.
    pub accuracy: f64,
}

/// Per layer of a model: what audio alone and video alone give there.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRow {
    /// The model.
    pub model: &'static str,
    /// The layer (`input` for the raw features).
    pub layer: &'static str,
    /// Probe accuracy on the codes audio alone gives.
    pub probe_audio: f64,
    /// Probe accuracy on the codes video alone gives.
    pub probe_video: f64,
    /// Linear CKA between the two.
    pub cka: f64,
    /// Retrieval of images by sound and of sounds by image, where both codes share a width.
    pub retrieval: Option<(Retrieval, Retrieval)>,
    /// Which modality drives the layer's units (layers that both modalities reach).
    pub units: Option<UnitShare>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The settings it ran with.
    pub settings: Settings,
    /// Pairs per split (train, valid, test).
    pub sizes: [usize; 3],
    /// Fusion, cross-modality, shared-representation, noisy-audio and ablation rows.
    pub accuracy: Vec<AccuracyRow>,
    /// Per-layer analysis.
    pub layers: Vec<LayerRow>,
    /// Each model's final training loss.
    pub losses: Vec<(&'static str, f64)>,
    /// The generation grid: real test images and the images models generate from sound.
    pub generation: ImageGrid,
    /// Seconds the run took.
    pub seconds: f64,
}

/// The models' names, as the tables give them.
const BIMODAL: &str = "bimodal AE";
const NO_ZEROING: &str = "bimodal AE (no zeroing)";
const SHALLOW: &str = "shallow bimodal AE";
const SHALLOW_NO_ZEROING: &str = "shallow bimodal AE (no zeroing)";
const AUDIO_AE: &str = "audio AE";
const VIDEO_AE: &str = "video AE";

/// Which modalities a bimodal model is given.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Given {
    Both,
    Audio,
    Video,
}

impl Given {
    fn name(self) -> &'static str {
        match self {
            Given::Both => "audio + video",
            Given::Audio => "audio",
            Given::Video => "video",
        }
    }
}

/// A representation of the three splits (train, valid, test).
type Splits = [Matrix; 3];

/// The data of the run: the dataset's three splits (train, valid, test).
struct Data<'a> {
    splits: [&'a AvSplit; 3],
}

impl Data<'_> {
    fn raw(&self, width: usize, pick: fn(&AvSplit) -> &Vec<f32>) -> Result<Splits> {
        let m = |s: &AvSplit| Matrix::from_f32(s.len(), width, pick(s)).map_err(Error::from);
        Ok([m(self.splits[0])?, m(self.splits[1])?, m(self.splits[2])?])
    }

    /// The digits of split `i`.
    fn labels(&self, i: usize) -> &[usize] {
        &self.splits[i].labels
    }
}

/// The modality inputs of `split` as `given` leaves them (a missing one is zeros).
fn inputs(split: &AvSplit, given: Given) -> [Vec<f32>; 2] {
    let zero_or = |keep: bool, values: &Vec<f32>| {
        if keep {
            values.clone()
        } else {
            vec![0.0; values.len()]
        }
    };
    [
        zero_or(given != Given::Video, &split.audio),
        zero_or(given != Given::Audio, &split.video),
    ]
}

/// Every layer's codes, per split, of a model reading `data` through `view`.
fn codes<B: Backend, M: Autoencoder<B>>(
    model: &M,
    splits: &[&AvSplit; 3],
    view: impl Fn(&AvSplit) -> Vec<Vec<f32>>,
    device: &B::Device,
) -> Result<Vec<(&'static str, Splits)>> {
    let mut per_split = Vec::with_capacity(3);
    for split in splits {
        let values = view(split);
        let slices: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
        per_split.push(encode(model, &slices, device)?);
    }
    let [train, valid, test]: [Vec<(&'static str, Matrix)>; 3] = per_split.try_into().expect("three splits");
    Ok(train
        .into_iter()
        .zip(valid)
        .zip(test)
        .map(|(((name, a), (_, b)), (_, c))| (name, [a, b, c]))
        .collect())
}

fn layer<'a>(layers: &'a [(&'static str, Splits)], name: &str) -> &'a Splits {
    &layers
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a layer of the model")
        .1
}

/// A probe trained (and its `λ` chosen) on `train_on`'s training and validation codes.
fn fit_probe(train_on: &Splits, data: &Data) -> Result<LinearProbe> {
    Ok(probe(
        (&train_on[0], data.labels(0)),
        (&train_on[1], data.labels(1)),
        CLASSES,
    )?)
}

/// The test accuracy of a probe trained on `train_on` and tested on `test_on`'s test codes.
fn accuracy(train_on: &Splits, test_on: &Splits, data: &Data) -> Result<f64> {
    Ok(fit_probe(train_on, data)?.accuracy(&test_on[2], data.labels(2))?)
}

/// What a trained bimodal model gives the report.
struct Bimodal {
    name: &'static str,
    /// Every layer's codes for each [`Given`].
    both: Vec<(&'static str, Splits)>,
    audio: Vec<(&'static str, Splits)>,
    video: Vec<(&'static str, Splits)>,
    /// The images it draws from the sound of the shown test pairs.
    generated: ImageRow,
    /// Per SNR: the shared codes of the noisy test audio, given audio only and given both.
    noisy: Vec<[Matrix; 2]>,
}

/// What [`read_bimodal`] reads a model on.
struct Context<'a, B: Backend> {
    data: &'a Data<'a>,
    dataset: &'a AvDigits,
    picks: &'a [usize],
    noisy: &'a [(f64, Vec<f32>)],
    device: &'a B::Device,
}

/// A trained bimodal model's codes, generated images and noisy-audio codes.
fn read_bimodal<B: Backend, M: Autoencoder<B>>(
    name: &'static str,
    model: &M,
    at: &Context<B>,
) -> Result<Bimodal> {
    let view = |given| move |s: &AvSplit| inputs(s, given).to_vec();
    let test = at.data.splits[2];
    let noisy = at
        .noisy
        .iter()
        .map(|(_, audio)| {
            let shared = |given| -> Result<Matrix> {
                Ok(test_codes(model, test, audio, given, at.device)?
                    .pop()
                    .expect("a shared layer")
                    .1)
            };
            Ok([shared(Given::Audio)?, shared(Given::Both)?])
        })
        .collect::<Result<_>>()?;
    Ok(Bimodal {
        name,
        both: codes(model, &at.data.splits, view(Given::Both), at.device)?,
        audio: codes(model, &at.data.splits, view(Given::Audio), at.device)?,
        video: codes(model, &at.data.splits, view(Given::Video), at.device)?,
        generated: ImageRow {
            label: format!("{name}, from sound"),
            images: generate(model, at.dataset, at.picks, at.device)?,
        },
        noisy,
    })
}

/// The test pairs shown in the generation grid: the first of each digit.
fn shown(test: &AvSplit) -> Vec<usize> {
    (0..CLASSES)
        .filter_map(|d| test.labels.iter().position(|&l| l == d))
        .collect()
}

/// The images a bimodal model generates from the sound alone of the test pairs `rows`.
fn generate<B: Backend, M: Autoencoder<B>>(
    model: &M,
    data: &AvDigits,
    rows: &[usize],
    device: &B::Device,
) -> Result<Vec<Vec<f32>>> {
    let test = &data.test;
    let audio: Vec<f32> = rows
        .iter()
        .flat_map(|&i| test.audio[i * AUDIO_WIDTH..(i + 1) * AUDIO_WIDTH].iter().copied())
        .collect();
    let tensor = |values: Vec<f32>, width: usize| {
        burn::tensor::Tensor::<B, 2>::from_data(
            burn::tensor::TensorData::new(values, [rows.len(), width]),
            device,
        )
    };
    let out = model.reconstruct(&[
        tensor(audio, AUDIO_WIDTH),
        tensor(vec![0.0; rows.len() * VIDEO_WIDTH], VIDEO_WIDTH),
    ])?;
    let video: Vec<f32> = out[1].clone().into_data().iter::<f32>().collect();
    Ok(video
        .chunks(VIDEO_WIDTH)
        .map(|image| data.pixels(image))
        .collect())
}

/// The codes of the test split with its audio replaced by `audio`, for a model and a [`Given`].
fn test_codes<B: Backend, M: Autoencoder<B>>(
    model: &M,
    test: &AvSplit,
    audio: &[f32],
    given: Given,
    device: &B::Device,
) -> Result<Vec<(&'static str, Matrix)>> {
    let noisy = AvSplit {
        audio: audio.to_vec(),
        ..test.clone()
    };
    let values = inputs(&noisy, given);
    let modalities: Vec<&[f32]> = if model.widths().len() == 1 {
        vec![&values[0]]
    } else {
        values.iter().map(Vec::as_slice).collect()
    };
    Ok(encode(model, &modalities, device)?)
}

/// Trains the experiment's autoencoders with its settings, drawing each one's progress on
/// one line and logging its losses.
struct Trainer<'a, B: AutodiffBackend> {
    settings: &'a Settings,
    device: &'a B::Device,
    losses: Vec<(&'static str, f64)>,
    log: &'a mut dyn FnMut(&str),
}

impl<B: AutodiffBackend> Trainer<'_, B> {
    fn train<M>(
        &mut self,
        name: &'static str,
        init: impl FnOnce(&B::Device) -> mosaic::Result<M>,
        data: &[&[f32]],
        zeroing: Zeroing,
    ) -> Result<M::InnerModule>
    where
        M: Autoencoder<B> + AutodiffModule<B>,
    {
        let started = std::time::Instant::now();
        let options = FitOptions {
            epochs: self.settings.epochs,
            batch_size: self.settings.batch_size,
            lr: self.settings.lr,
            seed: self.settings.seed,
            zeroing,
        };
        let fitted = fit::<B, M>(init, data, &options, self.device, |p: Progress| {
            eprint!("\r{name}: epoch {}/{}, loss {:.4}   ", p.epoch, p.epochs, p.loss);
        });
        eprint!("\r");
        let fitted = fitted?;
        let (first, last) = (
            fitted.losses[0],
            *fitted.losses.last().expect("at least one epoch"),
        );
        self.losses.push((name, last));
        (self.log)(&format!(
            "{name}: reconstruction loss {first:.4} → {last:.4} in {} epochs ({:.1} s)",
            fitted.losses.len(),
            started.elapsed().as_secs_f64()
        ));
        Ok(fitted.model)
    }
}

/// Runs the experiment on `B`, reporting each stage through `log`.
///
/// # Errors
/// Settings the models refuse, a damaged dataset, or training that diverges.
pub fn run<B: AutodiffBackend>(
    settings: &Settings,
    device: &B::Device,
    mut log: impl FnMut(&str),
) -> Result<Report> {
    let started = std::time::Instant::now();
    if settings.snrs.iter().any(|s| !s.is_finite()) || settings.limit == Some(0) {
        return Err(Error::Mosaic(mosaic::MosaicError::invalid(
            NAME,
            format!(
                "SNRs {:?} and limit {:?}: expected finite SNRs and a limit of at least 1",
                settings.snrs, settings.limit
            ),
        )));
    }
    let full = AvDigits::load(&AvDigitsConfig { seed: settings.seed })?;
    let dataset = match settings.limit {
        Some(n) => full.thin(n),
        None => full,
    };
    let noisy: Vec<(f64, Vec<f32>)> = settings
        .snrs
        .iter()
        .map(|&snr| Ok((snr, dataset.noisy_test_audio(snr, settings.seed)?)))
        .collect::<Result<_>>()?;
    let data = Data {
        splits: [&dataset.train, &dataset.valid, &dataset.test],
    };
    let sizes = [data.splits[0].len(), data.splits[1].len(), data.splits[2].len()];
    log(&format!(
        "AV-digits: {} train / {} valid / {} test pairs (audio: {AUDIO_WIDTH} log-mel values, video: {VIDEO_WIDTH} pixels); 6 autoencoders of {} epochs",
        sizes[0], sizes[1], sizes[2], settings.epochs
    ));
    let (h, s) = (settings.hidden, settings.shared);
    let train_split = data.splits[0];
    let both = [train_split.audio.as_slice(), train_split.video.as_slice()];
    let test = data.splits[2];
    let picks = shown(test);
    let mut trainer = Trainer::<B> {
        settings,
        device,
        losses: Vec::new(),
        log: &mut log,
    };
    let mut generation = vec![ImageRow {
        label: "real image".into(),
        images: picks
            .iter()
            .map(|&i| dataset.pixels(&test.video[i * VIDEO_WIDTH..(i + 1) * VIDEO_WIDTH]))
            .collect(),
    }];

    // The bimodal models; the zeroed deep one also gives the noisy-audio codes.
    let context = Context {
        data: &data,
        dataset: &dataset,
        picks: &picks,
        noisy: &noisy,
        device,
    };
    let mut bimodal = Vec::new();
    for (name, zeroing) in [(BIMODAL, Zeroing::Thirds), (NO_ZEROING, Zeroing::Off)] {
        let init = |d: &B::Device| {
            BimodalAutoencoderConfig::new(AUDIO_WIDTH, VIDEO_WIDTH)
                .with_hidden(h)
                .with_shared(s)
                .init::<B>(d)
        };
        let model = trainer.train(name, init, &both, zeroing)?;
        bimodal.push(read_bimodal(name, &model, &context)?);
    }
    for (name, zeroing) in [(SHALLOW, Zeroing::Thirds), (SHALLOW_NO_ZEROING, Zeroing::Off)] {
        let init = |d: &B::Device| {
            ShallowBimodalAutoencoderConfig::new(AUDIO_WIDTH, VIDEO_WIDTH)
                .with_shared(s)
                .init::<B>(d)
        };
        let model = trainer.train(name, init, &both, zeroing)?;
        bimodal.push(read_bimodal(name, &model, &context)?);
    }
    let noisy_bimodal = bimodal[0].noisy.clone();
    generation.extend(bimodal.iter().map(|b| b.generated.clone()));

    let unimodal = |width: usize| {
        move |d: &B::Device| {
            UnimodalAutoencoderConfig::new(width)
                .with_hidden(h)
                .with_code(s)
                .init::<B>(d)
        }
    };
    let audio_ae = trainer.train(
        AUDIO_AE,
        unimodal(AUDIO_WIDTH),
        &[&train_split.audio],
        Zeroing::Off,
    )?;
    let audio_codes = codes(&audio_ae, &data.splits, |sp| vec![sp.audio.clone()], device)?;
    let noisy_audio_ae: Vec<Matrix> = noisy
        .iter()
        .map(|(_, audio)| {
            Ok(test_codes(&audio_ae, test, audio, Given::Audio, device)?
                .pop()
                .expect("a code layer")
                .1)
        })
        .collect::<Result<_>>()?;
    let video_ae = trainer.train(
        VIDEO_AE,
        unimodal(VIDEO_WIDTH),
        &[&train_split.video],
        Zeroing::Off,
    )?;
    let video_codes = codes(&video_ae, &data.splits, |sp| vec![sp.video.clone()], device)?;
    (trainer.log)("reading the representations with linear probes, retrieval and CKA");
    let losses = trainer.losses;

    let raw_audio = data.raw(AUDIO_WIDTH, |s| &s.audio)?;
    let raw_video = data.raw(VIDEO_WIDTH, |s| &s.video)?;
    let hcat = |a: &Splits, b: &Splits| -> Result<Splits> {
        Ok([a[0].hcat(&b[0])?, a[1].hcat(&b[1])?, a[2].hcat(&b[2])?])
    };
    let raw_both = hcat(&raw_audio, &raw_video)?;
    let audio_code = layer(&audio_codes, "code");
    let video_code = layer(&video_codes, "code");
    let mut rows = Vec::new();
    let mut row = |section, representation: String, trained_on, tested_on: String, accuracy| {
        rows.push(AccuracyRow {
            section,
            representation,
            trained_on,
            tested_on,
            accuracy,
        });
    };

    const FUSION: &str = "multimodal fusion";
    for (name, given, splits) in [
        ("raw features", Given::Audio, &raw_audio),
        ("raw features", Given::Video, &raw_video),
        ("raw features", Given::Both, &raw_both),
        (AUDIO_AE, Given::Audio, audio_code),
        (VIDEO_AE, Given::Video, video_code),
        (
            "audio AE + video AE codes",
            Given::Both,
            &hcat(audio_code, video_code)?,
        ),
    ] {
        row(
            FUSION,
            name.to_string(),
            given.name(),
            given.name().to_string(),
            accuracy(splits, splits, &data)?,
        );
    }
    for model in &bimodal {
        let shared = layer(&model.both, "shared");
        row(
            FUSION,
            format!("{} shared code", model.name),
            Given::Both.name(),
            Given::Both.name().to_string(),
            accuracy(shared, shared, &data)?,
        );
    }

    const CROSS: &str = "cross-modality learning";
    for (given, raw, own, own_name) in [
        (Given::Video, &raw_video, video_code, VIDEO_AE),
        (Given::Audio, &raw_audio, audio_code, AUDIO_AE),
    ] {
        row(
            CROSS,
            "raw features".into(),
            given.name(),
            given.name().to_string(),
            accuracy(raw, raw, &data)?,
        );
        row(
            CROSS,
            format!("{own_name} code"),
            given.name(),
            given.name().to_string(),
            accuracy(own, own, &data)?,
        );
        for model in &bimodal {
            let codes = layer(
                if given == Given::Audio {
                    &model.audio
                } else {
                    &model.video
                },
                "shared",
            );
            row(
                CROSS,
                format!("{} shared code", model.name),
                given.name(),
                given.name().to_string(),
                accuracy(codes, codes, &data)?,
            );
        }
    }

    const SHARED: &str = "shared representation learning";
    for model in &bimodal {
        let (audio, video) = (layer(&model.audio, "shared"), layer(&model.video, "shared"));
        row(
            SHARED,
            format!("{} shared code", model.name),
            "audio",
            "video".into(),
            accuracy(audio, video, &data)?,
        );
        row(
            SHARED,
            format!("{} shared code", model.name),
            "video",
            "audio".into(),
            accuracy(video, audio, &data)?,
        );
    }

    const NOISE: &str = "noisy audio";
    let main = &bimodal[0];
    let noisy_raw_audio: Vec<Matrix> = noisy
        .iter()
        .map(|(_, a)| Matrix::from_f32(test.len(), AUDIO_WIDTH, a))
        .collect::<mosaic::Result<_>>()?;
    let noisy_raw_both: Vec<Matrix> = noisy_raw_audio
        .iter()
        .map(|a| a.hcat(&raw_video[2]))
        .collect::<mosaic::Result<_>>()?;
    let noise_cases: Vec<(String, &'static str, &Splits, Vec<Matrix>)> = vec![
        ("raw features".into(), "audio", &raw_audio, noisy_raw_audio),
        (format!("{AUDIO_AE} code"), "audio", audio_code, noisy_audio_ae),
        (
            format!("{BIMODAL} shared code"),
            "audio",
            layer(&main.audio, "shared"),
            noisy_bimodal.iter().map(|m| m[0].clone()).collect(),
        ),
        ("raw features".into(), "audio + video", &raw_both, noisy_raw_both),
        (
            format!("{BIMODAL} shared code"),
            "audio + video",
            layer(&main.both, "shared"),
            noisy_bimodal.iter().map(|m| m[1].clone()).collect(),
        ),
    ];
    for (name, given, clean, noisy_tests) in noise_cases {
        let probe = fit_probe(clean, &data)?;
        row(
            NOISE,
            name.clone(),
            given,
            given.to_string(),
            probe.accuracy(&clean[2], data.labels(2))?,
        );
        for ((snr, _), test_codes) in noisy.iter().zip(&noisy_tests) {
            let tested_on = given.replacen("audio", &format!("audio at {snr} dB"), 1);
            row(
                NOISE,
                name.clone(),
                given,
                tested_on,
                probe.accuracy(test_codes, data.labels(2))?,
            );
        }
    }

    let mut layers = vec![layer_row(
        "raw features",
        "input",
        &raw_audio,
        &raw_video,
        false,
        &data,
    )?];
    for model in &bimodal {
        if model.audio.iter().any(|(name, _)| *name == "audio_hidden") {
            layers.push(layer_row(
                model.name,
                "hidden",
                layer(&model.audio, "audio_hidden"),
                layer(&model.video, "video_hidden"),
                false,
                &data,
            )?);
        }
        layers.push(layer_row(
            model.name,
            "shared",
            layer(&model.audio, "shared"),
            layer(&model.video, "shared"),
            true,
            &data,
        )?);
    }
    Ok(Report {
        settings: settings.clone(),
        sizes,
        accuracy: rows,
        layers,
        losses,
        generation: ImageGrid {
            title: "AV-digits test pairs: the image each model generates from the sound alone".into(),
            width: 8,
            height: 8,
            column_labels: picks.iter().map(|&i| test.labels[i].to_string()).collect(),
            rows: generation,
        },
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Probes, CKA and (where the widths agree) retrieval between the codes audio alone and
/// video alone give at one layer; the unit shares where `same_layer`.
fn layer_row(
    model: &'static str,
    layer: &'static str,
    audio: &Splits,
    video: &Splits,
    same_layer: bool,
    data: &Data,
) -> Result<LayerRow> {
    let labels = data.labels(2);
    let retrieval = if audio[2].cols() == video[2].cols() {
        let ks = [1, 5, 10];
        Some((
            retrieve(&audio[2], labels, &video[2], labels, &ks)?,
            retrieve(&video[2], labels, &audio[2], labels, &ks)?,
        ))
    } else {
        None
    };
    Ok(LayerRow {
        model,
        layer,
        probe_audio: accuracy(audio, audio, data)?,
        probe_video: accuracy(video, video, data)?,
        cka: linear_cka(&audio[2], &video[2])?,
        retrieval,
        units: if same_layer {
            Some(modality_share(&audio[2], &video[2], UNIT_THRESHOLD)?)
        } else {
            None
        },
    })
}

/// The threshold of [`modality_share`]: a unit is one modality's when the other moves it
/// less than a tenth as much.
const UNIT_THRESHOLD: f64 = 0.1;

mod report;

pub use report::{check_output, csv, markdown, svg, write};
