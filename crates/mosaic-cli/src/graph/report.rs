//! The report of the experiment: the accuracy table (markdown), every run (CSV), and the
//! plot: the karate club's embeddings beside the accuracy bars.

use super::{Report, CSV_HEADER, DATASETS, FILES, MODELS, NAME};
use crate::error::Result;
use crate::output;
use mosaic_plot::{bar_svg, line_svg, side_by_side, Axis, BarPlot, BarSeries, LinePlot, PlotError, Series};
use std::fmt::Write as _;
use std::path::Path;

/// The report as markdown: mean ± standard deviation of the test accuracy per model and graph.
pub fn markdown(report: &Report) -> String {
    let st = &report.settings;
    let mut out = format!(
        "# mosaic reproduce: {NAME}\n\nNode classification on the public Planetoid split (20 labelled nodes per class, 500 validation, \
         1000 test nodes): row-normalised features, {} hidden units, dropout {}, Adam lr {}, weight decay {} on the first \
         layer, {} epochs, each model read at its epoch of best validation accuracy. Test accuracy (%), mean ± standard deviation over \
         {} seeds ({}..{}). GraphSAGE's max-pool width is {}. The sampled model trains in batches of {} training nodes over \
         neighbourhoods sampled with fan-outs {:?} (the layer next to the output first) and is evaluated on the whole graph. \
         Unsupervised GraphSAGE (mean aggregator, {} wide, {} epochs full batch, random-walk positives of {} steps, one uniform \
         negative per node) sees no label; a logistic-regression probe on its embeddings is fitted on the training nodes, its L2 \
         strength chosen on the validation nodes. Total time {:.0} s.\n\n\
         | model | {} | {} |\n|---|---:|---:|\n",
        st.hidden,
        st.dropout,
        st.lr,
        st.weight_decay,
        st.epochs,
        st.seeds,
        st.seed,
        st.seed + st.seeds as u64 - 1,
        st.pool_width,
        st.batch_size,
        st.fanouts,
        st.embedding,
        st.unsupervised_epochs,
        st.walk_length,
        report.seconds,
        DATASETS[0].0,
        DATASETS[1].0
    );
    for model in MODELS {
        let cells: Vec<String> = DATASETS
            .iter()
            .map(|(d, _)| {
                let (mean, sd) = report.summary(d, model);
                format!("{mean:.1} ± {sd:.1}")
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", model.name(), cells.join(" | "));
    }
    let published: Vec<String> = DATASETS.iter().map(|(_, p)| format!("{p:.1}")).collect();
    let _ = writeln!(
        out,
        "| GCN, published (Kipf & Welling 2017, Table 2) | {} |",
        published.join(" | ")
    );
    let _ = write!(
        out,
        "\nKarate club: a GCN trained on the two leaders' factions alone places {:.1}% of the other 32 members in their faction \
         (graph.svg, left: each member at its two outputs).\n",
        100.0 * report.karate.accuracy
    );
    out
}

/// Every run: graph, model, seed, test and validation accuracy, best epoch.
pub fn csv(report: &Report) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for r in &report.runs {
        let _ = writeln!(
            out,
            "{},{},{},{:.4},{:.4},{}",
            r.dataset,
            output::csv_field(r.model.name()),
            r.seed,
            r.test,
            r.valid,
            r.best_epoch
        );
    }
    out
}

/// The karate club's members at their two outputs, by faction, beside the accuracy bars.
///
/// # Errors
/// A plot that cannot be drawn.
pub fn svg(report: &Report) -> std::result::Result<String, PlotError> {
    let k = &report.karate;
    let faction = |f: u32| -> Vec<(f64, f64)> {
        k.points
            .iter()
            .zip(&k.factions)
            .filter(|(_, &g)| g == f)
            .map(|(p, _)| (p[0], p[1]))
            .collect()
    };
    let scatter = line_svg(&LinePlot {
        title: format!("karate club: GCN outputs ({:.0}% placed)", 100.0 * k.accuracy),
        x: Axis::linear("output 0 (Mr. Hi's faction)"),
        y: Axis::linear("output 1 (the Officer's faction)"),
        series: vec![
            Series::scatter("Mr. Hi's faction", faction(0)),
            Series::scatter("the Officer's faction", faction(1)),
        ],
    })?;
    let series = MODELS
        .iter()
        .map(|&m| BarSeries {
            label: m.name().to_string(),
            values: DATASETS
                .iter()
                .map(|(d, _)| Some(report.summary(d, m).0))
                .collect(),
        })
        .collect();
    let bars = bar_svg(&BarPlot {
        title: "Planetoid test accuracy".into(),
        y_label: "test accuracy (%, mean over seeds)".into(),
        groups: DATASETS.iter().map(|(d, _)| d.to_string()).collect(),
        series,
        references: DATASETS.iter().map(|(_, p)| Some(*p)).collect(),
        reference_label: "GCN, published".into(),
    })?;
    side_by_side(&[scatter, bars])
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
