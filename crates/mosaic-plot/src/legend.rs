//! The legend every plot draws below its chart: one entry per line, the series' sample
//! (line and marker, or a filled box) then its label.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor;

use crate::{colour, error, PlotError, FONT};

/// Height of one legend line, px.
pub(crate) const LINE: u32 = 20;

/// How an entry's sample is drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sample {
    /// A line through the series' marker (line plots).
    Line(Marker),
    /// The series' marker alone (scatter series).
    Marker(Marker),
    /// A filled box (bar plots).
    Box,
    /// A dashed grey line (reference values).
    Dashed,
}

/// The five markers series take in turn; with the ten colours, series `i` and `i + 10` are
/// the first to look alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    Circle,
    Square,
    Triangle,
    Cross,
    Diamond,
}

impl Marker {
    pub(crate) fn of(i: usize) -> Self {
        [
            Self::Circle,
            Self::Square,
            Self::Triangle,
            Self::Cross,
            Self::Diamond,
        ][i % 5]
    }
}

/// Draws `marker` of radius `r` centred on the pixel `at` of `area`.
pub(crate) fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (marker, r): (Marker, i32),
    at: (i32, i32),
    colour: RGBColor,
) -> Result<(), PlotError> {
    let (x, y) = at;
    let style = colour.filled();
    let drawn = match marker {
        Marker::Circle => area.draw(&Circle::new(at, r, style)),
        Marker::Square => area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], style)),
        Marker::Triangle => area.draw(&Polygon::new(
            vec![(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)],
            style,
        )),
        Marker::Cross => area
            .draw(&PathElement::new(
                vec![(x - r, y - r), (x + r, y + r)],
                colour.stroke_width(2),
            ))
            .and_then(|()| {
                area.draw(&PathElement::new(
                    vec![(x - r, y + r), (x + r, y - r)],
                    colour.stroke_width(2),
                ))
            }),
        Marker::Diamond => area.draw(&Polygon::new(
            vec![(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)],
            style,
        )),
    };
    drawn.map_err(error)
}

/// Draws `entries` (label and sample; entry `i` in colour `i`, unless the sample is
/// [`Sample::Dashed`]) one per line in `area`.
pub(crate) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Sample)],
) -> Result<(), PlotError> {
    for (i, (label, sample)) in entries.iter().enumerate() {
        let y = (LINE / 2 + LINE * i as u32) as i32;
        let (x0, x1) = (20, 48);
        let c = colour(i);
        match *sample {
            Sample::Line(marker) => {
                area.draw(&PathElement::new(vec![(x0, y), (x1, y)], c.stroke_width(2)))
                    .map_err(error)?;
                draw_marker(area, (marker, radius(i)), ((x0 + x1) / 2, y), c)?;
            }
            Sample::Marker(marker) => draw_marker(area, (marker, radius(i)), ((x0 + x1) / 2, y), c)?,
            Sample::Box => area
                .draw(&Rectangle::new([(x0 + 6, y - 6), (x1 - 6, y + 6)], c.filled()))
                .map_err(error)?,
            Sample::Dashed => area
                .draw(&DashedPathElement::new(
                    vec![(x0, y), (x1, y)],
                    4,
                    3,
                    BLACK.stroke_width(1),
                ))
                .map_err(error)?,
        }
        let style = (FONT, 13).into_font().color(&BLACK).pos(text_anchor::Pos::new(
            text_anchor::HPos::Left,
            text_anchor::VPos::Center,
        ));
        area.draw(&Text::new(label.clone(), (x1 + 8, y), style))
            .map_err(error)?;
    }
    Ok(())
}

/// The legend's height for `entries` entries, px.
pub(crate) fn height(entries: usize) -> u32 {
    LINE * entries as u32 + 10
}

/// Series `i`'s marker radius, px: 6, 4, 3 in turn; markers are drawn largest first, so
/// that where lines coincide a larger marker shows around a smaller one.
pub(crate) fn radius(i: usize) -> i32 {
    [6, 4, 3][i % 3]
}
