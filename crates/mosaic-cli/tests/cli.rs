//! The `mosaic` binary end to end: training on a `.csd` fixture, evaluation, reproduce, and
//! the errors of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mosaic<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
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

/// `reproduce --experiment coordinated` on a thinned AV-digits: its three files, every
/// method in both retrieval tables, the same figures with 1 and 2 threads, and a batch too
/// small for deep CCA refused by name.
#[test]
fn the_coordinated_experiment_runs_end_to_end() {
    let dir = scratch("coordinated");
    let one = run_on_av_digits(&dir, "coordinated", "1");
    let md = std::fs::read_to_string(one.join("coordinated.md")).unwrap();
    for line in [
        "## retrieval, audio → image",
        "## retrieval, image → audio",
        "## correlation and classification",
        "| linear CCA on raw features | strong |",
        "| deep CCA | strong |",
        "| InfoNCE (CLIP) | weak |",
        "| VSE++ hinge, hardest negative | weak |",
        "| VSE hinge, every negative | weak |",
        "| cosine | weak |",
        "| joint: bimodal AE shared code | joint |",
        "| unimodal: audio AE code | unimodal |",
    ] {
        assert!(md.contains(line), "{line} missing:\n{md}");
    }
    let csv = std::fs::read_to_string(one.join("coordinated.csv")).unwrap();
    assert!(csv.starts_with("method,kind,metric,direction,value\n"));
    assert!(
        csv.contains("\ndeep CCA,strong,recall_at_10,image_to_audio,"),
        "{csv}"
    );
    assert!(
        csv.contains("\nlinear CCA on raw features,strong,mean_canonical_correlation,test,"),
        "{csv}"
    );
    assert!(std::fs::read_to_string(one.join("coordinated.svg"))
        .unwrap()
        .starts_with("<svg"));
    let two = run_on_av_digits(&dir, "coordinated", "2");
    assert_eq!(csv, std::fs::read_to_string(two.join("coordinated.csv")).unwrap());

    let small = mosaic(&[
        "reproduce",
        "--experiment",
        "coordinated",
        "--limit",
        "80",
        "--batch-size",
        "8",
        "--output",
        dir.join("small").to_str().unwrap(),
    ]);
    assert!(
        !small.status.success()
            && text(&small).contains(
                "batch_size 8 with 80 pairs: dcca needs batches of at least 17 pairs (embedding width 16)"
            ),
        "{}",
        text(&small)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `reproduce --experiment graph` with one seed and 30 epochs: its three files, every
/// model on both graphs, the same CSV with 1 and 2 threads, and options it does not take
/// refused by name.
#[test]
fn the_graph_experiment_runs_end_to_end() {
    let dir = scratch("graph");
    let args = ["--experiment", "graph", "--seeds", "1", "--epochs", "30"];
    let run = |threads: &str| run_reproduce(&dir, &args, threads, "karate club GCN:");
    let one = run("1");
    let md = std::fs::read_to_string(one.join("graph.md")).unwrap();
    for line in [
        "| model | cora | citeseer |",
        "| GCN |",
        "| GraphSAGE-mean |",
        "| GraphSAGE-pool |",
        "| GraphSAGE-mean, sampled |",
        "| GraphSAGE unsupervised + probe |",
        "| MLP |",
        "| GCN, published",
    ] {
        assert!(md.contains(line), "{line} missing:\n{md}");
    }
    let csv = std::fs::read_to_string(one.join("graph.csv")).unwrap();
    assert!(
        csv.starts_with("dataset,model,seed,test_accuracy,valid_accuracy,best_epoch\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 2 * 6, "{csv}");
    // 30 epochs of GCN are enough to beat the MLP by far on Cora.
    let accuracy = |model: &str| -> f64 {
        let line = csv
            .lines()
            .find(|l| l.starts_with(&format!("cora,{model},")))
            .unwrap();
        line.split(',').nth(3).unwrap().parse().unwrap()
    };
    assert!(accuracy("GCN") > accuracy("MLP") + 0.1, "{csv}");
    // Without a label, the graph's embeddings still carry more than the features alone.
    assert!(
        accuracy("GraphSAGE unsupervised + probe") > accuracy("MLP") + 0.1,
        "{csv}"
    );
    assert!(std::fs::read_to_string(one.join("graph.svg"))
        .unwrap()
        .starts_with("<svg"));
    let two = run("2");
    assert_eq!(csv, std::fs::read_to_string(two.join("graph.csv")).unwrap());
    for (option, value, message) in [
        ("--limit", "5", "--limit does not apply to --experiment graph"),
        (
            "--dataset",
            "x",
            "--dataset and --resume apply to --experiment sentiment only",
        ),
    ] {
        let out = mosaic(&[
            "reproduce",
            "--experiment",
            "graph",
            option,
            value,
            "--output",
            dir.join("bad").to_str().unwrap(),
        ]);
        assert!(
            !out.status.success() && text(&out).contains(message),
            "{}",
            text(&out)
        );
    }
    let out = mosaic(&[
        "reproduce",
        "--experiment",
        "coordinated",
        "--seeds",
        "2",
        "--output",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert!(
        !out.status.success() && text(&out).contains("--seeds applies to --experiment graph only"),
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
            "invalid value 'many' for '--epochs <EPOCHS>'",
        ),
        (&["eval", "--checkpoint", run_arg], "config.json: not found"),
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

/// `mosaic train --output DIR` on the bundled data, with `extra` options (one epoch unless
/// they say otherwise).
fn train_into(output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--fusion",
        "concat",
        "--output",
        output.to_str().unwrap(),
    ];
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "1"]);
    }
    args.extend_from_slice(extra);
    mosaic(&args)
}

#[test]
fn output_never_replaces_a_folder_mosaic_did_not_write() {
    let dir = scratch("output");
    // A folder holding a user's file: refused before training, the file untouched.
    let mine = dir.join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let out = train_into(&mine, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not a mosaic checkpoint folder (it holds `notes.txt`)"),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains("training "),
        "checked before training: {}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);

    // --force writes mosaic's files into it; the user's file stays.
    let out = train_into(&mine, &["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "keep me"
    );
    for file in ["model.mpk", "config.json", "metrics.json"] {
        assert!(mine.join(file).is_file(), "{file} missing");
    }

    // An existing checkpoint is replaced whole (here by one of another seed).
    let run = dir.join("run");
    assert!(train_into(&run, &[]).status.success());
    let before = std::fs::read(run.join("model.mpk")).unwrap();
    let out = train_into(&run, &["--seed", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(std::fs::read(run.join("model.mpk")).unwrap(), before);
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(config.contains("\"seed\": 8"), "{config}");

    // A file where the folder would be, and the current folder itself (it holds files).
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    assert!(text(&train_into(&file, &[])).contains("is a file, not a checkpoint folder"));
    let out = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(["train", "--fusion", "concat", "--epochs", "1", "--output", "."])
        .current_dir(&mine)
        .output()
        .unwrap();
    assert!(!out.status.success() && text(&out).contains("not a mosaic checkpoint folder"));
    // Nothing else was left beside them (no staged or backup folders).
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["file", "mine", "run"]);
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_training_options_are_refused() {
    let dir = scratch("options");
    let run = dir.join("run");
    for (option, value, expected) in [
        (
            "--lr",
            "inf",
            "training: lr is inf, expected a finite learning rate above 0",
        ),
        (
            "--lr",
            "NaN",
            "training: lr is NaN, expected a finite learning rate above 0",
        ),
        (
            "--lr",
            "-0.1",
            "training: lr is -0.1, expected a finite learning rate above 0",
        ),
        ("--epochs", "0", "training: epochs is 0, expected at least 1"),
        (
            "--batch-size",
            "0",
            "training: batch_size is 0, expected at least 1",
        ),
        (
            "--rank",
            "100000",
            "SentimentModel config: rank is 100000, expected 1 to 4096",
        ),
    ] {
        let out = train_into(&run, &[option, value]);
        assert!(!out.status.success(), "{option} {value} accepted");
        assert!(text(&out).contains(expected), "{option} {value}: {}", text(&out));
    }
    // Training that diverges stops with an error naming the epoch, and writes nothing.
    let out = mosaic(&[
        "train",
        "--fusion",
        "tfn",
        "--lr",
        "1e30",
        "--epochs",
        "3",
        "--output",
        run.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("training diverged in epoch 1: the loss of batch"),
        "{}",
        text(&out)
    );
    assert!(!run.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_checkpoint_files_are_reported() {
    let dir = scratch("hostile");
    let run = dir.join("run");
    assert!(train_into(&run, &[]).status.success());
    let eval = || text(&mosaic(&["eval", "--checkpoint", run.to_str().unwrap()]));
    let model = std::fs::read(run.join("model.mpk")).unwrap();
    // The shape of the first tensor claims one more row than its bytes hold: find the
    // msgpack of `"shape": [a, b]` (fixarray of two small uints) and grow `a`.
    let key = b"\xa5shape\x92";
    let at = model.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    let mut grown = model.clone();
    assert!(grown[at] < 0x7f, "a positive fixint");
    grown[at] += 1;
    std::fs::write(run.join("model.mpk"), &grown).unwrap();
    let message = eval();
    assert!(
        message.contains("model.mpk: not a valid mosaic model record: a tensor of shape")
            && message.contains("bytes but holds"),
        "{message}"
    );
    std::fs::write(run.join("model.mpk"), &model[..model.len() / 2]).unwrap();
    assert!(eval().contains("not a valid mosaic model record"), "{}", eval());
    std::fs::write(run.join("model.mpk"), &model).unwrap();

    // config.json with absurd sizes: refused before anything is allocated.
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    let huge = config.replace("\"text_hidden\": 16", "\"text_hidden\": 1000000000000");
    assert_ne!(huge, config);
    std::fs::write(run.join("config.json"), huge).unwrap();
    assert!(
        eval().contains("SentimentModel config: text_hidden is 1000000000000, expected 1 to 4096"),
        "{}",
        eval()
    );
    // Sizes within the limits that the weights in model.mpk cannot hold.
    let wide = config.replace("\"text_hidden\": 16", "\"text_hidden\": 4096");
    std::fs::write(run.join("config.json"), wide).unwrap();
    assert!(
        eval().contains("the config's weights take at least"),
        "{}",
        eval()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_interrupted_reproduce_resumes_where_it_stopped() {
    let dir = scratch("resume");
    let (full, cut) = (dir.join("full"), dir.join("cut"));
    let args = |output: &Path| {
        [
            "reproduce",
            "--epochs",
            "2",
            "--fusions",
            "concat,lmf",
            "--output",
            output.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let rows = |path: &Path| -> Vec<String> {
        std::fs::read_to_string(path.join("reproduce.csv"))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    let out = mosaic(&args(&full));
    assert!(out.status.success(), "{}", text(&out));
    let expected = rows(&full);
    assert_eq!(expected.len(), 11);

    // Killed (as by Ctrl-C) once three models have finished: their rows are on disk.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(args(&cut))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while rows(&cut).len() < 3 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = rows(&cut);
    assert!((3..11).contains(&kept.len()), "{} rows", kept.len());
    assert_eq!(kept, expected[..kept.len()]);

    let mut resume = args(&cut);
    resume.push("--resume".into());
    let out = mosaic(&resume);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out).matches("(--resume)").count(),
        kept.len(),
        "{}",
        text(&out)
    );
    assert_eq!(rows(&cut), expected);
    let md = |p: &Path| std::fs::read_to_string(p.join("reproduce.md")).unwrap();
    let table = |m: String| {
        m.lines()
            .filter(|l| l.starts_with("| "))
            .map(|l| l.rsplitn(3, '|').nth(2).unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(table(md(&cut)), table(md(&full)), "the same table, timing aside");

    // Other settings are not mixed into a resumed run.
    let mut other = resume.clone();
    other[2] = "3".into();
    let out = mosaic(&other);
    assert!(
        !out.status.success() && text(&out).contains("had other settings"),
        "{}",
        text(&out)
    );
    // An output folder that cannot be made fails before the first model trains.
    let blocked = full.join("reproduce.csv").join("sub");
    let out = mosaic(&args(&blocked));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("reproducing on"),
        "checked before training: {}",
        text(&out)
    );
    // A file named as one of reproduce's that mosaic did not write is not replaced.
    std::fs::write(full.join("reproduce.md"), "my notes").unwrap();
    let out = mosaic(&args(&full));
    assert!(
        !out.status.success() && text(&out).contains("not written by mosaic reproduce"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(full.join("reproduce.md")).unwrap(),
        "my notes"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A short `reproduce` (tensor and low-rank fusion: the fused ops) prints the same table to
/// the last bit with 1, 2 and 3 threads: the CSV holds full-precision metrics.
#[test]
fn reproduce_is_bit_identical_for_any_thread_count() {
    let dir = scratch("threads");
    let run = |threads: &str| {
        let output = dir.join(threads);
        let out = Command::new(env!("CARGO_BIN_EXE_mosaic"))
            .args(["reproduce", "--epochs", "2", "--fusions", "tfn,lmf", "--output"])
            .arg(&output)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        std::fs::read_to_string(output.join("reproduce.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect::<Vec<_>>()
    };
    let one = run("1");
    assert_eq!(one.len(), 1 + 3 + 4 * 2);
    assert_eq!(run("2"), one);
    assert_eq!(run("3"), one);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every option of `train` is in its --help with its default; a misspelt command is answered
/// with the right one; completion scripts name the commands.
#[test]
fn the_command_line_documents_itself() {
    let help = text(&mosaic(&["train", "--help"]));
    for option in [
        "--fusion",
        "--modalities",
        "--dataset",
        "--backend",
        "--output",
        "--force",
        "--epochs",
        "--patience",
        "--batch-size",
        "--lr",
        "--seed",
        "--rank",
        "--fusion-out",
        "--text-hidden",
        "--text-out",
        "--audio-hidden",
        "--video-hidden",
        "--dropout",
    ] {
        assert!(help.contains(option), "train --help lacks {option}:\n{help}");
    }
    for default in [
        "[default: 60]",
        "[default: 10]",
        "[default: 32]",
        "[default: 0.003]",
        "[default: 7]",
        "[default: 4]",
        "[default: 0.1]",
        "[default: flex]",
        "[default: trimodal]",
        "[default: text,audio,video]",
    ] {
        assert!(help.contains(default), "train --help lacks {default}:\n{help}");
    }
    let typo = mosaic(&["trian"]);
    assert!(!typo.status.success());
    assert!(
        text(&typo).contains("tip: a similar subcommand exists: 'train'"),
        "{}",
        text(&typo)
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = mosaic(&["completions", shell]);
        assert!(script.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&script.stdout);
        assert!(
            script.contains("reproduce") && script.contains("batch-size"),
            "{shell}: {script}"
        );
    }
}

/// Runs `mosaic reproduce ARGS --output dir/THREADS` with `RAYON_NUM_THREADS=THREADS`,
/// checks that it succeeded and printed `expect`, and returns the output folder.
fn run_reproduce(dir: &Path, args: &[&str], threads: &str, expect: &str) -> PathBuf {
    let output = dir.join(threads);
    let out = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .arg("reproduce")
        .args(args)
        .arg("--output")
        .arg(&output)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(expect), "{}", text(&out));
    output
}

/// Runs `reproduce --experiment EXPERIMENT --limit 80 --epochs 3` into
/// `dir/THREADS` with `RAYON_NUM_THREADS=THREADS`, checks that it succeeded on 80 pairs per
/// split, and returns the output folder.
fn run_on_av_digits(dir: &Path, experiment: &str, threads: &str) -> PathBuf {
    let args = ["--experiment", experiment, "--limit", "80", "--epochs", "3"];
    run_reproduce(dir, &args, threads, "80 train / 80 valid / 80 test pairs")
}

/// `reproduce --experiment av-autoencoder` on a thinned AV-digits: the four files, every
/// section of the report, the same figures with 1 and 2 threads, and its misuse refused.
#[test]
fn the_av_autoencoder_experiment_runs_end_to_end() {
    let dir = scratch("av");
    let run = |threads: &str| run_on_av_digits(&dir, "av-autoencoder", threads);
    let one = run("1");
    let md = std::fs::read_to_string(one.join("av-autoencoder.md")).unwrap();
    for section in [
        "## multimodal fusion",
        "## cross-modality learning",
        "## shared representation learning",
        "## noisy audio",
        "## per layer",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    let csv = std::fs::read_to_string(one.join("av-autoencoder.csv")).unwrap();
    assert!(csv.starts_with("section,representation,trained_on,tested_on,metric,value\n"));
    assert!(
        csv.contains("\nnoisy audio,bimodal AE shared code,audio + video,audio at 0 dB + video,accuracy,"),
        "{csv}"
    );
    assert!(
        csv.contains("\nper layer,bimodal AE (no zeroing) shared,audio,video,map_audio_to_video,"),
        "{csv}"
    );
    for svg in ["av-autoencoder.svg", "av-autoencoder-generation.svg"] {
        assert!(std::fs::read_to_string(one.join(svg))
            .unwrap()
            .starts_with("<svg"));
    }
    let two = run("2");
    assert_eq!(
        csv,
        std::fs::read_to_string(two.join("av-autoencoder.csv")).unwrap()
    );

    let refused = mosaic(&[
        "reproduce",
        "--experiment",
        "av-autoencoder",
        "--resume",
        "--output",
        dir.to_str().unwrap(),
    ]);
    assert!(
        !refused.status.success()
            && text(&refused).contains("--dataset and --resume apply to --experiment sentiment only"),
        "{}",
        text(&refused)
    );
    let limit = mosaic(&["reproduce", "--limit", "5", "--output", dir.to_str().unwrap()]);
    assert!(
        !limit.status.success()
            && text(&limit).contains("--limit applies to --experiment av-autoencoder and coordinated only"),
        "{}",
        text(&limit)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
