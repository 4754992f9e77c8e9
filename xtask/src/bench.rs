//! `cargo xtask bench --backend flex|ndarray|wgpu|cuda [--quick] [--filter PATTERN]`: runs
//! the criterion benchmarks of `mosaic-benches`, then joins criterion's estimates with the
//! cases' FLOP counts and memory into `target/mosaic-bench/<backend>/`: `report.json`
//! (schema in docs/benchmarks.md), `report.md`, and the plots (`mosaic-plot`):
//! `throughput.svg`, `memory.svg` and `speedup.svg` (fused vs composite).

use crate::{backends, check_driver, features, option, target_dir, workspace_root};
use mosaic_plot::{line_svg, Axis, LinePlot, Series};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// One benchmark case's results.
#[derive(Clone)]
struct Row {
    group: String,
    /// `fused` or `composite`.
    path: String,
    batch: usize,
    forward_flops: f64,
    train_flops: f64,
    gemm_flops: f64,
    gemm_shape: String,
    peak_bytes: Option<u64>,
    device: String,
    /// Mean seconds per iteration: forward, training step, matmul.
    seconds: [f64; 3],
}

impl Row {
    fn gflops(&self, i: usize) -> f64 {
        let flops = [self.forward_flops, self.train_flops, self.gemm_flops][i];
        flops / self.seconds[i] / 1e9
    }

    fn samples_per_second(&self, i: usize) -> f64 {
        self.batch as f64 / self.seconds[i]
    }

    /// The group without its `/composite` suffix: layer and shape.
    fn case(&self) -> &str {
        self.group.strip_suffix("/composite").unwrap_or(&self.group)
    }

    /// Forward GFLOP/s as a share of the matmul's on the equivalent GEMM.
    fn percent_of_matmul(&self) -> Option<f64> {
        (self.forward_flops > 0.0).then(|| 100.0 * self.gflops(0) / self.gflops(2))
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let backend = option(args, "--backend")?.ok_or("bench needs --backend flex|ndarray|wgpu|cuda")?;
    if !backends().iter().any(|b| b == backend) {
        return Err(format!(
            "unknown backend `{backend}`; expected one of {}",
            backends().join(", ")
        ));
    }
    let quick = args.iter().any(|a| a == "--quick");
    let filter = option(args, "--filter")?.unwrap_or("");
    for (i, a) in args.iter().enumerate() {
        let is_value = i > 0 && ["--backend", "--filter"].contains(&args[i - 1].as_str());
        if !is_value && !["--backend", "--filter", "--quick"].contains(&a.as_str()) {
            return Err(format!(
                "unknown option `{a}` (bench takes --backend, --quick, --filter)"
            ));
        }
    }
    check_driver(backend)?;

    let root = workspace_root();
    let out = target_dir().join("mosaic-bench").join(backend);
    let criterion_home = out.join("criterion");
    let _ = std::fs::remove_dir_all(&out);
    let features = features(&["mosaic", "mosaic-benches"]);
    let cargo_args = [
        "bench",
        "--profile",
        "dev",
        "-p",
        "mosaic-benches",
        "--bench",
        "fusion",
        "--features",
        &features,
    ];
    println!(
        "xtask: cargo {} ({backend}{}{})",
        cargo_args.join(" "),
        if quick { ", quick" } else { "" },
        if filter.is_empty() {
            String::new()
        } else {
            format!(", filter `{filter}`")
        }
    );
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(cargo_args)
        .current_dir(&root)
        .env("MOSAIC_BENCH_BACKEND", backend)
        .env("MOSAIC_BENCH_QUICK", if quick { "1" } else { "0" })
        .env("MOSAIC_BENCH_FILTER", filter)
        .env("MOSAIC_BENCH_OUT", &out)
        .env("CRITERION_HOME", &criterion_home)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("the benchmarks failed ({status}); see the lines above"));
    }

    if !out.join("cases.tsv").exists() {
        return Err(format!(
            "the filter `{filter}` matches no benchmark case (ids look like `tfn/32x32x128-o128/64` and `tfn/32x32x128-o128/composite/64`; commas separate alternatives)"
        ));
    }
    let rows = read_rows(&out, &criterion_home)?;
    if rows.is_empty() {
        return Err("every selected case was skipped (see the lines above): nothing to report".into());
    }
    let device = rows.first().map_or("?", |r| r.device.as_str()).to_string();
    std::fs::write(
        out.join("report.json"),
        report_json(backend, &device, quick, &rows),
    )
    .map_err(|e| format!("writing report.json: {e}"))?;
    let table = report_markdown(backend, &device, &rows);
    std::fs::write(out.join("report.md"), &table).map_err(|e| format!("writing report.md: {e}"))?;
    for (name, kind) in [
        ("throughput.svg", Plot::Throughput),
        ("memory.svg", Plot::Memory),
        ("speedup.svg", Plot::Speedup),
    ] {
        if let Some(svg) = plot(&rows, kind, backend)? {
            std::fs::write(out.join(name), svg).map_err(|e| format!("writing {name}: {e}"))?;
        }
    }
    println!("\n{table}");
    println!("xtask: report, table and plots in {}", out.display());
    Ok(())
}

