//! Criterion benchmarks of every fusion layer, coordination loss and graph layer: forward,
//! training step (forward + backward)
//! and the backend's matmul on the equivalent GEMM shape, for each case of
//! `mosaic_benches::plan`. Run through `cargo xtask bench`, which sets:
//!
//! - `MOSAIC_BENCH_BACKEND`: flex | ndarray | wgpu | cuda
//! - `MOSAIC_BENCH_QUICK`: `1` for the short plan and short measurements
//! - `MOSAIC_BENCH_FILTER`: comma-separated substrings of `group/batch` ids; a case runs
//!   when its id contains any of them (a pattern ending in `$` must end the id:
//!   `o128/1$` is batch 1 only, where `o128/1` also matches 16 and 1024)
//! - `MOSAIC_BENCH_OUT`: folder for `cases.tsv` (one line per case: id, path, FLOPs, GEMM
//!   shape, peak memory), which `cargo xtask bench` joins with criterion's estimates; not written
//!   when the filter selects no case.

// Built without a backend feature (as `cargo clippy --workspace --all-targets` does), `main`
// can only report that no backend is compiled in, and everything it would run is unused.
#![cfg_attr(
    not(any(feature = "flex", feature = "ndarray", feature = "wgpu", feature = "cuda")),
    allow(dead_code)
)]

use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use criterion::{BenchmarkId, Criterion};
use mosaic::graph::AggregationBackend;
use mosaic::FusionBackend;
use mosaic_benches::{peak_memory, plan, reset_peak_memory, resident_memory, Case};
use std::io::Write;
use std::time::Duration;

const MIB: f64 = 1024.0 * 1024.0;

/// What the benchmarks ask of a backend's memory.
trait MemoryProbe: Backend {
    /// Peak memory of one training step: process peak on CPU backends, growth of the device
    /// memory pool on cubecl backends.
    fn step_peak(_device: &Self::Device, step: &mut dyn FnMut()) -> Option<u64> {
        reset_peak_memory();
        let before = resident_memory()?;
        step();
        Some(peak_memory()?.saturating_sub(before))
    }

    /// The largest single buffer the device holds, where it has such a limit (a wgpu
    /// adapter's storage-buffer binding size: 128 MiB on lavapipe).
    fn max_buffer_bytes(_device: &Self::Device) -> Option<u64> {
        None
    }
}

#[cfg(feature = "flex")]
impl MemoryProbe for mosaic::backend::Flex {}
#[cfg(feature = "ndarray")]
impl MemoryProbe for mosaic::backend::NdArray {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
macro_rules! device_memory_probe {
    ($backend:ty, $runtime:ty) => {
        impl MemoryProbe for $backend {
            fn step_peak(device: &Self::Device, step: &mut dyn FnMut()) -> Option<u64> {
                use burn_cubecl::cubecl::Runtime;
                let client = <$runtime>::client(device);
                client.memory_cleanup();
                let before = client.memory_usage().ok()?.bytes_reserved;
                step();
                Some(
                    client
                        .memory_usage()
                        .ok()?
                        .bytes_reserved
                        .saturating_sub(before),
                )
            }

            fn max_buffer_bytes(device: &Self::Device) -> Option<u64> {
                use burn_cubecl::cubecl::Runtime;
                Some(<$runtime>::client(device).properties().memory.max_page_size)
            }
        }
    };
}
#[cfg(feature = "wgpu")]
device_memory_probe!(mosaic::backend::Wgpu, burn::backend::wgpu::WgpuRuntime);
#[cfg(feature = "cuda")]
device_memory_probe!(mosaic::backend::Cuda, burn_cubecl::cubecl::cuda::CudaRuntime);

/// Keeps the adapter cubecl's wgpu runtime reports choosing (it logs
/// `Using adapter AdapterInfo { name: "...", device_type: ..., .. }` at info level).
struct AdapterLog(std::sync::Mutex<Option<String>>);

impl log::Log for AdapterLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        let message = record.args().to_string();
        if let Some(info) = message.strip_prefix("Using adapter ") {
            let field = |key: &str| {
                let rest = &info[info.find(key)? + key.len()..];
                let end = match rest.strip_prefix('"') {
                    Some(quoted) => quoted.find('"')? + 2,
                    None => rest.find([',', '}'])?,
                };
                Some(rest[..end].trim_matches('"').to_string())
            };
            let name = field("name: ").unwrap_or_else(|| info.to_string());
            let kind = field("device_type: ").unwrap_or_default();
            *self.0.lock().expect("adapter log") = Some(format!("{name} ({kind})"));
        }
    }

    fn flush(&self) {}
}

static ADAPTER: AdapterLog = AdapterLog(std::sync::Mutex::new(None));

/// The backend's name, and for wgpu the adapter that ran.
fn device_name<B: Backend>(device: &B::Device) -> String {
    match ADAPTER.0.lock().expect("adapter log").as_ref() {
        Some(adapter) => format!("{}: {adapter}", B::name(device)),
        None => B::name(device),
    }
}

fn sync<B: Backend>(device: &B::Device) {
    B::sync(device).expect("the device finished its work");
}

