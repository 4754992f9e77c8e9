//! `mosaic reproduce --experiment coordinated`: coordinated representations, weak to strong,
//! against a joint one, on AV-digits (spoken digits paired with handwritten ones).
//!
//! Every coordinated method maps audio and images into spaces of one width `k` with the same
//! encoders (one sigmoid hidden layer per view, [`mosaic::coordinated::TwoTowers`]), trained
//! on the training pairs without labels:
//!
//! - weak: the cosine loss; the hinge ranking loss over every negative (VSE) and over the
//!   hardest (VSE++); the symmetric InfoNCE loss with a learnable temperature (CLIP);
//! - strong: deep CCA on the towers, and linear CCA on the raw features (no encoder);
//!
//! and beside them the joint representation (the bimodal autoencoder with zeroing, its
//! shared code reached from one modality) and unimodal autoencoders. Each is read on the test
//! pairs: cross-modal retrieval both ways (images by sound and sounds by image; an item is
//! relevant when it shows the query's digit), the correlation the space captures (the mean
//! test correlation of its `k` canonical pairs, CCA fitted on the training embeddings), and
//! linear probes on each view's embeddings and across views. The CCA family is read through
//! its canonical projection (as deep CCA's final linear CCA layer); the others directly.
//!
//! Everything is seeded: the same settings give the same numbers on every run.

mod report;

pub use report::{check_output, csv, markdown, svg, write};

use crate::error::{Error, Result};
use burn::tensor::backend::{AutodiffBackend, Backend};
use mosaic::analysis::probe::probe;
use mosaic::analysis::retrieval::{retrieve, Retrieval};
use mosaic::analysis::Matrix;
use mosaic::autoencoder::{self, Autoencoder, BimodalAutoencoderConfig, UnimodalAutoencoderConfig, Zeroing};
use mosaic::coordinated::{self, Cca, CcaOptions, Negatives, Objective, TwoTowersConfig};
use mosaic::data::avdigits::{AvDigits, AvDigitsConfig, AvSplit, AUDIO_WIDTH, CLASSES, VIDEO_WIDTH};
use serde::Serialize;

/// The experiment's name, and the stem of its files.
pub const NAME: &str = "coordinated";

/// The files the experiment writes in its output folder; nothing else there is touched.
pub const FILES: [&str; 3] = ["coordinated.md", "coordinated.csv", "coordinated.svg"];

const CSV_HEADER: &str = "method,kind,metric,direction,value";

/// The recall@k the tables give; the plot draws every k up to [`CURVE_K`].
const KS: [usize; 3] = [1, 5, 10];
const CURVE_K: usize = 10;

/// The experiment's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Seed of the pairing, the weights and the batch order.
    pub seed: u64,
    /// Training epochs of every model.
    pub epochs: usize,
    /// Pairs per batch (the negatives of the ranking and contrastive losses, deep CCA's sample).
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Hidden width of every encoder.
    pub hidden: usize,
    /// Width `k` of every coordinated space (and CCA's number of components).
    pub width: usize,
    /// Margin of the ranking losses.
    pub margin: f64,
    /// Ridge term of linear and deep CCA.
    pub regulariser: f64,
    /// At most this many pairs per split (every split thinned evenly), for quick runs.
    pub limit: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 7,
            epochs: 40,
            batch_size: 200,
            lr: 2e-3,
            hidden: 128,
            width: 16,
            margin: 0.2,
            regulariser: 1e-3,
            limit: None,
        }
    }
}

/// What one method gives, read on the test pairs.
#[derive(Debug, Clone)]
pub struct MethodRow {
    /// The method's name.
    pub method: String,
    /// `weak`, `strong`, `joint` or `unimodal`.
    pub kind: &'static str,
    /// Images by sound, then sounds by image (`None` without a shared space).
    pub retrieval: Option<[Retrieval; 2]>,
    /// Recall@1..=[`CURVE_K`] of images by sound.
    pub curve: Vec<f64>,
    /// Mean test correlation of the `k` canonical pairs (`None` without a shared space).
    pub correlation: Option<f64>,
    /// Probe accuracy on audio embeddings, on image embeddings, trained on audio and
    /// tested on images, and the reverse (`None` where a view has no embedding).
    pub probes: [Option<f64>; 4],
    /// The final training loss (`None` for closed-form fits).
    pub loss: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The settings it ran with.
    pub settings: Settings,
    /// Pairs per split (train, valid, test).
    pub sizes: [usize; 3],
    /// One row per method.
    pub rows: Vec<MethodRow>,
    /// Seconds the run took.
    pub seconds: f64,
}