/// The mean point estimate (ns) in a criterion `estimates.json`.
fn mean_seconds(path: &Path) -> Result<f64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mean = text
        .find("\"mean\"")
        .ok_or_else(|| format!("{}: no mean", path.display()))?;
    let key = "\"point_estimate\":";
    let start = text[mean..]
        .find(key)
        .ok_or_else(|| format!("{}: no point estimate", path.display()))?
        + mean
        + key.len();
    let number: String = text[start..]
        .chars()
        .skip_while(|c| c.is_whitespace())
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    number
        .parse::<f64>()
        .map(|ns| ns / 1e9)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn read_rows(out: &Path, criterion_home: &Path) -> Result<Vec<Row>, String> {
    let cases = std::fs::read_to_string(out.join("cases.tsv")).map_err(|e| format!("cases.tsv: {e}"))?;
    cases
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 9 {
                return Err(format!("cases.tsv: malformed line `{line}`"));
            }
            let number = |s: &str| s.parse::<f64>().map_err(|e| format!("cases.tsv: `{s}`: {e}"));
            let batch: usize = f[2].parse().map_err(|e| format!("cases.tsv: `{}`: {e}", f[2]))?;
            // criterion replaces '/' in group names with '_'.
            let dir = criterion_home.join(f[0].replace('/', "_"));
            let mut seconds = [0.0; 3];
            for (i, what) in ["forward", "train", "matmul"].iter().enumerate() {
                seconds[i] =
                    mean_seconds(&dir.join(what).join(batch.to_string()).join("new/estimates.json"))?;
            }
            Ok(Row {
                group: f[0].to_string(),
                path: f[1].to_string(),
                batch,
                forward_flops: number(f[3])?,
                train_flops: number(f[4])?,
                gemm_flops: number(f[5])?,
                gemm_shape: f[6].to_string(),
                peak_bytes: f[7].parse().ok(),
                device: f[8].to_string(),
                seconds,
            })
        })
        .collect()
}

fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

fn report_json(backend: &str, device: &str, quick: bool, rows: &[Row]) -> String {
    let mut json = format!(
        "{{\n  \"schema\": 1,\n  \"backend\": \"{backend}\",\n  \"device\": \"{}\",\n  \"quick\": {quick},\n  \"results\": [\n",
        device.replace('"', "'")
    );
    for (i, r) in rows.iter().enumerate() {
        let (layer, shape) = r.case().split_once('/').unwrap_or((&r.group, ""));
        let pass = |name: &str, k: usize| {
            format!(
                "\"{name}\": {{\"seconds\": {}, \"samples_per_second\": {}, \"gflops\": {}}}",
                json_number(r.seconds[k]),
                json_number(r.samples_per_second(k)),
                json_number(r.gflops(k))
            )
        };
        let _ = writeln!(
            json,
            "    {{\"layer\": \"{layer}\", \"shape\": \"{shape}\", \"batch\": {}, \"path\": \"{}\", \
             \"forward_flops\": {}, \"train_flops\": {}, \"gemm_shape\": \"{}\", {}, {}, {}, \
             \"percent_of_matmul\": {}, \"peak_memory_bytes\": {}}}{}",
            r.batch,
            r.path,
            json_number(r.forward_flops),
            json_number(r.train_flops),
            r.gemm_shape,
            pass("forward", 0),
            pass("train", 1),
            pass("matmul", 2),
            r.percent_of_matmul().map_or("null".into(), json_number),
            r.peak_bytes.map_or("null".into(), |b| b.to_string()),
            if i + 1 < rows.len() { "," } else { "" }
        );
    }
    json + "  ]\n}\n"
}

