//! Rebuilds the AV-digits bundle that ships with mosaic from the raw files: a folder of Free
//! Spoken Digit Dataset recordings and the UCI digits as a safetensors file (docs/datasets.md).
//!
//! ```text
//! cargo run -p mosaic-data --example build_avdigits -- \
//!     FSDD/recordings digits.safetensors crates/mosaic-data/data/avdigits.safetensors
//! ```
//!
//! The features are computed by mosaic's own extractor (`mosaic_data::audio::logmel`), so the
//! same recordings always give the same file, bit for bit.

use mosaic_data::avdigits::Bundle;
use mosaic_data::DataError;
use std::io::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), DataError> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [recordings, digits, output] = args.as_slice() else {
        return Err(DataError::Invalid(
            "usage: build_avdigits RECORDINGS_DIR DIGITS_FILE OUTPUT".into(),
        ));
    };
    let bundle = Bundle::build(recordings, digits, |done, total| {
        if done % 100 == 0 || done == total {
            eprint!("\rbuild_avdigits: {done}/{total} recordings");
            let _ = std::io::stderr().flush();
        }
    })?;
    eprintln!();
    let bytes = bundle.to_bytes()?;
    std::fs::write(output, &bytes).map_err(|source| DataError::Io {
        path: output.clone(),
        source,
    })?;
    println!(
        "{}: {} recordings ({} speakers, {} test waveforms), {} images, {:.1} MB",
        output.display(),
        bundle.recordings.len(),
        bundle.speakers.len(),
        bundle.test_waveforms.len(),
        bundle.image_labels.len(),
        bytes.len() as f64 / 1e6
    );
    Ok(())
}
