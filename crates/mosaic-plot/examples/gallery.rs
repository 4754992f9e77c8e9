//! Writes one line plot and one bar plot to the folder given (default `target/plots`), to
//! look at: `cargo run -p mosaic-plot --example gallery -- /tmp/plots`.

use mosaic_plot::{bar_svg, line_svg, Axis, BarPlot, BarSeries, LinePlot, Series};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/plots".into()));
    std::fs::create_dir_all(&out)?;
    let curve = |scale: f64| vec![(1.0, scale), (4.0, 3.5 * scale), (16.0, 12.0 * scale)];
    let lines = LinePlot {
        title: "throughput, flex".into(),
        x: Axis::log("batch size (samples)"),
        y: Axis::log("throughput (samples/s)"),
        series: vec![
            Series::new("tfn/32x32x128-o128, fused, forward", curve(1e3)),
            Series::new("tfn/32x32x128-o128, composite, forward", curve(1e3)),
            Series::new("lmf/32x32x128-o128-r32, fused, training step", curve(4e2)),
        ],
    };
    std::fs::write(out.join("lines.svg"), line_svg(&lines)?)?;
    let bars = BarPlot {
        title: "Test MAE on trimodal (lower is better)".into(),
        y_label: "test MAE (label units)".into(),
        groups: vec!["T".into(), "T+A".into(), "T+A+V".into()],
        series: vec![
            BarSeries {
                label: "unimodal".into(),
                values: vec![Some(0.87), None, None],
            },
            BarSeries {
                label: "concat".into(),
                values: vec![None, Some(0.74), Some(0.61)],
            },
            BarSeries {
                label: "tfn".into(),
                values: vec![None, Some(0.70), Some(0.24)],
            },
        ],
        references: vec![Some(0.83), Some(0.66), Some(0.14)],
        reference_label: "best achievable MAE".into(),
    };
    std::fs::write(out.join("bars.svg"), bar_svg(&bars)?)?;
    println!("wrote {0}/lines.svg and {0}/bars.svg", out.display());
    Ok(())
}
