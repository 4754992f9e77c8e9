//! Every file reader against hostile input: the CMU-MOSI `.csd` reader, the safetensors
//! weight reader, and a checkpoint folder's `config.json` and `model.mpk`. Hundreds of files
//! per reader, made by property-based mutation (proptest, fixed seed) of valid ones: bytes
//! overwritten, inserted or cut, 8-byte fields set to absurd sizes, JSON fields set to
//! hostile values, and random bytes. Each read must return (a value or an error); none may
//! panic, abort or allocate past the process's data limit.
//!
//! Its own test binary (process), so the limit, `RLIMIT_DATA` at [`DATA_LIMIT`], applies to
//! these tests alone: an allocation past it fails, which aborts the process and fails the run.
#![cfg(target_os = "linux")]

use mosaic::backend::{Cpu, CpuDevice};
use mosaic::fusion::LowRankFusionConfig;
use mosaic::interop::{to_safetensors_bytes, PytorchWeights, WeightStore};
use mosaic::models::{FusionKind, ModelConfig};
use mosaic::train::{Metrics, TrainOptions};
use mosaic_cli::checkpoint::{self, Output, RunConfig, RunMetrics};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most data (heap and anonymous mappings) the process may hold: 2 GiB.
const DATA_LIMIT: u64 = 2 << 30;
/// Files per reader and kind of mutation.
const CASES: u32 = 128;

fn limit_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let limit = libc::rlimit {
            rlim_cur: DATA_LIMIT,
            rlim_max: DATA_LIMIT,
        };
        // SAFETY: setrlimit reads the struct, which lives through the call.
        let status = unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) };
        assert_eq!(status, 0, "setrlimit(RLIMIT_DATA)");
    });
}

/// A change to a file's bytes; positions wrap around the file's length.
#[derive(Debug, Clone)]
enum Mutation {
    Byte(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    /// Eight bytes set to a little-endian size (HDF5 and MessagePack lengths, dimensions).
    Size(usize, u64),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let sizes = vec![
        u64::MAX,
        1 << 62,
        1 << 40,
        1 << 32,
        0xFFFF_FFFF,
        1 << 28,
        0x7FFF,
        0,
    ];
    let mutation = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), prop::sample::select(sizes)).prop_map(|(i, v)| Mutation::Size(i, v)),
    ];
    prop::collection::vec(mutation, 1..6)
}

fn mutate(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match m {
            Mutation::Byte(i, b) if !out.is_empty() => {
                let i = at(*i, out.len());
                out[i] = *b;
            }
            Mutation::Truncate(i) => out.truncate(at(*i, out.len() + 1)),
            Mutation::Insert(i, v) => {
                let i = at(*i, out.len() + 1);
                out.splice(i..i, v.iter().copied());
            }
            Mutation::Size(i, v) if out.len() >= 8 => {
                let i = at(*i, out.len() - 7);
                out[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
            _ => {}
        }
    }
    out
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x6d6f_7361_6963),
        ..Config::default()
    })
}

/// Files read and files refused, per reader, for the summary line.
struct Tally {
    name: &'static str,
    read: AtomicUsize,
    refused: AtomicUsize,
}

impl Tally {
    const fn new(name: &'static str) -> Self {
        Tally {
            name,
            read: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        }
    }