fn bench_case<B>(c: &mut Criterion, case: &Case, device: &B::Device, out: &mut impl Write)
where
    B: FusionBackend + AggregationBackend + MemoryProbe,
{
    let mut group = c.benchmark_group(case.group());
    let id = |what: &str| BenchmarkId::new(what, case.batch);

    let layer = case.build::<B>(device).expect("a valid benchmark case");
    let inputs = case.inputs::<B>(device);
    group.bench_function(id("forward"), |b| {
        b.iter(|| {
            let h = layer.forward(&inputs).expect("valid inputs");
            sync::<B>(device);
            h
        });
    });

    let trainable = case.build::<Autodiff<B>>(device).expect("a valid benchmark case");
    let train_inputs: Vec<_> = case
        .inputs::<Autodiff<B>>(device)
        .into_iter()
        .map(burn::Tensor::require_grad)
        .collect();
    let mut step = || {
        let grads = trainable
            .forward(&train_inputs)
            .expect("valid inputs")
            .sum()
            .backward();
        sync::<B>(device);
        grads
    };
    group.bench_function(id("train"), |b| b.iter(&mut step));

    let (m, k, n) = case.gemm_shape();
    let a = Tensor::<B, 2>::random([m, k], Distribution::Uniform(-1.0, 1.0), device);
    let w = Tensor::<B, 2>::random([k, n], Distribution::Uniform(-1.0, 1.0), device);
    group.bench_function(id("matmul"), |b| {
        b.iter(|| {
            let y = a.clone().matmul(w.clone());
            sync::<B>(device);
            y
        });
    });
    group.finish();

    let peak = B::step_peak(device, &mut || drop(step()));
    writeln!(
        out,
        "{}\t{}\t{}\t{}\t{}\t{}\t{m}x{k}x{n}\t{}\t{}",
        case.group(),
        case.path.name(),
        case.batch,
        case.forward_flops(),
        3.0 * case.forward_flops(),
        2.0 * (m * k * n) as f64,
        peak.map_or("-".to_string(), |p| p.to_string()),
        device_name::<B>(device),
    )
    .expect("cases.tsv is writable");
}

fn run<B: FusionBackend + AggregationBackend + MemoryProbe>(device: B::Device) {
    let quick = std::env::var("MOSAIC_BENCH_QUICK").is_ok_and(|v| v == "1");
    let filter = std::env::var("MOSAIC_BENCH_FILTER").unwrap_or_default();
    let out_dir = std::path::PathBuf::from(std::env::var("MOSAIC_BENCH_OUT").unwrap_or_else(|_| ".".into()));
    let cases: Vec<Case> = plan(quick)
        .into_iter()
        .filter(|case| {
            let id = format!("{}/{}", case.group(), case.batch);
            filter.split(',').any(|pattern| match pattern.strip_suffix('$') {
                Some(end) => id.ends_with(end),
                None => id.contains(pattern),
            })
        })
        .collect();
    if cases.is_empty() {
        // No cases.tsv is written: `cargo xtask bench` reports the empty selection.
        eprintln!("mosaic-bench: the filter `{filter}` matches no benchmark case");
        return;
    }
    std::fs::create_dir_all(&out_dir).expect("the output folder can be created");
    let mut out = std::fs::File::create(out_dir.join("cases.tsv")).expect("cases.tsv can be created");
    let mut criterion = if quick {
        Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(600))
    } else {
        Criterion::default()
            .sample_size(20)
            .measurement_time(Duration::from_secs(3))
    }
    .without_plots()
    .configure_from_args();
    let max_buffer = B::max_buffer_bytes(&device);
    for (i, case) in cases.iter().enumerate() {
        let progress = format!(
            "mosaic-bench: [{}/{}] {} batch {}",
            i + 1,
            cases.len(),
            case.group(),
            case.batch
        );
        // The matmul reference (and the composite path's outer product) hold the GEMM's
        // operands whole; a device that cannot bind them would fail deep inside the runtime.
        let (m, k, n) = case.gemm_shape();
        let largest = 4 * (m * k).max(k * n).max(m * n) as u64;
        match max_buffer {
            Some(limit) if largest > limit => eprintln!(
                "{progress}: skipped, its GEMM operands need a buffer of {:.1} MiB and this \
                 device binds at most {:.1} MiB (a smaller batch, or `--quick`, fits)",
                largest as f64 / MIB,
                limit as f64 / MIB
            ),
            _ => {
                eprintln!("{progress}");
                bench_case::<B>(&mut criterion, case, &device, &mut out);
            }
        }
    }
    criterion.final_summary();
}

fn main() {
    if log::set_logger(&ADAPTER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    let backend = std::env::var("MOSAIC_BENCH_BACKEND").unwrap_or_else(|_| "flex".into());
    match backend.as_str() {
        #[cfg(feature = "flex")]
        "flex" => run::<mosaic::backend::Flex>(Default::default()),
        #[cfg(feature = "ndarray")]
        "ndarray" => run::<mosaic::backend::NdArray>(Default::default()),
        #[cfg(feature = "wgpu")]
        "wgpu" => run::<mosaic::backend::Wgpu>(Default::default()),
        #[cfg(feature = "cuda")]
        "cuda" => run::<mosaic::backend::Cuda>(Default::default()),
        other => {
            eprintln!("mosaic-bench: backend `{other}` is unknown or not compiled into this build");
            std::process::exit(2);
        }
    }
}
