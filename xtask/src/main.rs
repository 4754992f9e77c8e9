//! mosaic's developer tasks: `cargo xtask <command>`.
//!
//! - `cargo xtask reproduce [ARGS]`: the README's main command, `mosaic reproduce` (the
//!   lecture's sentiment table on the bundled dataset). It builds the `mosaic` binary with
//!   the one backend it runs on (`--backend`, flex by default), nothing else: a newcomer's
//!   first result does not wait for the test matrix.
//! - `cargo xtask test [--backend all|flex|ndarray|wgpu|cuda]`: the test suite. `all` (the
//!   default) runs every test on flex, ndarray and wgpu and compiles, but does not run, the
//!   CUDA tests (they need an NVIDIA GPU: run `--backend cuda` on one).
//! - `cargo xtask demo [FUSION]`: the example that trains the sentiment model from Rust.
//! - `cargo xtask bench --backend B [--quick] [--filter PATTERN]`: the benchmarks and their
//!   report (`bench.rs`, docs/benchmarks.md).
//! - `cargo xtask lint`: clippy on every target with every backend, warnings denied (the
//!   workspace's `[lints]`: `missing_docs` and a pedantic subset, in the root Cargo.toml).
//! - `cargo xtask ci`: exactly what `.ci/run` runs after installing system packages:
//!   `cargo xtask lint`, `cargo xtask test` (its summary line `tests: N passed, N failed,
//!   N skipped`), then `mosaic reproduce` with the test build's binary.
//!
//! `test`, `lint`, `demo` and `bench` build `mosaic` with every backend (`flex, ndarray,
//! wgpu, cuda`: the kernels crate's features), so the tests, the CLI and the CUDA compile
//! check share one build of burn; `reproduce` builds its one backend.

mod bench;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The backends, in order: the features of the kernels crate (`kernels/Cargo.toml`), the
/// list its `for_each_backend!` macro expands in the code.
pub(crate) fn backends() -> Vec<String> {
    let manifest = workspace_root().join("kernels").join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    text.lines()
        .skip_while(|line| line.trim() != "[features]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.starts_with('#') && !["default", "testing"].contains(name))
        .map(String::from)
        .collect()
}

/// `crate/backend` for every backend and each of `crates`, comma-separated: what the
/// commands build with, so tests, the CLI and the benchmarks share one build of burn.
pub(crate) fn features(crates: &[&str]) -> String {
    let backends = backends();
    crates
        .iter()
        .flat_map(|krate| backends.iter().map(move |backend| format!("{krate}/{backend}")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The crates whose backend features `cargo test --workspace` (and `reproduce`, which runs
/// the `mosaic` binary of that build) enables.
const WORKSPACE_CRATES: [&str; 2] = ["mosaic", "mosaic-cli"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]).map(drop),
        Some("demo") => demo(&args[1..]),
        Some("reproduce") => reproduce(&args[1..]),
        Some("lint") => lint(),
        Some("ci") => ci(),
        Some("bench") => bench::run(&args[1..]),
        Some("help") | Some("--help") | Some("-h") | None => {
            println!("{}", usage());
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{}", usage())),
    }
}

fn usage() -> &'static str {
    "usage: cargo xtask <command>\n\
     \n\
     commands:\n\
     \x20 test [--backend all|flex|ndarray|wgpu|cuda]  run the test suite (default: all = flex, ndarray, wgpu)\n\
     \x20 reproduce [ARGS]                             `mosaic reproduce`: the sentiment table on the bundled data\n\
     \x20 demo [FUSION]                                train the sentiment model from Rust (FUSION: tfn, lmf, …)\n\
     \x20 lint                                         clippy on every target and backend, warnings denied\n\
     \x20 ci                                           what .ci/run runs: lint, the tests, then reproduce\n\
     \x20 bench --backend B [--quick] [--filter PAT]    benchmarks; report in target/mosaic-bench/B/"
}

pub(crate) fn workspace_root() -> PathBuf {
    // The checkout `cargo xtask` runs in (cargo sets the variable for `cargo run`), not the one
    // this binary was compiled in: a build folder shared by two checkouts (CI's cache) would
    // otherwise run the other checkout's code.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Cargo's build folder: `$CARGO_TARGET_DIR`, else `target/` in the workspace.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// Runs `cargo ARGS` in the workspace root, echoing the command.
fn cargo(args: &[&str]) -> Result<(), String> {
    println!("xtask: cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// Test counts summed over every `test result:` line cargo printed.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    passed: usize,
    failed: usize,
    filtered: usize,
}

impl Counts {
    /// `tests: N passed, N failed, N skipped`: the line CI reads.
    fn summary(self) -> String {
        format!(
            "tests: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.filtered
        )
    }
}

impl Counts {
    /// Adds the counts of a libtest summary line such as
    /// `test result: ok. 83 passed; 0 failed; 0 ignored; 0 measured; 23 filtered out; ...`.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(['.', ';']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next().and_then(|n| n.parse::<usize>().ok()), words.next())
            {
                match what {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    "filtered" => self.filtered += n,
                    _ => {}
                }
            }
        }
    }
}

/// Runs `cargo test ARGS`, echoing its output, and returns the summed test counts.
fn cargo_test(args: &[&str]) -> Result<Counts, String> {
    use std::io::{BufRead, BufReader};
    println!("xtask: cargo {}", args.join(" "));
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    let mut counts = Counts::default();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
        counts.add_line(&line);
        println!("{line}");
    }
    let status = child.wait().map_err(|e| format!("waiting for cargo: {e}"))?;
    if status.success() {
        Ok(counts)
    } else {
        Err(format!(
            "`cargo {}` failed ({status}): {} passed, {} failed",
            args.join(" "),
            counts.passed,
            counts.failed
        ))
    }
}

pub(crate) fn option<'a>(args: &'a [String], name: &str) -> Result<Option<&'a str>, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| format!("{name} needs a value")),
        None => Ok(None),
    }
}

