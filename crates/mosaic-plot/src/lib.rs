//! The plots of mosaic's reports (benchmarks, experiments), on `plotters`' SVG backend:
//! [`line_svg`] for series against a size (log-log throughput, memory, speed-ups) and
//! [`bar_svg`] for grouped bars (the experiments' tables), [`image_grid_svg`] for grids of
//! small images (what a model generates); [`Series::scatter`] makes a line plot a scatter
//! plot, and [`side_by_side`] puts several plots in one document.
//!
//! Every plot puts its legend below the chart, one entry per line, and sizes the canvas to
//! the longest label, so no label runs off the edge; series are told apart by colour and
//! by marker (ten colours, five markers, so lines that coincide stay visible); axis ranges
//! come from the data, and axis titles carry their units.
//!
//! ```
//! use mosaic_plot::{line_svg, Axis, LinePlot, Series};
//!
//! let plot = LinePlot {
//!     title: "forward pass".into(),
//!     x: Axis::log("batch size (samples)"),
//!     y: Axis::log("throughput (samples/s)"),
//!     series: vec![Series::new("tfn 32x32 fused forward", vec![(16.0, 1e4), (64.0, 3e4)])],
//! };
//! let svg = line_svg(&plot)?;
//! assert!(svg.contains("tfn 32x32 fused forward"));
//! # Ok::<(), mosaic_plot::PlotError>(())
//! ```

mod bars;
mod images;
mod legend;
mod lines;

pub use bars::{bar_svg, BarPlot, BarSeries};
pub use images::{image_grid_svg, ImageGrid, ImageRow};
pub use lines::{line_svg, LinePlot, Series};

/// SVG documents (as this crate draws them) placed side by side in one document, top-aligned.
///
/// # Errors
/// A document without the `width` and `height` of its root element.
pub fn side_by_side(documents: &[String]) -> Result<String, PlotError> {
    let size = |doc: &str, name: &str| -> Result<u32, PlotError> {
        let key = format!("{name}=\"");
        let start = doc
            .find(&key)
            .ok_or_else(|| PlotError(format!("an SVG document without a {name}")))?
            + key.len();
        let end = doc[start..].find('"').map(|e| start + e);
        end.and_then(|e| doc[start..e].trim_end_matches("px").parse().ok())
            .ok_or_else(|| PlotError(format!("an SVG document whose {name} is not a number")))
    };
    let (mut x, mut height, mut body) = (0, 0, String::new());
    for doc in documents {
        let (w, h) = (size(doc, "width")?, size(doc, "height")?);
        let inner = doc.find("<svg").map_or(doc.as_str(), |i| &doc[i..]);
        body.push_str(&format!("<g transform=\"translate({x},0)\">{inner}</g>\n"));
        x += w;
        height = height.max(h);
    }
    Ok(format!(
        "<svg width=\"{x}\" height=\"{height}\" viewBox=\"0 0 {x} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\n{body}</svg>\n"
    ))
}

use plotters::style::RGBColor;

/// A plotting failure (plotters' drawing errors, or a plot with nothing to draw).
#[derive(Debug)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plot: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

fn error(e: impl std::fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

/// An axis: its title (with the unit, e.g. `throughput (samples/s)`) and its scale.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The title, unit included.
    pub label: String,
    /// Logarithmic (base 10) rather than linear.
    pub log: bool,
}

impl Axis {
    /// A logarithmic axis titled `label`.
    pub fn log(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            log: true,
        }
    }

    /// A linear axis titled `label`.
    pub fn linear(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            log: false,
        }
    }
}

/// The colours series take in turn (Tableau 10).
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Series `i`'s colour.
fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// The canvas width that fits the longest legend label (about 7 px per character at the
/// legend's 13 px font) beside the legend's sample, and at least `min`.
fn width_for(labels: impl Iterator<Item = usize>, min: u32) -> u32 {
    let longest = labels.max().unwrap_or(0) as u32;
    min.max(60 + 7 * longest)
}

const FONT: &str = "sans-serif";

#[cfg(test)]
mod tests {
    use super::*;