/// One view's representation of the three splits (train, valid, test).
type Splits = [Matrix; 3];

/// Both views' representations; the second is `None` for a unimodal model's row.
struct Views {
    audio: Splits,
    video: Option<Splits>,
}

fn labels<'a>(splits: &[&'a AvSplit; 3], i: usize) -> &'a [usize] {
    &splits[i].labels
}

/// The test accuracy of a probe trained (λ chosen) on `train_on`, tested on `test_on`.
fn accuracy(train_on: &Splits, test_on: &Splits, splits: &[&AvSplit; 3]) -> Result<f64> {
    let fitted = probe(
        (&train_on[0], labels(splits, 0)),
        (&train_on[1], labels(splits, 1)),
        CLASSES,
    )?;
    Ok(fitted.accuracy(&test_on[2], labels(splits, 2))?)
}

/// Reads one method's views: retrieval, correlation and probes on the test pairs. With
/// `canonical`, retrieval and probes read the CCA projections of the views.
fn read(
    method: String,
    kind: &'static str,
    views: &Views,
    canonical: bool,
    settings: &Settings,
    splits: &[&AvSplit; 3],
    loss: Option<f64>,
) -> Result<MethodRow> {
    let audio = &views.audio;
    let Some(video) = &views.video else {
        return Ok(MethodRow {
            method,
            kind,
            retrieval: None,
            curve: Vec::new(),
            correlation: None,
            probes: [Some(accuracy(audio, audio, splits)?), None, None, None],
            loss,
        });
    };
    // A unit constant on the training pairs (a saturated sigmoid, a collapsed space) has
    // nothing to correlate: CCA reads the units that vary.
    let (audio, video) = (&varying(audio.clone())?, &varying(video.clone())?);
    let k = settings.width.min(audio[0].cols()).min(video[0].cols());
    let options = CcaOptions::new(k).with_regularisation(settings.regulariser, settings.regulariser);
    let cca = Cca::fit(&audio[0], &video[0], &options)?;
    let project = |view: usize, m: &Splits| -> Result<Splits> {
        Ok([
            cca.project(view, &m[0])?,
            cca.project(view, &m[1])?,
            cca.project(view, &m[2])?,
        ])
    };
    let (a_canonical, v_canonical) = (project(0, audio)?, project(1, video)?);
    let correlation = (0..k)
        .map(|j| pearson(&a_canonical[2], &v_canonical[2], j))
        .sum::<f64>()
        / k as f64;
    // The space the method's users read: the canonical one for the CCA family.
    let (a, v) = if canonical {
        (&a_canonical, &v_canonical)
    } else {
        (audio, video)
    };
    let test = labels(splits, 2);
    let curve_ks: Vec<usize> = (1..=CURVE_K).collect();
    let curve = retrieve(&a[2], test, &v[2], test, &curve_ks)?;
    Ok(MethodRow {
        method,
        kind,
        retrieval: Some([
            retrieve(&a[2], test, &v[2], test, &KS)?,
            retrieve(&v[2], test, &a[2], test, &KS)?,
        ]),
        curve: curve.recall.iter().map(|(_, r)| *r).collect(),
        correlation: Some(correlation),
        probes: [
            Some(accuracy(a, a, splits)?),
            Some(accuracy(v, v, splits)?),
            Some(accuracy(a, v, splits)?),
            Some(accuracy(v, a, splits)?),
        ],
        loss,
    })
}