fn report_markdown(backend: &str, device: &str, rows: &[Row]) -> String {
    let mut md = format!(
        "Backend `{backend}` ({device}). Times are criterion's mean per iteration; GFLOP/s from the \
         formula FLOPs (docs/benchmarks.md); % = forward GFLOP/s over the backend's matmul on the \
         equivalent GEMM; memory = peak of one training step.\n\n\
         | case | path | batch | forward ms | samples/s | GFLOP/s | train ms | train GFLOP/s | matmul GFLOP/s | % of matmul | peak MiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        let gf = |k: usize| {
            if r.forward_flops > 0.0 {
                format!("{:.1}", r.gflops(k))
            } else {
                "–".into()
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.3} | {:.0} | {} | {:.3} | {} | {:.1} | {} | {} |",
            r.case(),
            r.path,
            r.batch,
            r.seconds[0] * 1e3,
            r.samples_per_second(0),
            gf(0),
            r.seconds[1] * 1e3,
            gf(1),
            r.gflops(2),
            r.percent_of_matmul().map_or("–".into(), |p| format!("{p:.0}%")),
            r.peak_bytes
                .map_or("–".into(), |b| format!("{:.1}", b as f64 / 1048576.0)),
        );
    }
    md + &fused_vs_composite(rows)
}

/// The fused path against the composite path on each case that ran both: speed-ups
/// (composite time / fused time, > 1 when fused is faster) and memory ratio.
fn fused_vs_composite(rows: &[Row]) -> String {
    let mut md = String::new();
    for fused in rows.iter().filter(|r| r.path == "fused") {
        let Some(composite) = rows
            .iter()
            .find(|r| r.path == "composite" && r.case() == fused.case() && r.batch == fused.batch)
        else {
            continue;
        };
        if md.is_empty() {
            md.push_str(
                "\nFused vs composite (same run): speed-up = composite time / fused time; \
                 memory = fused step peak / composite step peak.\n\n\
                 | case | batch | forward speed-up | train speed-up | memory |\n|---|---:|---:|---:|---:|\n",
            );
        }
        let memory = match (fused.peak_bytes, composite.peak_bytes) {
            (Some(f), Some(c)) if c > 0 => format!("{:.1}%", 100.0 * f as f64 / c as f64),
            _ => "–".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.2}× | {:.2}× | {memory} |",
            fused.case(),
            fused.batch,
            composite.seconds[0] / fused.seconds[0],
            composite.seconds[1] / fused.seconds[1],
        );
    }
    md
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Plot {
    /// Samples/s vs batch, forward and training step, per case and path.
    Throughput,
    /// Peak memory of a training step vs batch, per case and path.
    Memory,
    /// Composite time / fused time vs batch, forward and training step, per case.
    Speedup,
}

/// What the two timed steps are called in labels.
const STEPS: [&str; 2] = ["forward", "training step"];

/// The plot's series: one per case, path (fused or composite) and step that ran at two
/// batch sizes or more, labelled with all three (`lmf/32x32x128-o128-r32, fused, forward`).
fn series(rows: &[Row], kind: Plot) -> Vec<Series> {
    let mut keys: Vec<(&str, &str)> = rows.iter().map(|r| (r.case(), r.path.as_str())).collect();
    keys.sort_unstable();
    keys.dedup();
    let steps: &[usize] = match kind {
        Plot::Throughput | Plot::Speedup => &[0, 1],
        Plot::Memory => &[1],
    };
    let mut out = Vec::new();
    for (case, path) in keys {
        if kind == Plot::Speedup && path != "fused" {
            continue;
        }
        let mut runs: Vec<&Row> = rows
            .iter()
            .filter(|r| r.case() == case && r.path == path)
            .collect();
        runs.sort_by_key(|r| r.batch);
        for &k in steps {
            let points: Vec<(f64, f64)> = runs
                .iter()
                .filter_map(|r| {
                    let y = match kind {
                        Plot::Throughput => r.samples_per_second(k),
                        Plot::Memory => r.peak_bytes? as f64 / 1048576.0,
                        Plot::Speedup => {
                            let composite = rows
                                .iter()
                                .find(|c| c.path == "composite" && c.case() == case && c.batch == r.batch)?;
                            composite.seconds[k] / r.seconds[k]
                        }
                    };
                    // Every plot is log-log: a zero (a peak below the allocator's
                    // resolution) has no place on it; the table keeps it.
                    (y > 0.0).then_some((r.batch as f64, y))
                })
                .collect();
            if points.len() < 2 {
                continue;
            }
            let label = match kind {
                Plot::Speedup => format!("{case}, {}", STEPS[k]),
                _ => format!("{case}, {path}, {}", STEPS[k]),
            };
            out.push(Series::new(label, points));
        }
    }
    out
}