/// Whether a Vulkan driver is installed (an ICD manifest in the standard places).
pub(crate) fn vulkan_driver_present() -> bool {
    let dirs = [
        "/usr/share/vulkan/icd.d",
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
    ];
    std::env::var_os("VK_DRIVER_FILES").is_some()
        || std::env::var_os("VK_ICD_FILENAMES").is_some()
        || dirs.iter().any(|d| {
            std::fs::read_dir(d)
                .map(|entries| {
                    entries
                        .flatten()
                        .any(|e| e.path().extension().is_some_and(|x| x == "json"))
                })
                .unwrap_or(false)
        })
        || cfg!(not(target_os = "linux"))
}

/// A clear error when `backend` (or `all`) needs a driver this machine does not have.
pub(crate) fn check_driver(backend: &str) -> Result<(), String> {
    if (backend == "all" || backend == "wgpu") && !vulkan_driver_present() {
        return Err(
            "no Vulkan driver found, so the wgpu backend cannot run: install one \
             (Debian/Ubuntu without a GPU: `apt-get install mesa-vulkan-drivers`, \
             Mesa's software device), or pick a CPU backend with `--backend flex`"
                .into(),
        );
    }
    if backend == "cuda" && !Path::new("/proc/driver/nvidia/version").exists() && cfg!(target_os = "linux") {
        return Err(
            "no NVIDIA driver found (/proc/driver/nvidia/version is missing): the cuda backend \
             needs a machine with an NVIDIA GPU; `cargo xtask test` still compiles the CUDA tests"
                .into(),
        );
    }
    Ok(())
}

