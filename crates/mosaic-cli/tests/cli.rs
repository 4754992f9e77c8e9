//! The `mosaic` binary end to end: training on a `.csd` fixture, evaluation, reproduce, and
//! the errors of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mosaic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(args)
        .output()
        .expect("the mosaic binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mosaic-data/tests/fixtures/mosi")
        .display()
        .to_string()
}

/// A fresh folder under the system's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mosaic-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `mosaic train` on the `.csd` fixture.
fn train_on_fixture(fusion: &str, epochs: usize, output: &Path) -> Output {
    let epochs = epochs.to_string();
    let args = [
        "train",
        "--dataset",
        &fixture(),
        "--fusion",
        fusion,
        "--epochs",
        &epochs,
        "--output",
    ];
    let mut args: Vec<&str> = args.to_vec();
    args.push(output.to_str().unwrap());
    mosaic(&args)
}

#[test]
fn trains_on_csd_files_then_evaluates_the_checkpoint() {
    let dir = scratch("train");
    let run = dir.join("tfn");
    let out = train_on_fixture("tfn", 3, &run);
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(log.contains("test: Acc-2") && log.contains("MAE"), "{log}");
    for file in ["model.mpk", "config.json", "metrics.json"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let mae = metrics["test"]["mae"].as_f64().unwrap();
    assert!(mae.is_finite() && mae >= 0.0);
    assert_eq!(metrics["epochs_run"].as_u64(), Some(3));
    // Nothing but the checkpoint is left in its parent folder (no partial folders).
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    // eval on the same data reproduces the test MAE the run saved.
    let out = mosaic(&["eval", "--checkpoint", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("MAE {mae:.3}")),
        "{}\nexpected MAE {mae:.3}",
        text(&out)
    );

    // eval on a dataset of other widths names the modality and both widths.
    let out = mosaic(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--dataset",
        "trimodal",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the model expects text sequence length 20, dataset `trimodal` has 4"),
        "{}",
        text(&out)
    );

    // A checkpoint whose weights belong to another config.
    let other = dir.join("lmf");
    let out = train_on_fixture("lmf", 1, &other);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::copy(other.join("config.json"), run.join("config.json")).unwrap();
    let out = mosaic(&["eval", "--checkpoint", run.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the weights do not belong to the model of"),
        "{}",
        text(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_reported_and_nothing_is_written() {
    let dir = scratch("bad");
    let run = dir.join("run");
    let run_arg = run.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "train", "--fusion", "bilinear", "--epochs", "1", "--output", run_arg,
            ],
            "bilinear fusion takes exactly 2 modalities, got 3",
        ),
        (
            &[
                "train",
                "--fusion",
                "tfn",
                "--dataset",
                "no/such/folder",
                "--output",
                run_arg,
            ],
            "dataset `no/such/folder`: expected `trimodal`",
        ),
        (
            &[
                "train",
                "--fusion",
                "tfn",
                "--modalities",
                "text,smell",
                "--output",
                run_arg,
            ],
            "unknown modality `smell`",
        ),
        (
            &["train", "--fusion", "tfn", "--epochs", "many"],
            "train: --epochs: `many` is not a whole number",
        ),
        (&["eval", "--checkpoint", run_arg], "config.json: No such file"),
        (
            &[
                "train",
                "--fusion",
                "tfn",
                "--dataset",
                &format!("{}/../broken", fixture()),
            ],
            "CMU_MOSI_TimestampedWordVectors.csd: No such file",
        ),
    ];
    for (args, expected) in cases {
        let out = mosaic(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            text(&out).contains(expected),
            "{args:?}: {}\nexpected: {expected}",
            text(&out)
        );
    }
    assert!(!run.exists(), "a failed run wrote its output folder");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "leftover files");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reproduce_writes_the_table_csv_and_plot() {
    let dir = scratch("reproduce");
    let reproduce = || {
        let args = [
            "reproduce",
            "--epochs",
            "1",
            "--fusions",
            "concat,tfn",
            "--output",
        ];
        let out = mosaic(&[&args[..], &[dir.to_str().unwrap()]].concat());
        assert!(out.status.success(), "{}", text(&out));
        std::fs::read_to_string(dir.join("reproduce.csv")).unwrap()
    };
    let csv = reproduce();
    let md = std::fs::read_to_string(dir.join("reproduce.md")).unwrap();
    assert_eq!(
        md.lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| modalities"))
            .count(),
        3 + 4 * 2
    );
    assert!(md.contains("| T+A+V | tfn |") && md.contains("| 0.144 |"), "{md}");
    assert_eq!(csv.lines().count(), 1 + 11);
    assert!(std::fs::read_to_string(dir.join("reproduce.svg"))
        .unwrap()
        .starts_with("<svg"));

    // Same seeds, same table (all but the timing column).
    let without_seconds = |csv: &str| {
        csv.lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(without_seconds(&csv), without_seconds(&reproduce()));
    std::fs::remove_dir_all(&dir).unwrap();
}