/// The Pearson correlation of column `j` of `a` and of `b`.
fn pearson(a: &Matrix, b: &Matrix, j: usize) -> f64 {
    let column = |m: &Matrix| (0..m.rows()).map(|i| m.row(i)[j]).collect::<Vec<_>>();
    let (x, y) = (column(a), column(b));
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(&y).map(|(p, q)| (p - mx) * (q - my)).sum();
    let vx: f64 = x.iter().map(|p| (p - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|q| (q - my).powi(2)).sum();
    cov / (vx * vy).sqrt().max(f64::MIN_POSITIVE)
}

/// `f` applied to each split, as a [`Splits`].
fn per_split(splits: &[&AvSplit; 3], mut f: impl FnMut(&AvSplit) -> Result<Matrix>) -> Result<Splits> {
    Ok([f(splits[0])?, f(splits[1])?, f(splits[2])?])
}

/// The columns that vary in the training split (CCA refuses constant ones: the UCI digits'
/// corner pixels are always blank).
fn varying(splits: Splits) -> Result<Splits> {
    let variances = splits[0].column_variances();
    let keep: Vec<usize> = (0..splits[0].cols()).filter(|&j| variances[j] > 0.0).collect();
    if keep.len() == splits[0].cols() {
        return Ok(splits);
    }
    let select = |m: &Matrix| -> Result<Matrix> {
        let values = (0..m.rows())
            .flat_map(|i| keep.iter().map(move |&j| m.row(i)[j]))
            .collect();
        Ok(Matrix::new(m.rows(), keep.len(), values)?)
    };
    Ok([select(&splits[0])?, select(&splits[1])?, select(&splits[2])?])
}

/// Progress on one line while a model trains, then its loss in the log.
fn train_log(name: &str) -> impl FnMut(autoencoder::Progress) + '_ {
    move |p| eprint!("\r{name}: epoch {}/{}, loss {:.4}   ", p.epoch, p.epochs, p.loss)
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
    if settings.limit == Some(0) {
        return Err(Error::Mosaic(mosaic::MosaicError::invalid(
            NAME,
            "limit 0: expected at least 1 pair per split",
        )));
    }
    let full = AvDigits::load(&AvDigitsConfig { seed: settings.seed })?;
    let dataset = match settings.limit {
        Some(n) => full.thin(n),
        None => full,
    };
    let splits = [&dataset.train, &dataset.valid, &dataset.test];
    let sizes = [splits[0].len(), splits[1].len(), splits[2].len()];
    log(&format!(
        "AV-digits: {} train / {} valid / {} test pairs; spaces of width {}, {} epochs per model",
        sizes[0], sizes[1], sizes[2], settings.width, settings.epochs
    ));
    let raw = |width: usize, pick: fn(&AvSplit) -> &Vec<f32>| {
        varying(per_split(&splits, |s| {
            Ok(Matrix::from_f32(s.len(), width, pick(s))?)
        })?)
    };
    let raw_views = Views {
        audio: raw(AUDIO_WIDTH, |s| &s.audio)?,
        video: Some(raw(VIDEO_WIDTH, |s| &s.video)?),
    };
    let mut rows = vec![read(
        "linear CCA on raw features".into(),
        "strong",
        &raw_views,
        true,
        settings,
        &splits,
        None,
    )?];
    log(&format!(
        "linear CCA on raw features: mean test correlation {:.3}",
        rows[0].correlation.unwrap_or(0.0)
    ));

    let config = TwoTowersConfig::new(vec![AUDIO_WIDTH, VIDEO_WIDTH])
        .with_hidden(settings.hidden)
        .with_d_output(settings.width);
    let options = coordinated::FitOptions {
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        lr: settings.lr,
        seed: settings.seed,
    };
    let objectives = [
        (
            "deep CCA",
            "strong",
            Objective::DeepCca {
                regulariser: settings.regulariser,
            },
        ),
        ("InfoNCE (CLIP)", "weak", Objective::InfoNce),
        (
            "VSE++ hinge, hardest negative",
            "weak",
            Objective::Ranking {
                margin: settings.margin,
                negatives: Negatives::Max,
            },
        ),
        (
            "VSE hinge, every negative",
            "weak",
            Objective::Ranking {
                margin: settings.margin,
                negatives: Negatives::Sum,
            },
        ),
        ("cosine", "weak", Objective::Cosine),
    ];
    let train = &dataset.train;
    for (name, kind, objective) in objectives {
        let seconds = std::time::Instant::now();
        let fitted = coordinated::fit::<B>(
            &config,
            objective,
            [&train.audio, &train.video],
            &options,
            device,
            train_log(name),
        );
        eprint!("\r");
        let fitted = fitted?;
        let loss = *fitted.losses.last().expect("at least one epoch");
        let views = Views {
            audio: per_split(&splits, |s| {
                Ok(coordinated::embed(&fitted.model, 0, &s.audio, device)?)
            })?,
            video: Some(per_split(&splits, |s| {
                Ok(coordinated::embed(&fitted.model, 1, &s.video, device)?)
            })?),
        };
        let canonical = matches!(objective, Objective::DeepCca { .. });
        rows.push(read(
            name.into(),
            kind,
            &views,
            canonical,
            settings,
            &splits,
            Some(loss),
        )?);
        log(&format!(
            "{name}: loss {:.4} → {loss:.4} ({:.1} s){}",
            fitted.losses[0],
            seconds.elapsed().as_secs_f64(),
            if objective == Objective::InfoNce {
                format!(", temperature {:.3}", fitted.model.temperature.value())
            } else {
                String::new()
            }
        ));
    }

    // The joint representation: the bimodal autoencoder with zeroing, its shared code given
    // one modality (the other zeroed); and one autoencoder per modality.
    let ae_options = autoencoder::FitOptions {
        epochs: settings.epochs,
        batch_size: 64,
        lr: settings.lr,
        seed: settings.seed,
        zeroing: Zeroing::Thirds,
    };
    let joint_name = "joint: bimodal AE shared code";
    let bimodal = autoencoder::fit::<B, _>(
        |d| {
            BimodalAutoencoderConfig::new(AUDIO_WIDTH, VIDEO_WIDTH)
                .with_hidden(settings.hidden)
                .init(d)
        },
        &[&train.audio, &train.video],
        &ae_options,
        device,
        train_log(joint_name),
    );
    eprint!("\r");
    let bimodal = bimodal?;
    let shared = |audio: bool| {
        per_split(&splits, |s| {
            let zeros_a = vec![0.0; s.audio.len()];
            let zeros_v = vec![0.0; s.video.len()];
            let inputs: [&[f32]; 2] = if audio {
                [&s.audio, &zeros_v]
            } else {
                [&zeros_a, &s.video]
            };
            innermost(&bimodal.model, &inputs, device)
        })
    };
    let joint = Views {
        audio: shared(true)?,
        video: Some(shared(false)?),
    };
    rows.push(read(
        joint_name.into(),
        "joint",
        &joint,
        false,
        settings,
        &splits,
        bimodal.losses.last().copied(),
    )?);
    log(&format!(
        "{joint_name}: reconstruction loss {:.4}",
        bimodal.losses.last().copied().unwrap_or(f64::NAN)
    ));
    for (name, audio, width) in [
        ("unimodal: audio AE code", true, AUDIO_WIDTH),
        ("unimodal: video AE code", false, VIDEO_WIDTH),
    ] {
        let pick = |s: &AvSplit| if audio { s.audio.clone() } else { s.video.clone() };
        let train_values = pick(train);
        let fitted = autoencoder::fit::<B, _>(
            |d| {
                UnimodalAutoencoderConfig::new(width)
                    .with_hidden(settings.hidden)
                    .init(d)
            },
            &[&train_values],
            &autoencoder::FitOptions {
                zeroing: Zeroing::Off,
                ..ae_options
            },
            device,
            train_log(name),
        );
        eprint!("\r");
        let fitted = fitted?;
        let code = per_split(&splits, |s| innermost(&fitted.model, &[&pick(s)], device))?;
        let mut row = read(
            name.into(),
            "unimodal",
            &Views {
                audio: code,
                video: None,
            },
            false,
            settings,
            &splits,
            fitted.losses.last().copied(),
        )?;
        if !audio {
            row.probes = [None, row.probes[0], None, None];
        }
        rows.push(row);
        log(&format!(
            "{name}: reconstruction loss {:.4}",
            fitted.losses.last().copied().unwrap_or(f64::NAN)
        ));
    }
    Ok(Report {
        settings: settings.clone(),
        sizes,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The innermost code of an autoencoder given `inputs` (one slice per modality).
fn innermost<B: Backend, M: Autoencoder<B>>(
    model: &M,
    inputs: &[&[f32]],
    device: &B::Device,
) -> Result<Matrix> {
    let mut layers = autoencoder::encode(model, inputs, device)?;
    Ok(layers.pop().expect("an encoding layer").1)
}
