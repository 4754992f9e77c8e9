//! A grid of small grey images with a label per row and per column (e.g. the images an
//! autoencoder generates from sound, under the real ones).

use crate::{error, PlotError, FONT};
use plotters::prelude::*;

/// One row of the grid.
#[derive(Debug, Clone)]
pub struct ImageRow {
    /// Written left of the row.
    pub label: String,
    /// Row-major pixels of each image, ink in [0, 1] (0 white, 1 black; clamped).
    pub images: Vec<Vec<f32>>,
}

/// A grid of images of `width × height` pixels.
#[derive(Debug, Clone)]
pub struct ImageGrid {
    /// The caption.
    pub title: String,
    /// Pixels per image row.
    pub width: usize,
    /// Pixel rows per image.
    pub height: usize,
    /// Written above each column.
    pub column_labels: Vec<String>,
    /// The rows, top to bottom.
    pub rows: Vec<ImageRow>,
}

/// Renders `grid` as an SVG document, each pixel a grey square.
///
/// # Errors
/// No image, an image whose pixel count is not `width × height`, or a drawing error.
pub fn image_grid_svg(grid: &ImageGrid) -> Result<String, PlotError> {
    let pixels = grid.width * grid.height;
    if grid.rows.iter().all(|r| r.images.is_empty()) || pixels == 0 {
        return Err(PlotError(format!("`{}` has no image to draw", grid.title)));
    }
    if let Some((r, i)) = grid.rows.iter().enumerate().find_map(|(r, row)| {
        row.images
            .iter()
            .position(|im| im.len() != pixels)
            .map(|i| (r, i))
    }) {
        return Err(PlotError(format!(
            "`{}`: image {i} of row {r} has {} pixels, expected {} × {}",
            grid.title,
            grid.rows[r].images[i].len(),
            grid.width,
            grid.height
        )));
    }
    const CELL: i32 = 6;
    const GAP: i32 = 8;
    let label_width = 14
        + 7 * grid
            .rows
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(0) as i32;
    let columns = grid.rows.iter().map(|r| r.images.len()).max().unwrap_or(0) as i32;
    let (image_w, image_h) = (grid.width as i32 * CELL, grid.height as i32 * CELL);
    let (top, left) = (56, label_width);
    let width = left + columns * (image_w + GAP) + GAP;
    let height = top + grid.rows.len() as i32 * (image_h + GAP) + GAP;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(error)?;
        let text = |size: u32| TextStyle::from((FONT, size).into_font()).color(&BLACK);
        root.draw(&Text::new(grid.title.clone(), (GAP, 8), text(16)))
            .map_err(error)?;
        for (c, label) in grid.column_labels.iter().enumerate() {
            let x = left + c as i32 * (image_w + GAP) + image_w / 2 - 4 * label.chars().count() as i32;
            root.draw(&Text::new(label.clone(), (x, top - 20), text(13)))
                .map_err(error)?;
        }
        for (r, row) in grid.rows.iter().enumerate() {
            let y0 = top + r as i32 * (image_h + GAP);
            root.draw(&Text::new(
                row.label.clone(),
                (GAP, y0 + image_h / 2 - 7),
                text(13),
            ))
            .map_err(error)?;
            for (c, image) in row.images.iter().enumerate() {
                let x0 = left + c as i32 * (image_w + GAP);
                for (p, &ink) in image.iter().enumerate() {
                    let grey = (255.0 * (1.0 - ink.clamp(0.0, 1.0))).round() as u8;
                    let (x, y) = (
                        x0 + (p % grid.width) as i32 * CELL,
                        y0 + (p / grid.width) as i32 * CELL,
                    );
                    root.draw(&Rectangle::new(
                        [(x, y), (x + CELL, y + CELL)],
                        RGBColor(grey, grey, grey).filled(),
                    ))
                    .map_err(error)?;
                }
            }
        }
        root.present().map_err(error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(images: Vec<Vec<f32>>) -> ImageGrid {
        ImageGrid {
            title: "generated".into(),
            width: 2,
            height: 2,
            column_labels: vec!["0".into(), "1".into()],
            rows: vec![ImageRow {
                label: "real".into(),
                images,
            }],
        }
    }

    #[test]
    fn draws_each_pixel_in_its_grey_with_the_labels() {
        let svg = image_grid_svg(&grid(vec![vec![0.0, 1.0, 0.5, 2.0], vec![0.0; 4]])).unwrap();
        let svg = svg.replace('\n', "");
        for label in [">generated<", ">real<", ">0<", ">1<"] {
            assert!(svg.contains(label), "{label} missing");
        }
        // Pixel squares: black twice (1 and the clamped 2), mid grey once, white five times
        // (and the background).
        let squares = |fill: &str| svg.matches(&format!("fill=\"{fill}\" stroke=\"none\"")).count();
        assert_eq!(
            (squares("#000000"), squares("#808080"), squares("#FFFFFF")),
            (2, 1, 6)
        );
    }

    #[test]
    fn a_wrong_image_size_is_named() {
        let err = image_grid_svg(&grid(vec![vec![0.0; 3]])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plot: `generated`: image 0 of row 0 has 3 pixels, expected 2 × 2"
        );
        assert!(image_grid_svg(&grid(vec![])).is_err());
    }
}
