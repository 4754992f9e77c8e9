//! `mosaic reproduce`: the lecture's comparison of unimodal, bimodal and trimodal models and
//! of early fusion, MLP fusion, tensor fusion and low-rank fusion, as a table (markdown,
//! CSV) and a bar chart (SVG).
//!
//! Nothing of a long run is lost ([`Results`]): the output folder is checked and the run's
//! settings written before the first model trains, each finished model's row is appended to
//! `reproduce.csv` at once (one write, flushed to disk), and `--resume` takes the rows a run
//! left there (with the same settings) instead of training them again.

use crate::error::{Error, Result};
use crate::output;
use mosaic::data::Modality;
use mosaic::models::FusionKind;
use mosaic::train::Metrics;
use mosaic_plot::{bar_svg, BarPlot, BarSeries, PlotError};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

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
        "# mosaic reproduce: {dataset}\n\nTest split; \"best MAE\" is the lowest error a model with these modalities can reach (labels' known components; – for real data). Total time {seconds:.0} s.\n\n"
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

/// The CSV's header line.
const CSV_HEADER: &str = "modalities,fusion,acc2,f1,acc7,mae,corr,best_mae,best_epoch,seconds";

/// One row of the CSV (with its line end); numbers in full precision (they read back exact).
fn csv_line(r: &Row) -> String {
    let m = &r.test;
    format!(
        "{},{},{},{},{},{},{},{},{},{:.2}\n",
        set_name(&r.modalities),
        fusion_label(r),
        m.acc2,
        m.f1,
        m.acc7,
        m.mae,
        m.corr,
        r.oracle_mae.map_or(String::new(), |v| v.to_string()),
        r.best_epoch,
        r.seconds
    )
}

/// The results as CSV (one header line).
pub fn csv(rows: &[Row]) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    rows.iter().for_each(|r| out += &csv_line(r));
    out
}

/// The rows of a CSV written by [`csv`] or [`Results::append`]; `count` is the test
/// split's size (not in the file). A last line without its line end (a write cut short)
/// is left out.
///
/// # Errors
/// Another header, or a line that is not a row of ours.
fn parse_csv(path: &Path, text: &str, count: usize) -> Result<Vec<Row>> {
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some(CSV_HEADER) {
        return Err(Error::file(
            path,
            format!("--resume: its first line is not `{CSV_HEADER}`"),
        ));
    }
    lines
        .filter(|line| line.ends_with('\n'))
        .enumerate()
        .map(|(i, line)| {
            parse_row(line.trim_end(), count).map_err(|BadField(what)| {
                Error::file(
                    path,
                    format!("--resume: line {}: {what}: `{}`", i + 2, line.trim_end()),
                )
            })
        })
        .collect()
}

/// What is wrong with a CSV field.
struct BadField(String);

impl<T: Into<String>> From<T> for BadField {
    fn from(message: T) -> Self {
        BadField(message.into())
    }
}

