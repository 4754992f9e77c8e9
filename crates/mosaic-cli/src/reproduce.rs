//! `mosaic reproduce`: the lecture's comparison of unimodal, bimodal and trimodal models and
//! of early fusion, MLP fusion, tensor fusion and low-rank fusion, as a table (markdown,
//! CSV) and a bar chart (SVG).

use crate::metrics::Metrics;
use crate::model::FusionKind;
use mosaic_data::Modality;
use std::fmt::Write as _;
use std::path::Path;

/// One trained model's results.
#[derive(Debug, Clone)]
pub struct Row {
    /// What the model reads.
    pub modalities: Vec<Modality>,
    /// How it fuses them (concat for a single modality).
    pub fusion: FusionKind,
    /// Test metrics.
    pub test: Metrics,
    /// Best achievable test MAE with these modalities (known components only).
    pub oracle_mae: Option<f64>,
    /// Best validation epoch.
    pub best_epoch: usize,
    /// Training seconds.
    pub seconds: f64,
}

/// The runs: each modality alone (its sub-network and the head: concatenation of one
/// vector), then each pair and all three with every fusion in `fusions`.
pub fn plan(fusions: &[FusionKind]) -> Vec<(Vec<Modality>, FusionKind)> {
    use Modality::*;
    let mut runs: Vec<(Vec<Modality>, FusionKind)> =
        [Text, Audio, Video].map(|m| (vec![m], FusionKind::Concat)).into();
    for set in [
        vec![Text, Audio],
        vec![Text, Video],
        vec![Audio, Video],
        vec![Text, Audio, Video],
    ] {
        runs.extend(fusions.iter().map(|&f| (set.clone(), f)));
    }
    runs
}

/// `T`, `A`, `V` initials joined by `+`.
pub fn set_name(modalities: &[Modality]) -> String {
    modalities
        .iter()
        .map(|m| m.name()[..1].to_uppercase())
        .collect::<Vec<_>>()
        .join("+")
}

fn fusion_label(row: &Row) -> &'static str {
    if row.modalities.len() == 1 {
        "unimodal"
    } else {
        row.fusion.name()
    }
}

fn oracle(row: &Row) -> String {
    row.oracle_mae.map_or("–".into(), |m| format!("{m:.3}"))
}

/// The results as a markdown table.
pub fn markdown(rows: &[Row], dataset: &str, seconds: f64) -> String {
    let mut out = format!(
        "# mosaic reproduce: {dataset}\n\nTest split; \"best MAE\" is the lowest error a model with these modalities can reach (labels' known components; – for real data). Total time {:.0} s.\n\n",
        seconds
    );
    out += "| modalities | fusion | Acc-2 | F1 | Acc-7 | MAE | Corr | best MAE | epoch | seconds |\n";
    out += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for r in rows {
        let m = &r.test;
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.3} | {:.3} | {} | {} | {:.1} |",
            set_name(&r.modalities),
            fusion_label(r),
            100.0 * m.acc2,
            100.0 * m.f1,
            100.0 * m.acc7,
            m.mae,
            m.corr,
            oracle(r),
            r.best_epoch,
            r.seconds
        );
    }
    out
}

/// The results as CSV (one header line).
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from("modalities,fusion,acc2,f1,acc7,mae,corr,best_mae,best_epoch,seconds\n");
    for r in rows {
        let m = &r.test;
        let _ = writeln!(
            out,
            "{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{:.2}",
            set_name(&r.modalities),
            fusion_label(r),
            m.acc2,
            m.f1,
            m.acc7,
            m.mae,
            m.corr,
            r.oracle_mae.map_or(String::new(), |v| format!("{v:.4}")),
            r.best_epoch,
            r.seconds
        );
    }
    out
}