    fn count<T, E>(&self, result: &Result<T, E>) {
        let counter = if result.is_ok() { &self.read } else { &self.refused };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn report(&self) {
        let (read, refused) = (
            self.read.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        );
        eprintln!(
            "{}: {} hostile files, {read} read, {refused} refused with an error",
            self.name,
            read + refused
        );
        assert!(
            refused > 0,
            "{}: no mutated file was refused: the mutations did nothing",
            self.name
        );
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mosaic-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mosaic-data/tests/fixtures")
        .join(name)
}

/// Runs `check` on `CASES` mutations of each of `bases` and on `CASES` files of random bytes.
fn fuzz(bases: &[Vec<u8>], check: impl Fn(&[u8])) {
    limit_memory();
    // A runner per property: one counts its cases across runs.
    for base in bases {
        runner()
            .run(&mutations(), |m| {
                check(&mutate(base, &m));
                Ok(())
            })
            .unwrap();
    }
    runner()
        .run(&prop::collection::vec(any::<u8>(), 0..4096), |bytes| {
            check(&bytes);
            Ok(())
        })
        .unwrap();
}

#[test]
fn csd_reader_survives_hostile_files() {
    static TALLY: Tally = Tally::new("csd");
    let dir = scratch("csd");
    let path = dir.join("file.csd");
    // A contiguous file, a gzip-chunked one, and one that declares 64 GiB in 4.7 KB.
    let bases: Vec<Vec<u8>> = [
        "mosi/CMU_MOSI_TimestampedWordVectors.csd",
        "mosi/CMU_MOSI_COVAREP.csd",
        "broken/huge_declared.csd",
    ]
    .iter()
    .map(|name| std::fs::read(fixture(name)).unwrap())
    .collect();
    fuzz(&bases, |bytes| {
        std::fs::write(&path, bytes).unwrap();
        let result = mosaic_data::csd::read(&path);
        if let Ok(sequence) = &result {
            for entry in sequence.entries.values() {
                assert_eq!(entry.features.len(), entry.intervals.len() * entry.width);
            }
        }
        TALLY.count(&result);
    });
    TALLY.report();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn safetensors_reader_survives_hostile_files() {
    static TALLY: Tally = Tally::new("safetensors");
    let device = CpuDevice::default();
    let layer = || {
        LowRankFusionConfig::new(vec![3, 2, 4], 5, 4)
            .init::<Cpu>(&device)
            .unwrap()
    };
    let base = to_safetensors_bytes(&layer(), "fusion").unwrap();
    fuzz(&[base], |bytes| {
        let result = WeightStore::from_bytes(bytes, Path::new("weights.safetensors"))
            .and_then(|store| layer().import_weights(&store, "fusion"));
        TALLY.count(&result);
    });
    TALLY.report();
}

/// A checkpoint folder of a small trimodal low-rank model, written by mosaic.
fn checkpoint_folder(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let config = ModelConfig::new(
        ["text", "audio", "video"].map(String::from).to_vec(),
        FusionKind::Lmf,
        4,
        5,
        3,
        6,
    );
    let model = config.init::<Cpu>(&CpuDevice::default()).unwrap();
    let metrics = Metrics::new(&[0.5, -1.0], &[1.0, -2.0]).unwrap();
    let run_metrics = RunMetrics {
        test: metrics,
        valid: metrics,
        best_epoch: 1,
        epochs_run: 1,
        seconds: 0.1,
    };
    let run_config = RunConfig {
        model: config,
        train: TrainOptions::default(),
        dataset: "trimodal".into(),
    };
    Output::prepare(&run, false)
        .unwrap()
        .commit(model, &run_config, &run_metrics)
        .unwrap();
    checkpoint::load::<Cpu>(&run, &CpuDevice::default()).expect("mosaic reads its own checkpoint");
    run
}

#[test]
fn checkpoint_reader_survives_hostile_model_records() {
    static TALLY: Tally = Tally::new("model.mpk");
    let dir = scratch("mpk");
    let run = checkpoint_folder(&dir);
    let base = std::fs::read(run.join("model.mpk")).unwrap();
    fuzz(&[base], |bytes| {
        std::fs::write(run.join("model.mpk"), bytes).unwrap();
        TALLY.count(&checkpoint::load::<Cpu>(&run, &CpuDevice::default()));
    });
    TALLY.report();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoint_reader_survives_hostile_configs() {
    static TALLY: Tally = Tally::new("config.json");
    let dir = scratch("config");
    let run = checkpoint_folder(&dir);
    let base = std::fs::read_to_string(run.join("config.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&base).unwrap();
    let fields: Vec<String> = value["model"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| format!("/model/{k}"))
        .chain(["/train/lr", "/train/epochs", "/train/batch_size", "/dataset"].map(String::from))
        .collect();
    let hostile = vec![
        serde_json::json!(u64::MAX),
        serde_json::json!(1u64 << 40),
        serde_json::json!(4096),
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(1e308),
        serde_json::json!(0.5),
        serde_json::json!("NaN"),
        serde_json::json!(null),
        serde_json::json!(["text", "text"]),
        serde_json::json!({}),
    ];
    let check = |text: &[u8]| {
        std::fs::write(run.join("config.json"), text).unwrap();
        TALLY.count(&checkpoint::load::<Cpu>(&run, &CpuDevice::default()));
    };
    // Field values replaced (JSON stays JSON), then bytes mutated.
    limit_memory();
    runner()
        .run(
            &prop::collection::vec(
                (prop::sample::select(fields), prop::sample::select(hostile)),
                1..4,
            ),
            |changes| {
                let mut v = value.clone();
                for (field, new) in changes {
                    if let Some(slot) = v.pointer_mut(&field) {
                        *slot = new;
                    }
                }
                check(serde_json::to_string_pretty(&v).unwrap().as_bytes());
                Ok(())
            },
        )
        .unwrap();
    fuzz(&[base.into_bytes()], check);
    TALLY.report();
    std::fs::remove_dir_all(&dir).unwrap();
}
