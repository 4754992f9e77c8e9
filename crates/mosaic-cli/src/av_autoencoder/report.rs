//! The report of the experiment: markdown tables, CSV, the SNR plot, and its files.

use super::{AccuracyRow, Report, CSV_HEADER, FILES, NAME};
use crate::error::Result;
use crate::output;
use mosaic_plot::{image_grid_svg, line_svg, Axis, LinePlot, PlotError, Series};
use std::fmt::Write as _;
use std::path::Path;

fn percent(v: f64) -> String {
    format!("{:.1}", 100.0 * v)
}

/// The report as markdown: one table per section.
pub fn markdown(report: &Report) -> String {
    let st = &report.settings;
    let [train, valid, test] = report.sizes;
    let mut out = format!(
        "# mosaic reproduce: {NAME}\n\nAV-digits ({train} train / {valid} valid / {test} test pairs of a spoken and a handwritten digit). \
         Six autoencoders trained without labels ({} epochs, batch {}, Adam lr {}, hidden {}, shared code {}, seed {}); \
         every figure is the test accuracy (%) of a linear probe trained on the training codes, its ridge strength chosen on the \
         validation codes. Chance is 10%. Total time {:.0} s.\n",
        st.epochs, st.batch_size, st.lr, st.hidden, st.shared, st.seed, report.seconds
    );
    let sections = [
        ("multimodal fusion", "Probe trained and tested on the same input."),
        ("cross-modality learning", "Features learned with both modalities; the probe is trained and tested with one modality only (the other zeroed)."),
        ("shared representation learning", "The probe is trained on the codes one modality gives and tested on the codes the other gives."),
    ];
    for (section, note) in sections {
        let _ = write!(out, "\n## {section}\n\n{note}\n\n| representation | trained on | tested on | accuracy |\n|---|---|---|---:|\n");
        for r in report.accuracy.iter().filter(|r| r.section == section) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.representation,
                r.trained_on,
                r.tested_on,
                percent(r.accuracy)
            );
        }
    }
    let noise: Vec<&AccuracyRow> = report
        .accuracy
        .iter()
        .filter(|r| r.section == "noisy audio")
        .collect();
    let columns: Vec<String> = std::iter::once("clean".to_string())
        .chain(st.snrs.iter().map(|s| format!("{s} dB")))
        .collect();
    let _ = write!(
        out,
        "\n## noisy audio\n\nProbes trained on clean codes, tested with white noise added to the test recordings at each SNR.\n\n| representation | given | {} |\n|---|---|{}\n",
        columns.join(" | "),
        "---:|".repeat(columns.len())
    );
    for chunk in noise.chunks(columns.len()) {
        let cells: Vec<String> = chunk.iter().map(|r| percent(r.accuracy)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            chunk[0].representation,
            chunk[0].trained_on,
            cells.join(" | ")
        );
    }
    let _ = write!(
        out,
        "\n## per layer\n\nAt each layer, the codes audio alone gives and those video alone gives (test split): probe accuracy on each, \
         linear CKA between them, retrieval of images by sound (a → v) and of sounds by image (v → a) where both have one width \
         (mAP %, recall@k %, median rank of the first image of the right digit), and the share of units only one modality moves.\n\n\
         | model | layer | probe audio | probe video | CKA | mAP a → v | mAP v → a | R@1 a → v | R@10 a → v | median rank a → v | units audio / video / both / dead |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    );
    for l in &report.layers {
        let (map_av, map_va, r1, r10, median) = l.retrieval.as_ref().map_or_else(
            || {
                (
                    "–".to_string(),
                    "–".to_string(),
                    "–".to_string(),
                    "–".to_string(),
                    "–".to_string(),
                )
            },
            |(av, va)| {
                (
                    percent(av.map),
                    percent(va.map),
                    percent(av.recall_at(1).unwrap_or(0.0)),
                    percent(av.recall_at(10).unwrap_or(0.0)),
                    format!("{}", av.median_rank),
                )
            },
        );
        let units = l.units.map_or("–".to_string(), |u| {
            format!(
                "{} / {} / {} / {}",
                percent(u.audio_only),
                percent(u.video_only),
                percent(u.both),
                percent(u.dead)
            )
        });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.3} | {map_av} | {map_va} | {r1} | {r10} | {median} | {units} |",
            l.model,
            l.layer,
            percent(l.probe_audio),
            percent(l.probe_video),
            l.cka
        );
    }
    let _ = write!(
        out,
        "\n## training\n\n| model | final reconstruction loss |\n|---|---:|\n"
    );
    for (name, loss) in &report.losses {
        let _ = writeln!(out, "| {name} | {loss:.4} |");
    }
    out
}