/// The plot of `kind` for the report, or `None` when no case ran at two batch sizes.
fn plot(rows: &[Row], kind: Plot, backend: &str) -> Result<Option<String>, String> {
    let series = series(rows, kind);
    if series.is_empty() {
        return Ok(None);
    }
    let (title, y) = match kind {
        Plot::Throughput => ("throughput", Axis::log("throughput (samples/s)")),
        Plot::Memory => ("peak memory of one training step", Axis::log("peak memory (MiB)")),
        Plot::Speedup => (
            "fused vs composite: speed-up (composite time / fused time)",
            // Linear: the ratios span one or two decades, and a log axis would label only
            // its powers of ten.
            Axis::linear("speed-up (×, > 1: fused faster)"),
        ),
    };
    let plot = LinePlot {
        title: format!("{title}, {backend}"),
        x: Axis::log("batch size (samples)"),
        y,
        series,
    };
    line_svg(&plot).map(Some).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, path: &str, batch: usize, seconds: f64, peak: u64) -> Row {
        Row {
            group: group.into(),
            path: path.into(),
            batch,
            forward_flops: 1e6,
            train_flops: 3e6,
            gemm_flops: 1e6,
            gemm_shape: "1x1x1".into(),
            peak_bytes: Some(peak),
            device: "cpu".into(),
            seconds: [seconds, 2.0 * seconds, seconds],
        }
    }

    /// The composite rows' group ends in `/composite`; each series says its path, so the
    /// fused lines are never labelled composite (the old plots' bug), and the speed-up is
    /// composite time over fused time at the same batch.
    #[test]
    fn series_are_labelled_with_case_path_and_step() {
        let rows = vec![
            row("lmf/8x8-o4-r2", "fused", 16, 1.0, 100),
            row("lmf/8x8-o4-r2", "fused", 64, 2.0, 200),
            row("lmf/8x8-o4-r2/composite", "composite", 16, 3.0, 300),
            row("lmf/8x8-o4-r2/composite", "composite", 64, 8.0, 800),
        ];
        let labels = |kind| -> Vec<String> { series(&rows, kind).into_iter().map(|s| s.label).collect() };
        // A case whose peaks were all 0 has no memory series.
        let mut unmeasured = rows.clone();
        unmeasured.iter_mut().for_each(|r| r.peak_bytes = Some(0));
        assert!(series(&unmeasured, Plot::Memory).is_empty());
        assert_eq!(
            labels(Plot::Throughput),
            [
                "lmf/8x8-o4-r2, composite, forward",
                "lmf/8x8-o4-r2, composite, training step",
                "lmf/8x8-o4-r2, fused, forward",
                "lmf/8x8-o4-r2, fused, training step",
            ]
        );
        assert_eq!(
            labels(Plot::Memory),
            [
                "lmf/8x8-o4-r2, composite, training step",
                "lmf/8x8-o4-r2, fused, training step"
            ]
        );
        let speedup = series(&rows, Plot::Speedup);
        assert_eq!(speedup[0].label, "lmf/8x8-o4-r2, forward");
        assert_eq!(speedup[0].points, [(16.0, 3.0), (64.0, 4.0)]);
        let fused_memory = &series(&rows, Plot::Memory)[1];
        assert_eq!(
            fused_memory.points,
            [(16.0, 100.0 / 1048576.0), (64.0, 200.0 / 1048576.0)]
        );
        let svg = plot(&rows, Plot::Throughput, "flex").unwrap().unwrap();
        for label in labels(Plot::Throughput) {
            assert_eq!(svg.lines().filter(|l| l.trim() == label).count(), 1, "{label}");
        }
        assert!(svg.contains("throughput (samples/s)") && svg.contains("batch size (samples)"));
    }
}
