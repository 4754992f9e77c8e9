//! `cargo xtask bench --backend flex|ndarray|wgpu|cuda [--quick] [--filter PATTERN]`: runs
//! the criterion benchmarks of `mosaic-benches`, then joins criterion's estimates with the
//! cases' FLOP counts and memory into `target/mosaic-bench/<backend>/`: `report.json`
//! (schema in docs/benchmarks.md), `report.md`, `throughput.svg` and `memory.svg`.

use crate::{backends, check_driver, features, option, target_dir, workspace_root};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// One benchmark case's results.
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
    std::fs::write(out.join("throughput.svg"), plot(&rows, Plot::Throughput))
        .map_err(|e| format!("writing throughput.svg: {e}"))?;
    std::fs::write(out.join("memory.svg"), plot(&rows, Plot::Memory))
        .map_err(|e| format!("writing memory.svg: {e}"))?;
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

#[derive(Clone, Copy, PartialEq)]
enum Plot {
    /// Samples/s vs batch, forward and training step, per layer and shape.
    Throughput,
    /// Peak memory of a training step vs batch.
    Memory,
}

/// A log-log SVG line plot of every case group that was run at several batch sizes.
fn plot(rows: &[Row], kind: Plot) -> String {
    let mut groups: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for g in groups {
        let mut points: Vec<&Row> = rows.iter().filter(|r| r.group == g).collect();
        if points.len() < 2 {
            continue;
        }
        points.sort_by_key(|r| r.batch);
        let curves: &[(&str, usize)] = match kind {
            Plot::Throughput => &[("forward", 0), ("train", 1)],
            Plot::Memory => &[("train", 1)],
        };
        for &(what, k) in curves {
            let values = points
                .iter()
                .filter_map(|r| {
                    let y = match kind {
                        Plot::Throughput => r.samples_per_second(k),
                        Plot::Memory => r.peak_bytes? as f64 / 1048576.0,
                    };
                    (y > 0.0).then_some((r.batch as f64, y))
                })
                .collect();
            series.push((format!("{g} {what} (composite)"), values));
        }
    }
    let (w, h, left, bottom, top, right) = (760.0, 420.0, 70.0, 50.0, 30.0, 250.0);
    let all: Vec<(f64, f64)> = series.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    let range = |v: Vec<f64>| {
        let lo = v
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(1e-9)
            .log10()
            .floor();
        let hi = v
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
            .max(1e-9)
            .log10()
            .ceil();
        (lo, if hi > lo { hi } else { lo + 1.0 })
    };
    let (x0, x1) = range(all.iter().map(|p| p.0).collect());
    let (y0, y1) = range(all.iter().map(|p| p.1).collect());
    let px = |x: f64| left + (x.log10() - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| h - bottom - (y.log10() - y0) / (y1 - y0) * (h - bottom - top);
    let title = match kind {
        Plot::Throughput => "samples/s vs batch size (log-log)",
        Plot::Memory => "peak memory of a training step, MiB, vs batch size (log-log)",
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{left}\" y=\"18\" font-size=\"13\">{title}</text>\n"
    );
    for e in (x0 as i32)..=(x1 as i32) {
        let x = px(10f64.powi(e));
        let _ = writeln!(svg, "<line x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">1e{e}</text>", h - bottom, h - bottom + 16.0);
    }
    for e in (y0 as i32)..=(y1 as i32) {
        let y = py(10f64.powi(e));
        let _ = writeln!(svg, "<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">1e{e}</text>", w - right, left - 6.0, y + 4.0);
    }
    let colours = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    ];
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>",
            w - right + 8.0,
            top + 14.0 * (i as f64 + 1.0)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">batch size</text>",
        (left + w - right) / 2.0,
        h - 8.0
    );
    svg + "</svg>\n"
}