fn test(args: &[String]) -> Result<Counts, String> {
    if let Some(unknown) = args.iter().step_by(2).find(|a| *a != "--backend") {
        return Err(format!("unknown option `{unknown}`\n{}", usage()));
    }
    let backend = option(args, "--backend")?.unwrap_or("all");
    if backend != "all" && !backends().iter().any(|b| b == backend) {
        return Err(format!(
            "unknown backend `{backend}`; expected one of all, {}",
            backends().join(", ")
        ));
    }
    check_driver(backend)?;
    const OTHERS: &str = "the other backends' tests and the backend-independent ones";
    let (filter, skipped_note): (&[&str], &str) = match backend {
        "all" => (
            &["--skip", "on_cuda"],
            "the CUDA tests, compiled but not run here: `cargo xtask test --backend cuda` on an NVIDIA GPU",
        ),
        "flex" => (&["on_flex"], OTHERS),
        "ndarray" => (&["on_ndarray"], OTHERS),
        "wgpu" => (&["on_wgpu"], OTHERS),
        _ => (&["on_cuda"], OTHERS),
    };
    println!("xtask: testing {backend} (filter: {})", filter.join(" "));
    let features = features(&WORKSPACE_CRATES);
    let mut command = vec!["test", "--workspace", "--features", &features, "--"];
    command.extend(filter);
    let counts = cargo_test(&command)?;
    println!("xtask: skipped: {} ({skipped_note})", counts.filtered);
    println!("{}", counts.summary());
    Ok(counts)
}

fn demo(args: &[String]) -> Result<(), String> {
    let features = features(&["mosaic"]);
    let mut command = vec![
        "run",
        "-p",
        "mosaic",
        "--features",
        &features,
        "--example",
        "train_sentiment",
        "--",
    ];
    // `cargo xtask demo -- lmf` and `cargo xtask demo lmf` mean the same.
    let args = args.strip_prefix(&["--".to_string()]).unwrap_or(args);
    command.extend(args.iter().map(String::as_str));
    cargo(&command)
}

/// `mosaic reproduce ARGS`: builds the `mosaic` binary with the backend `ARGS` name
/// (`--backend NAME`, flex when they name none) and nothing else, then runs it.
fn reproduce(args: &[String]) -> Result<(), String> {
    let args = args.strip_prefix(&["--".to_string()]).unwrap_or(args);
    let backend = named_backend(args)?;
    cargo(&[
        "build",
        "-p",
        "mosaic-cli",
        "--no-default-features",
        "--features",
        &format!("mosaic-cli/{backend}"),
    ])?;
    run_mosaic_reproduce(args)
}

/// The value of `--backend NAME` or `--backend=NAME` in `args` (`flex` without one),
/// checked against the backends.
fn named_backend(args: &[String]) -> Result<String, String> {
    let backend = args
        .iter()
        .position(|a| a == "--backend")
        .map(|i| args.get(i + 1).cloned().ok_or("--backend needs a value"))
        .transpose()?
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--backend=").map(String::from))
        })
        .unwrap_or_else(|| "flex".into());
    if backends().contains(&backend) {
        Ok(backend)
    } else {
        Err(format!(
            "unknown backend `{backend}`; expected one of {}",
            backends().join(", ")
        ))
    }
}

/// Runs `mosaic reproduce ARGS` with the `mosaic` binary of the last build.
fn run_mosaic_reproduce(args: &[String]) -> Result<(), String> {
    let binary = target_dir()
        .join("debug")
        .join(format!("mosaic{}", std::env::consts::EXE_SUFFIX));
    println!("xtask: {} reproduce {}", binary.display(), args.join(" "));
    let status = Command::new(&binary)
        .arg("reproduce")
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("could not run {}: {e}", binary.display()))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("mosaic reproduce failed ({status})"))
}

/// Clippy on every target of the workspace with every backend, warnings denied.
fn lint() -> Result<(), String> {
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--features",
        &features(&WORKSPACE_CRATES),
        "--",
        "-D",
        "warnings",
    ])
}

/// The lints, the whole test suite, then the README's main command (`mosaic reproduce` on
/// the bundled data) with the binary of the test build.
fn ci() -> Result<(), String> {
    lint()?;
    let counts = test(&[])?;
    // The README's main command on the binary the test build made (every backend): the
    // same `mosaic reproduce`, without a second build of burn for flex alone.
    run_mosaic_reproduce(&[])?;
    // The summary line ends the output.
    println!("{}", counts.summary());
    Ok(())
}