/// One CSV row back into a [`Row`].
fn parse_row(line: &str, count: usize) -> std::result::Result<Row, BadField> {
    let fields: Vec<&str> = line.split(',').collect();
    let [set, fusion, acc2, f1, acc7, mae, corr, best, epoch, seconds] = fields[..] else {
        return Err("expected 10 fields".into());
    };
    let modalities = set
        .split('+')
        .map(|initial| {
            Modality::ALL
                .into_iter()
                .find(|m| set_name(&[*m]) == initial)
                .ok_or_else(|| format!("unknown modality `{initial}`"))
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    let fusion = match fusion {
        "unimodal" => FusionKind::Concat,
        other => other.parse().map_err(|e: mosaic::MosaicError| e.to_string())?,
    };
    let number = |v: &str| v.parse::<f64>().map_err(|_| format!("`{v}` is not a number"));
    Ok(Row {
        modalities,
        fusion,
        test: Metrics {
            acc2: number(acc2)?,
            f1: number(f1)?,
            acc7: number(acc7)?,
            mae: number(mae)?,
            corr: number(corr)?,
            count,
        },
        oracle_mae: if best.is_empty() {
            None
        } else {
            Some(number(best)?)
        },
        best_epoch: epoch
            .parse()
            .map_err(|_| format!("`{epoch}` is not a whole number"))?,
        seconds: number(seconds)?,
    })
}

/// The files `mosaic reproduce` writes in its output folder; nothing else there is touched.
pub const FILES: [&str; 4] = [
    "reproduce.md",
    "reproduce.csv",
    "reproduce.svg",
    "reproduce.run.json",
];

/// Whether `text`, the contents of our file `name`, is one mosaic wrote.
fn is_ours(name: &str, text: &str) -> bool {
    match name {
        "reproduce.md" => text.starts_with("# mosaic reproduce"),
        "reproduce.csv" => text.starts_with(CSV_HEADER),
        "reproduce.svg" => text.starts_with("<svg"),
        _ => {
            serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.get("mosaic_reproduce").is_some())
        }
    }
}

/// A run's output folder: the settings it was started with, the CSV that grows by a row per
/// finished model, and the final table and plot.
pub struct Results {
    dir: PathBuf,
}

impl Results {
    /// Checks `dir` and starts a run there, before anything trains: refuses files named as
    /// ours that mosaic did not write (unless `force`), and, unless `resume`, writes
    /// `reproduce.run.json` with `settings` and a `reproduce.csv` of no rows. With `resume`,
    /// returns the rows of the run that `dir` holds, which must have had the same settings.
    ///
    /// # Errors
    /// A folder that cannot be written (named, with the system's message), files not ours,
    /// or with `resume`: no run there, or one with other settings.
    pub fn start(
        dir: &Path,
        settings: &serde_json::Value,
        resume: bool,
        force: bool,
        test_count: usize,
    ) -> Result<(Self, Vec<Row>)> {
        let at = |name: &str| dir.join(name);
        output::check_own_files(dir, &FILES, force, is_ours)?;
        let settings = serde_json::json!({ "mosaic_reproduce": settings });
        let rows =
            if resume {
                let earlier = std::fs::read_to_string(at("reproduce.run.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
                match earlier {
                    None => return Err(Error::file(
                        dir,
                        "--resume: it holds no run to resume (no reproduce.run.json); run without --resume",
                    )),
                    Some(earlier) if earlier != settings => {
                        return Err(Error::file(
                            dir,
                            format!(
                        "--resume: the run there had other settings ({}); run without --resume to start over",
                        earlier["mosaic_reproduce"]
                    ),
                        ))
                    }
                    Some(_) => {}
                }
                let csv_path = at("reproduce.csv");
                let text = std::fs::read_to_string(&csv_path).map_err(Error::io(&csv_path))?;
                parse_csv(&csv_path, &text, test_count)?
            } else {
                let json = serde_json::to_string_pretty(&settings)
                    .map_err(|e| Error::file(at("reproduce.run.json"), e.to_string()))?;
                for (name, text) in [("reproduce.run.json", json), ("reproduce.csv", csv(&[]))] {
                    output::replace_file(&at(name), text.as_bytes()).map_err(Error::io(at(name)))?;
                }
                Vec::new()
            };
        Ok((
            Results {
                dir: dir.to_path_buf(),
            },
            rows,
        ))
    }

    /// Appends a finished model's row to `reproduce.csv` in one write, flushed to disk.
    ///
    /// # Errors
    /// The system's, naming the file.
    pub fn append(&self, row: &Row) -> Result<()> {
        let path = self.dir.join("reproduce.csv");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| {
                file.write_all(csv_line(row).as_bytes())?;
                file.sync_data()
            })
            .map_err(Error::io(&path))
    }

    /// Writes the finished table: `reproduce.md`, `reproduce.csv` (every row, in the plan's
    /// order) and `reproduce.svg`, each replaced atomically.
    ///
    /// # Errors
    /// The file that could not be written.
    pub fn finish(&self, markdown: &str, csv: &str, svg: &str) -> Result<()> {
        for (name, text) in [
            ("reproduce.md", markdown),
            ("reproduce.csv", csv),
            ("reproduce.svg", svg),
        ] {
            let path = self.dir.join(name);
            output::replace_file(&path, text.as_bytes()).map_err(Error::io(&path))?;
        }
        Ok(())
    }
}

/// Test MAE per modality set (groups) and fusion (bars), with each set's best achievable
/// MAE as a dashed line: the table as a grouped bar chart.
///
/// # Errors
/// No row to draw.
pub fn svg(rows: &[Row], dataset: &str) -> std::result::Result<String, PlotError> {
    let mut groups: Vec<String> = Vec::new();
    let mut kinds: Vec<&str> = Vec::new();
    for r in rows {
        let name = set_name(&r.modalities);
        if !groups.contains(&name) {
            groups.push(name);
        }
        if !kinds.contains(&fusion_label(r)) {
            kinds.push(fusion_label(r));
        }
    }
    let cell = |group: &str, kind: &str| {
        rows.iter()
            .find(|r| set_name(&r.modalities) == group && fusion_label(r) == kind)
    };
    bar_svg(&BarPlot {
        title: format!("Test MAE on {dataset} (lower is better)"),
        y_label: "test MAE (label units)".into(),
        series: kinds
            .iter()
            .map(|kind| BarSeries {
                label: (*kind).to_string(),
                values: groups.iter().map(|g| cell(g, kind).map(|r| r.test.mae)).collect(),
            })
            .collect(),
        references: groups
            .iter()
            .map(|g| rows.iter().find(|r| &set_name(&r.modalities) == g)?.oracle_mae)
            .collect(),
        reference_label: "best achievable MAE".into(),
        groups,
    })
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
            .starts_with("T+A+V,lmf,0.75,0.7,0.3,0.2,0.5,0.16,3,"));
        // The CSV reads back exactly (a resumed run's rows are the finished run's).
        let path = Path::new("reproduce.csv");
        let back = parse_csv(path, &csv, 10).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            (back[1].test, back[1].oracle_mae),
            (rows[1].test, rows[1].oracle_mae)
        );
        assert_eq!(
            (&back[0].modalities, back[0].fusion),
            (&rows[0].modalities, rows[0].fusion)
        );
        // A line cut short by an interruption is left out.
        let torn = &csv[..csv.len() - 3];
        assert_eq!(parse_csv(path, torn, 10).unwrap().len(), 1);
        assert!(parse_csv(path, "a,b\n", 10)
            .unwrap_err()
            .to_string()
            .contains("first line"));
        // The plot's legend names each fusion of the rows and the reference line, once.
        let svg = svg(&rows, "trimodal").unwrap();
        for label in ["unimodal", "lmf", "best achievable MAE"] {
            assert_eq!(svg.lines().filter(|l| l.trim() == label).count(), 1, "{label}");
        }
        assert!(svg.contains("test MAE (label units)"));
    }
}
