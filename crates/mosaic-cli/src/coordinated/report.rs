//! The report of the experiment: markdown tables, CSV, the recall@k plot, and its files.

use super::{MethodRow, Report, CSV_HEADER, FILES, KS, NAME};
use crate::error::Result;
use crate::output;
use mosaic_plot::{line_svg, Axis, LinePlot, PlotError, Series};
use std::fmt::Write as _;
use std::path::Path;

fn percent(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.1}", 100.0 * v))
}

/// The directions of retrieval, as the tables and the CSV name them.
const DIRECTIONS: [(&str, &str); 2] = [
    ("audio → image", "audio_to_image"),
    ("image → audio", "image_to_audio"),
];

/// The report as markdown: retrieval, then correlation and classification.
pub fn markdown(report: &Report) -> String {
    let st = &report.settings;
    let [train, valid, test] = report.sizes;
    let mut out = format!(
        "# mosaic reproduce: {NAME}\n\nAV-digits ({train} train / {valid} valid / {test} test pairs of a spoken and a handwritten digit). \
         Every coordinated method maps each view into a space of width {} with the same encoders (hidden width {}), trained without labels \
         ({} epochs, batch {}, Adam lr {}, margin {}, CCA ridge {}, seed {}). Total time {:.0} s.\n",
        st.width, st.hidden, st.epochs, st.batch_size, st.lr, st.margin, st.regulariser, st.seed, report.seconds
    );
    for (title, index) in [DIRECTIONS[0].0, DIRECTIONS[1].0].iter().zip(0..) {
        let _ = write!(
            out,
            "\n## retrieval, {title}\n\nEach test {} queries every test {} by cosine similarity; an item is relevant when it shows the query's digit \
             (chance mAP about 10%). Recall@k: the share of queries with a relevant item among the first k (%).\n\n\
             | method | kind | R@1 | R@5 | R@10 | mAP | median rank |\n|---|---|---:|---:|---:|---:|---:|\n",
            if index == 0 { "recording" } else { "image" },
            if index == 0 { "image" } else { "recording" },
        );
        for row in report.rows.iter().filter(|r| r.retrieval.is_some()) {
            let r = &row.retrieval.as_ref().expect("filtered")[index];
            let recalls: Vec<String> = KS.iter().map(|&k| percent(r.recall_at(k))).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.method,
                row.kind,
                recalls.join(" | "),
                percent(Some(r.map)),
                r.median_rank
            );
        }
    }
    let _ = write!(
        out,
        "\n## correlation and classification\n\nCorrelation: the mean test correlation of the space's {} canonical pairs (CCA fitted on the training \
         embeddings). Probes: test accuracy (%) of a linear probe trained on the training embeddings (ridge chosen on validation) of one view, \
         tested on the same view or on the other one (chance 10%).\n\n\
         | method | kind | correlation | probe audio | probe image | audio → image | image → audio | final loss |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
        st.width
    );
    for row in &report.rows {
        let probes: Vec<String> = row.probes.iter().map(|p| percent(*p)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.method,
            row.kind,
            row.correlation.map_or("–".into(), |c| format!("{c:.3}")),
            probes.join(" | "),
            row.loss.map_or("–".into(), |l| format!("{l:.4}"))
        );
    }
    out
}

/// The report as CSV, one figure per line.
pub fn csv(report: &Report) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for row in &report.rows {
        let mut line = |metric: &str, direction: &str, value: f64| {
            let _ = writeln!(
                out,
                "{},{},{metric},{direction},{value}",
                output::csv_field(&row.method),
                row.kind
            );
        };
        if let Some(retrieval) = &row.retrieval {
            for (r, (_, direction)) in retrieval.iter().zip(DIRECTIONS) {
                for (k, recall) in &r.recall {
                    line(&format!("recall_at_{k}"), direction, *recall);
                }
                line("map", direction, r.map);
                line("median_rank", direction, r.median_rank);
            }
        }
        if let Some(c) = row.correlation {
            line("mean_canonical_correlation", "test", c);
        }
        for (p, (metric, direction)) in row.probes.iter().zip([
            ("probe_accuracy", "audio"),
            ("probe_accuracy", "image"),
            ("probe_accuracy", "audio_to_image"),
            ("probe_accuracy", "image_to_audio"),
        ]) {
            if let Some(p) = p {
                line(metric, direction, *p);
            }
        }
        if let Some(l) = row.loss {
            line("final_loss", "train", l);
        }
    }
    out
}

/// Recall@k of images by sound against k, one line per method with a shared space.
///
/// # Errors
/// No method with a shared space.
pub fn svg(report: &Report) -> std::result::Result<String, PlotError> {
    let series = report
        .rows
        .iter()
        .filter(|r: &&MethodRow| !r.curve.is_empty())
        .map(|r| {
            let points = r
                .curve
                .iter()
                .enumerate()
                .map(|(i, v)| ((i + 1) as f64, 100.0 * v))
                .collect();
            Series::new(r.method.clone(), points)
        })
        .collect();
    line_svg(&LinePlot {
        title: "AV-digits: images retrieved by sound, recall@k on the test pairs".into(),
        x: Axis::linear("k (images returned)"),
        y: Axis::linear("queries with an image of the right digit among the first k (%)"),
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

/// Writes the report's three files in `dir`, each replaced atomically.
///
/// # Errors
/// A plot that cannot be drawn, or a file that cannot be written.
pub fn write(dir: &Path, report: &Report) -> Result<()> {
    output::write_report_files(dir, &FILES, &[markdown(report), csv(report), svg(report)?])
}
