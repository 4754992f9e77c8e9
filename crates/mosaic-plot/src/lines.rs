//! Line plots: series of `(x, y)` points, on linear or log axes.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

use crate::legend::{self, Marker, Sample};
use crate::{colour, error, width_for, Axis, PlotError, FONT};

/// One line: its legend label and its points (drawn in the order given).
#[derive(Debug, Clone)]
pub struct Series {
    /// What was measured, e.g. `lmf 32x32x128-o128-r32, fused, forward`.
    pub label: String,
    /// `(x, y)` points; on a log axis, points with a value ≤ 0 are left out.
    pub points: Vec<(f64, f64)>,
    /// Markers only, no line joining them (a scatter plot's group).
    pub scatter: bool,
}

impl Series {
    /// A series drawn as a line with markers.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            scatter: false,
        }
    }

    /// A series drawn as markers alone: one group of a scatter plot.
    pub fn scatter(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            scatter: true,
            ..Series::new(label, points)
        }
    }
}

/// A line plot.
#[derive(Debug, Clone)]
pub struct LinePlot {
    /// The title above the chart.
    pub title: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The lines, each with a legend entry.
    pub series: Vec<Series>,
}

/// The range an axis shows for `values`: the data's, with a margin (a factor of 1.2 on a log
/// axis, 5 % of the span on a linear one).
fn range(values: impl Iterator<Item = f64> + Clone, log: bool) -> std::ops::Range<f64> {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if log {
        lo / 1.2..hi * 1.2
    } else {
        let margin = ((hi - lo) * 0.05).max(hi.abs() * 0.05).max(1e-9);
        lo - margin..hi + margin
    }
}

/// A short tick label: `1e4` style for large or small values, plain otherwise.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e5).contains(&a) {
        format!("{v:.0e}")
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Renders `plot` as an SVG document.
///
/// # Errors
/// A plot without a single drawable point, or a drawing error.
pub fn line_svg(plot: &LinePlot) -> Result<String, PlotError> {
    let keep = |&(x, y): &(f64, f64)| {
        x.is_finite() && y.is_finite() && (!plot.x.log || x > 0.0) && (!plot.y.log || y > 0.0)
    };
    let points: Vec<Vec<(f64, f64)>> = plot
        .series
        .iter()
        .map(|s| s.points.iter().copied().filter(keep).collect())
        .collect();
    let all = points.iter().flatten();
    if all.clone().next().is_none() {
        return Err(PlotError(format!("`{}` has no point to draw", plot.title)));
    }
    // A log axis over less than a decade would label no tick (plotters labels its powers
    // of ten): such an axis is drawn linear.
    let spans_decade = |values: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        hi >= 10.0 * lo
    };
    let x_log = plot.x.log && spans_decade(&mut all.clone().map(|p| p.0));
    let y_log = plot.y.log && spans_decade(&mut all.clone().map(|p| p.1));
    let x_range = range(all.clone().map(|p| p.0), x_log);
    let y_range = range(all.map(|p| p.1), y_log);

    let width = width_for(plot.series.iter().map(|s| s.label.chars().count()), 760);
    let chart_height = 440;
    let height = chart_height + legend::height(plot.series.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(error)?;
        let (chart_area, legend_area) = root.split_vertically(chart_height);
        let mut builder = ChartBuilder::on(&chart_area);
        builder
            .caption(&plot.title, (FONT, 16))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(75);
        // The four scale combinations are four coordinate types; one function draws each.
        match (x_log, y_log) {
            (true, true) => draw(
                builder.build_cartesian_2d(x_range.log_scale(), y_range.log_scale()),
                plot,
                &points,
            ),
            (true, false) => draw(
                builder.build_cartesian_2d(x_range.log_scale(), y_range),
                plot,
                &points,
            ),
            (false, true) => draw(
                builder.build_cartesian_2d(x_range, y_range.log_scale()),
                plot,
                &points,
            ),
            (false, false) => draw(builder.build_cartesian_2d(x_range, y_range), plot, &points),
        }?;
        let entries: Vec<(String, Sample)> = plot
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let marker = Marker::of(i);
                let sample = if s.scatter {
                    Sample::Marker(marker)
                } else {
                    Sample::Line(marker)
                };
                (s.label.clone(), sample)
            })
            .collect();
        legend::draw(&legend_area, &entries)?;
        root.present().map_err(error)?;
    }
    Ok(svg)
}

/// Draws the mesh, the axis titles, and each series' line and markers on `chart`.
fn draw<'a, DB, X, Y, E>(
    chart: Result<ChartContext<'a, DB, Cartesian2d<X, Y>>, E>,
    plot: &LinePlot,
    points: &[Vec<(f64, f64)>],
) -> Result<(), PlotError>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    E: std::fmt::Display,
{
    let mut chart = chart.map_err(error)?;
    chart
        .configure_mesh()
        .x_desc(plot.x.label.as_str())
        .y_desc(plot.y.label.as_str())
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .light_line_style(WHITE.mix(0.0))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(error)?;
    for (i, series) in points
        .iter()
        .enumerate()
        .filter(|(i, _)| !plot.series[*i].scatter)
    {
        chart
            .draw_series(LineSeries::new(series.iter().copied(), colour(i).stroke_width(2)))
            .map_err(error)?;
    }
    // Markers over every line, the largest first: where series coincide, each smaller
    // marker lands on top of the larger ones, which show around it.
    let area = chart.plotting_area().strip_coord_spec();
    let (dx, dy) = chart.plotting_area().get_base_pixel();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(legend::radius(i)));
    for i in order {
        for p in &points[i] {
            let (x, y) = chart.backend_coord(p);
            legend::draw_marker(
                &area,
                (Marker::of(i), legend::radius(i)),
                (x - dx, y - dy),
                colour(i),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(16.0), "16");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(250_000.0), "2e5");
    }
}