/// The report as CSV, one figure per line (`metric` names it).
pub fn csv(report: &Report) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    let mut line = |fields: [&str; 5], value: f64| {
        let fields: Vec<String> = fields.iter().map(|f| output::csv_field(f)).collect();
        let _ = writeln!(out, "{},{value}", fields.join(","));
    };
    for r in &report.accuracy {
        line(
            [
                r.section,
                &r.representation,
                r.trained_on,
                &r.tested_on,
                "accuracy",
            ],
            r.accuracy,
        );
    }
    for l in &report.layers {
        let representation = format!("{} {}", l.model, l.layer);
        let mut figure =
            |metric: &str, value: f64| line(["per layer", &representation, "audio", "video", metric], value);
        figure("probe_audio", l.probe_audio);
        figure("probe_video", l.probe_video);
        figure("cka", l.cka);
        if let Some((av, va)) = &l.retrieval {
            for (direction, r) in [("audio_to_video", av), ("video_to_audio", va)] {
                figure(&format!("map_{direction}"), r.map);
                for (k, recall) in &r.recall {
                    figure(&format!("recall_at_{k}_{direction}"), *recall);
                }
                figure(&format!("median_rank_{direction}"), r.median_rank);
            }
        }
        if let Some(u) = l.units {
            for (metric, value) in [
                ("units_audio_only", u.audio_only),
                ("units_video_only", u.video_only),
                ("units_both", u.both),
                ("units_dead", u.dead),
            ] {
                figure(metric, value);
            }
        }
    }
    for (name, loss) in &report.losses {
        line(["training", name, "train", "train", "final_loss"], *loss);
    }
    out
}

/// Probe accuracy against the SNR of the test audio, one line per representation.
///
/// # Errors
/// No noisy-audio row.
pub fn svg(report: &Report) -> std::result::Result<String, PlotError> {
    let mut series: Vec<Series> = Vec::new();
    for r in report.accuracy.iter().filter(|r| r.section == "noisy audio") {
        let label = format!("{} (given {})", r.representation, r.trained_on);
        let Some(snr) = report
            .settings
            .snrs
            .iter()
            .find(|s| r.tested_on.contains(&format!("audio at {s} dB")))
        else {
            continue;
        };
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((*snr, 100.0 * r.accuracy)),
            None => series.push(Series::new(label, vec![(*snr, 100.0 * r.accuracy)])),
        }
    }
    line_svg(&LinePlot {
        title: "AV-digits: probe accuracy with noisy test audio (trained on clean)".into(),
        x: Axis::linear("signal-to-noise ratio of the test audio (dB)"),
        y: Axis::linear("test accuracy (%)"),
        series,
    })
}

/// Checks `dir` before anything trains: files named as ours that mosaic did not write are
/// refused unless `force` ([`output::check_own_files`]).
///
/// # Errors
/// A folder that cannot be made, or a file there that mosaic did not write.
pub fn check_output(dir: &Path, force: bool) -> Result<()> {
    output::check_own_files(dir, &FILES, force, |name, text| {
        output::is_report(name, text, CSV_HEADER)
    })
}

/// Writes the report's four files in `dir`, each replaced atomically.
///
/// # Errors
/// A plot that cannot be drawn, or a file that cannot be written.
pub fn write(dir: &Path, report: &Report) -> Result<()> {
    let texts = [
        markdown(report),
        csv(report),
        svg(report)?,
        image_grid_svg(&report.generation)?,
    ];
    output::write_report_files(dir, &FILES, &texts)
}