    /// The contents of the SVG's `<text>` elements, in document order.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = &t[t.find('>')? + 1..];
                Some(body[..body.find("</text>")?].trim().to_string())
            })
            .collect()
    }

    /// A scatter series draws no line, in the plot or its legend sample; two plots side by side keep their content and add up
    /// their widths.
    #[test]
    fn scatter_and_side_by_side() {
        let mut plot = line_plot();
        let with_lines = line_svg(&plot).unwrap().matches("<polyline").count();
        plot.series[0] = Series::scatter("points", plot.series[0].points.clone());
        let svg = line_svg(&plot).unwrap();
        assert_eq!(
            svg.matches("<polyline").count() + 2,
            with_lines,
            "no line in the plot nor in the legend"
        );
        let width: u32 = {
            let start = svg.find("width=\"").unwrap() + 7;
            svg[start..start + svg[start..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        let both = side_by_side(&[svg.clone(), svg]).unwrap();
        assert!(
            both.starts_with(&format!("<svg width=\"{}\"", 2 * width)),
            "{}",
            &both[..80]
        );
        assert_eq!(texts(&both).iter().filter(|t| *t == "points").count(), 2);
        assert!(side_by_side(&["<svg>".to_string()]).is_err());
    }

    fn line_plot() -> LinePlot {
        LinePlot {
            title: "throughput".into(),
            x: Axis::log("batch size (samples)"),
            y: Axis::log("throughput (samples/s)"),
            series: vec![
                Series::new(
                    "tfn/4x4-o8, fused, forward",
                    vec![(1.0, 1e3), (4.0, 3.5e3), (16.0, 1.2e4)],
                ),
                Series::new(
                    "tfn/4x4-o8, composite, forward",
                    vec![(1.0, 1e3), (4.0, 3.5e3), (16.0, 1.2e4)],
                ),
                Series::new(
                    "lmf/4x4-o8-r2, fused, training step",
                    vec![(2.0, 1.5e3), (8.0, 0.0)],
                ),
            ],
        }
    }

    /// Each legend label appears once, in the series' order, after the axis titles; the x
    /// ticks stay within the data's range (the data stop at 16); coinciding series differ
    /// by marker (circles for series 0, squares for series 1: three points and a legend
    /// sample each); a point of 0 on a log axis is left out.
    #[test]
    fn line_plot_labels_follow_the_data() {
        let plot = line_plot();
        let svg = line_svg(&plot).unwrap();
        let texts = texts(&svg);
        let positions: Vec<usize> = plot
            .series
            .iter()
            .map(|s| {
                let found: Vec<usize> = (0..texts.len()).filter(|&i| texts[i] == s.label).collect();
                assert_eq!(found.len(), 1, "{}: {texts:?}", s.label);
                found[0]
            })
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "legend order {positions:?}"
        );
        for title in ["batch size (samples)", "throughput (samples/s)", "throughput"] {
            assert!(texts.iter().any(|t| t == title), "{title} missing: {texts:?}");
        }
        // x (batch) runs 1 to 16, y from 1000 to 12000: the ticks below 500 are x's.
        let ticks: Vec<f64> = texts.iter().filter_map(|t| t.parse().ok()).collect();
        let (x_ticks, y_ticks): (Vec<f64>, Vec<f64>) = ticks.iter().partition(|&&t| t < 500.0);
        assert!(!x_ticks.is_empty() && !y_ticks.is_empty(), "{texts:?}");
        assert!(
            x_ticks
                .iter()
                .all(|&t| (16.0 / 1.2 / 16.0..=16.0 * 1.2).contains(&t)),
            "x: {x_ticks:?}"
        );
        assert!(
            y_ticks.iter().all(|&t| (1e3 / 1.2..=1.2e4 * 1.2).contains(&t)),
            "y: {y_ticks:?}"
        );
        assert_eq!(svg.matches("<circle").count(), 3 + 1);
        // Squares: three points and the legend sample of series 1 (the background is a rect too).
        assert_eq!(svg.matches("<rect").count(), 1 + 3 + 1);
    }

    #[test]
    fn empty_and_mismatched_plots_are_refused() {
        let mut plot = line_plot();
        plot.series.iter_mut().for_each(|s| s.points.clear());
        assert!(line_svg(&plot).unwrap_err().to_string().contains("no point"));
        let bars = BarPlot {
            title: "MAE".into(),
            y_label: "test MAE".into(),
            groups: vec!["T".into(), "T+A".into()],
            series: vec![BarSeries {
                label: "concat".into(),
                values: vec![Some(0.9)],
            }],
            references: vec![],
            reference_label: String::new(),
        };
        assert_eq!(
            bar_svg(&bars).unwrap_err().to_string(),
            "plot: series `concat` has 1 values for 2 groups"
        );
    }

    /// Every series and the reference line have a legend entry; every group is named; a
    /// missing value draws no bar.
    #[test]
    fn bar_plot_names_groups_series_and_references() {
        let plot = BarPlot {
            title: "Test MAE".into(),
            y_label: "test MAE (label units)".into(),
            groups: vec!["T".into(), "T+A".into()],
            series: vec![
                BarSeries {
                    label: "unimodal".into(),
                    values: vec![Some(0.9), None],
                },
                BarSeries {
                    label: "tfn".into(),
                    values: vec![None, Some(0.7)],
                },
            ],
            references: vec![Some(0.8), Some(0.6)],
            reference_label: "best achievable MAE".into(),
        };
        let svg = bar_svg(&plot).unwrap();
        let texts = texts(&svg);
        for label in [
            "unimodal",
            "tfn",
            "best achievable MAE",
            "T",
            "T+A",
            "test MAE (label units)",
        ] {
            assert_eq!(
                texts.iter().filter(|t| *t == label).count(),
                1,
                "{label}: {texts:?}"
            );
        }
        // Background, two bars, two legend boxes.
        assert_eq!(svg.matches("<rect").count(), 1 + 2 + 2);
    }

    /// Values within one decade on a log axis still get tick labels (the axis is drawn
    /// linear): peak memory from 67 to 85 MiB.
    #[test]
    fn a_log_axis_within_a_decade_keeps_its_ticks() {
        let plot = LinePlot {
            title: "memory".into(),
            x: Axis::log("batch size (samples)"),
            y: Axis::log("peak memory (MiB)"),
            series: vec![Series::new(
                "tfn, fused, training step",
                vec![(1.0, 67.0), (16.0, 85.0)],
            )],
        };
        let texts = texts(&line_svg(&plot).unwrap());
        let y_ticks: Vec<f64> = texts
            .iter()
            .filter_map(|t| t.parse().ok())
            .filter(|&t: &f64| t >= 50.0)
            .collect();
        assert!(y_ticks.len() >= 2, "{texts:?}");
    }
}
