//! WAV files as mosaic reads them: 8 kHz, mono, 16-bit integer PCM (the Free Spoken Digit
//! Dataset's format). Anything else is an error that names the file and what it holds.

use crate::{DataError, Result};
use std::path::Path;

/// The only sample rate mosaic's audio features are defined for, in Hz.
pub const SAMPLE_RATE: u32 = 8000;

/// The samples of a WAV file held in memory, scaled to [-1, 1) (`i16 / 32768`).
///
/// # Errors
/// [`DataError::Layout`], naming `name`, when the bytes are not a WAV file, are not 8 kHz
/// mono 16-bit integer PCM, or end before the length their header gives (truncated).
pub fn parse(bytes: &[u8], name: &Path) -> Result<Vec<i16>> {
    let reader = hound::WavReader::new(bytes)
        .map_err(|e| DataError::layout(name, format!("not a readable WAV file ({e})")))?;
    let spec = reader.spec();
    let expected = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    if spec != expected {
        return Err(DataError::layout(
            name,
            format!(
                "{} Hz, {} channel(s), {}-bit {:?}; expected {SAMPLE_RATE} Hz mono 16-bit integer PCM",
                spec.sample_rate, spec.channels, spec.bits_per_sample, spec.sample_format
            ),
        ));
    }
    let expected_len = reader.len() as usize;
    let samples = reader
        .into_samples::<i16>()
        .collect::<std::result::Result<Vec<i16>, _>>()
        .map_err(|e| {
            DataError::layout(
                name,
                format!("truncated: the header announces {expected_len} samples ({e})"),
            )
        })?;
    if samples.len() != expected_len {
        return Err(DataError::layout(
            name,
            format!(
                "truncated: {} of the {expected_len} samples its header announces",
                samples.len()
            ),
        ));
    }
    if samples.is_empty() {
        return Err(DataError::layout(name, "holds no samples"));
    }
    Ok(samples)
}

/// Reads and [`parse`]s a WAV file.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, and those of [`parse`].
pub fn read(path: &Path) -> Result<Vec<i16>> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path)
}

/// `i16` samples scaled to [-1, 1).
pub fn to_unit(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| f32::from(s) / 32768.0).collect()
}

/// A WAV file's bytes: 16-bit integer PCM, `channels` interleaved, at `sample_rate`
/// (used to build the recordings the tests need).
pub fn encode(samples: &[i16], sample_rate: u32, channels: u16) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    // Writing to memory cannot fail for 16-bit PCM of in-range length.
    let mut writer = hound::WavWriter::new(&mut out, spec).expect("an in-memory WAV writer");
    for &s in samples {
        writer.write_sample(s).expect("a sample written to memory");
    }
    writer.finalize().expect("an in-memory WAV finalised");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> &'static Path {
        Path::new("test.wav")
    }

    #[test]
    fn round_trips_what_it_writes() {
        let samples: Vec<i16> = (0..500).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
        assert_eq!(parse(&encode(&samples, SAMPLE_RATE, 1), name()).unwrap(), samples);
    }

    #[test]
    fn reads_a_recording_of_the_dataset() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fsdd");
        let samples = read(&dir.join("0_jackson_0.wav")).unwrap();
        // 10340 bytes: a 44-byte header and 2-byte samples.
        assert_eq!(samples.len(), (10340 - 44) / 2);
    }

    #[test]
    fn other_formats_are_named_errors() {
        let samples = vec![0i16; 100];
        let stereo = parse(&encode(&samples, SAMPLE_RATE, 2), name()).unwrap_err();
        assert_eq!(
            stereo.to_string(),
            "test.wav: 8000 Hz, 2 channel(s), 16-bit Int; expected 8000 Hz mono 16-bit integer PCM"
        );
        let fast = parse(&encode(&samples, 16000, 1), name()).unwrap_err();
        assert!(fast.to_string().contains("16000 Hz, 1 channel(s)"), "{fast}");
        let text = parse(b"RIFF? not a wave", name()).unwrap_err();
        assert!(
            text.to_string().starts_with("test.wav: not a readable WAV file"),
            "{text}"
        );
        let empty = parse(&encode(&[], SAMPLE_RATE, 1), name()).unwrap_err();
        assert_eq!(empty.to_string(), "test.wav: holds no samples");
    }

    #[test]
    fn a_truncated_file_is_a_named_error() {
        let bytes = encode(&[5i16; 100], SAMPLE_RATE, 1);
        let cut = &bytes[..bytes.len() - 51];
        let err = parse(cut, name()).unwrap_err().to_string();
        assert!(
            err.starts_with("test.wav: truncated:") && err.contains("100 samples"),
            "{err}"
        );
    }
}
