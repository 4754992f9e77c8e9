//! Grouped bar plots: one group per row of a table, one bar per series, with an optional
//! reference value per group drawn as a dashed line across the group.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor;

use crate::legend::{self, Sample};
use crate::{colour, error, width_for, PlotError, FONT};

/// One series of bars: its legend label and a value per group (`None`: no bar there).
#[derive(Debug, Clone)]
pub struct BarSeries {
    /// What the bars show, e.g. `tensor fusion`.
    pub label: String,
    /// One value per group, in the groups' order.
    pub values: Vec<Option<f64>>,
}

/// A grouped bar plot. The value axis starts at 0.
#[derive(Debug, Clone)]
pub struct BarPlot {
    /// The title above the chart.
    pub title: String,
    /// The value axis' title, unit included.
    pub y_label: String,
    /// The groups' names, left to right.
    pub groups: Vec<String>,
    /// The bars of each group, in this order (a group's missing values leave no gap).
    pub series: Vec<BarSeries>,
    /// A reference value per group (e.g. the best achievable), drawn dashed, and its
    /// legend label; empty for none.
    pub references: Vec<Option<f64>>,
    /// The legend label of the references.
    pub reference_label: String,
}

/// Renders `plot` as an SVG document.
///
/// # Errors
/// A plot without a group or a value, a series whose value count differs from the group
/// count, or a drawing error.
pub fn bar_svg(plot: &BarPlot) -> Result<String, PlotError> {
    let groups = plot.groups.len();
    if let Some(bad) = plot.series.iter().find(|s| s.values.len() != groups) {
        return Err(PlotError(format!(
            "series `{}` has {} values for {groups} groups",
            bad.label,
            bad.values.len()
        )));
    }
    let top = plot
        .series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .chain(plot.references.iter().flatten())
        .fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    if groups == 0 || !top.is_finite() {
        return Err(PlotError(format!("`{}` has no value to draw", plot.title)));
    }
    let mut entries: Vec<(String, Sample)> = plot
        .series
        .iter()
        .map(|s| (s.label.clone(), Sample::Box))
        .collect();
    if plot.references.iter().any(Option::is_some) {
        entries.push((plot.reference_label.clone(), Sample::Dashed));
    }
    let width = width_for(entries.iter().map(|e| e.0.chars().count()), 720);
    let chart_height = 420;
    let height = chart_height + legend::height(entries.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(error)?;
        let (chart_area, legend_area) = root.split_vertically(chart_height);
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(&plot.title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..groups as f64, 0.0..top * 1.1)
            .map_err(error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE.mix(0.0))
            .x_labels(0)
            .y_desc(plot.y_label.as_str())
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(error)?;
        // Each group spans [g, g + 1); its bars (the series with a value there) stand side by
        // side, centred, each as wide as one of the fullest group's bars.
        let present = |g: usize| -> Vec<usize> {
            (0..plot.series.len())
                .filter(|&i| plot.series[i].values[g].is_some())
                .collect()
        };
        let widest = (0..groups).map(|g| present(g).len()).max().unwrap_or(1).max(1);
        let slot = 0.8 / widest as f64;
        for g in 0..groups {
            let members = present(g);
            let start = g as f64 + 0.5 - slot * members.len() as f64 / 2.0;
            let bars = members.iter().enumerate().filter_map(|(k, &i)| {
                let x0 = start + slot * k as f64;
                let v = plot.series[i].values[g]?;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + slot * 0.9, v)],
                    colour(i).filled(),
                ))
            });
            chart.draw_series(bars).map_err(error)?;
        }
        for (g, reference) in plot.references.iter().enumerate() {
            if let Some(v) = *reference {
                let line = DashedPathElement::new(
                    vec![(g as f64 + 0.05, v), (g as f64 + 0.95, v)],
                    5,
                    4,
                    BLACK.stroke_width(1),
                );
                chart.draw_series(std::iter::once(line)).map_err(error)?;
            }
        }
        // The groups' names under their bars.
        let style = (FONT, 13).into_font().color(&BLACK).pos(text_anchor::Pos::new(
            text_anchor::HPos::Center,
            text_anchor::VPos::Top,
        ));
        for (g, name) in plot.groups.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
            root.draw(&Text::new(name.clone(), (x, y + 8), style.clone()))
                .map_err(error)?;
        }
        legend::draw(&legend_area, &entries)?;
        root.present().map_err(error)?;
    }
    Ok(svg)
}