/// Test MAE per modality set (groups) and fusion (bars), with each set's best achievable
/// MAE as a dashed line, as an SVG bar chart.
pub fn svg(rows: &[Row], dataset: &str) -> String {
    let mut groups: Vec<String> = Vec::new();
    for r in rows {
        let name = set_name(&r.modalities);
        if !groups.contains(&name) {
            groups.push(name);
        }
    }
    let colors = [
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#9c755f",
    ];
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = Vec::new();
        rows.iter().map(fusion_label).for_each(|f| {
            if !k.contains(&f) {
                k.push(f)
            }
        });
        k
    };
    let top = rows
        .iter()
        .map(|r| r.test.mae.max(r.oracle_mae.unwrap_or(0.0)))
        .fold(0.0f64, f64::max)
        .max(1e-6)
        * 1.1;
    let (width, height, left, bottom, plot_h) = (760.0, 380.0, 60.0, 60.0, 280.0);
    let group_w = (width - left - 20.0) / groups.len() as f64;
    let y = |v: f64| height - bottom - plot_h * v / top;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<text x=\"{left}\" y=\"20\" font-size=\"14\">Test MAE on {dataset} (lower is better; dashed: best achievable)</text>\n"
    );
    for t in 0..=4 {
        let v = top * f64::from(t) / 4.0;
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y0:.1}\" y2=\"{y0:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.2}</text>",
            width - 20.0,
            left - 6.0,
            y(v) + 4.0,
            y0 = y(v)
        );
    }
    for (g, group) in groups.iter().enumerate() {
        let x0 = left + g as f64 * group_w;
        let members: Vec<&Row> = rows
            .iter()
            .filter(|r| &set_name(&r.modalities) == group)
            .collect();
        let bar_w = (group_w - 16.0) / members.len() as f64;
        for (i, r) in members.iter().enumerate() {
            let color = colors[kinds.iter().position(|k| *k == fusion_label(r)).unwrap_or(0) % colors.len()];
            let x = x0 + 8.0 + i as f64 * bar_w;
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{group} {}: {:.3}</title></rect>",
                y(r.test.mae),
                bar_w - 2.0,
                plot_h * r.test.mae / top,
                fusion_label(r),
                r.test.mae
            );
        }
        if let Some(best) = members.first().and_then(|r| r.oracle_mae) {
            let _ = writeln!(
                out,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{yb:.1}\" y2=\"{yb:.1}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>",
                x0 + 4.0,
                x0 + group_w - 4.0,
                yb = y(best)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{group}</text>",
            x0 + group_w / 2.0,
            height - bottom + 18.0
        );
    }
    for (i, k) in kinds.iter().enumerate() {
        let x = left + i as f64 * 110.0;
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{k}</text>",
            height - 24.0,
            colors[i % colors.len()],
            x + 16.0,
            height - 14.0
        );
    }
    out + "</svg>\n"
}

/// Writes `reproduce.md`, `reproduce.csv` and `reproduce.svg` into `dir`, each through a
/// temporary file renamed into place.
///
/// # Errors
/// The file that could not be written.
pub fn write(dir: &Path, markdown: &str, csv: &str, svg: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, text) in [
        ("reproduce.md", markdown),
        ("reproduce.csv", csv),
        ("reproduce.svg", svg),
    ] {
        let path = dir.join(name);
        let partial = dir.join(format!(".{name}.partial-{}", std::process::id()));
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&partial);
                format!("{}: {e}", path.display())
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(modalities: Vec<Modality>, fusion: FusionKind, mae: f64) -> Row {
        let test = Metrics {
            acc2: 0.75,
            f1: 0.7,
            acc7: 0.3,
            mae,
            corr: 0.5,
            count: 10,
        };
        Row {
            modalities,
            fusion,
            test,
            oracle_mae: Some(0.16),
            best_epoch: 3,
            seconds: 1.5,
        }
    }

    #[test]
    fn plan_has_each_modality_each_pair_and_all_three() {
        use Modality::*;
        let runs = plan(&[FusionKind::Concat, FusionKind::Tfn]);
        assert_eq!(runs.len(), 3 + 4 * 2);
        assert_eq!(runs[0], (vec![Text], FusionKind::Concat));
        assert_eq!(runs[10], (vec![Text, Audio, Video], FusionKind::Tfn));
    }

    #[test]
    fn reports_hold_every_row() {
        use Modality::*;
        let rows = vec![
            row(vec![Text], FusionKind::Concat, 0.9),
            row(vec![Text, Audio, Video], FusionKind::Lmf, 0.2),
        ];
        let md = markdown(&rows, "trimodal", 12.0);
        assert!(
            md.contains("| T | unimodal | 75.0 | 70.0 | 30.0 | 0.900 | 0.500 | 0.160 | 3 | 1.5 |"),
            "{md}"
        );
        assert!(md.contains("| T+A+V | lmf |"));
        let csv = csv(&rows);
        assert_eq!(csv.lines().count(), 3);
        assert!(csv
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("T+A+V,lmf,0.7500,0.7000,0.3000,0.2000,0.5000,0.1600,3,"));
        let svg = svg(&rows, "trimodal");
        assert_eq!(
            svg.matches("<rect").count(),
            2 + 2,
            "two bars and two legend boxes"
        );
    }
}
