//! Which modality drives each hidden unit: for a unit `j`, `σ_a(j)` is the standard deviation
//! of its activation over examples given audio only (video zeroed) and `σ_v(j)` over examples
//! given video only. The unit is driven by audio only when `σ_v / (σ_a + σ_v) <` `threshold`,
//! by video only when `σ_a / (σ_a + σ_v) <` `threshold`, by both otherwise; a unit that
//! varies with neither (`σ_a + σ_v = 0`) is dead. Ngiam et al. (2011, section 3.2) observe
//! that a shallow bimodal model has mostly one-modality units; a deep one, mixed units.

use super::{same_rows, Matrix};
use crate::{MosaicError, Result};

const WHAT: &str = "unit modality share";

/// Shares of a layer's units (they sum to 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitShare {
    /// Units that only audio moves.
    pub audio_only: f64,
    /// Units that only video moves.
    pub video_only: f64,
    /// Units that both move.
    pub both: f64,
    /// Units that neither moves.
    pub dead: f64,
}

fn column_std(x: &Matrix) -> Vec<f64> {
    x.column_variances().into_iter().map(f64::sqrt).collect()
}

/// The shares of units of a layer, from its codes given audio only (`from_audio`) and video
/// only (`from_video`), `[n, units]` each.
///
/// # Errors
/// Codes of different widths or row counts, no rows, or a `threshold` outside (0, 0.5).
pub fn modality_share(from_audio: &Matrix, from_video: &Matrix, threshold: f64) -> Result<UnitShare> {
    same_rows(WHAT, from_audio, from_video)?;
    if from_audio.cols() != from_video.cols() || from_audio.cols() == 0 {
        return Err(MosaicError::invalid(
            WHAT,
            format!("codes of {} and {} units", from_audio.cols(), from_video.cols()),
        ));
    }
    if !(threshold > 0.0 && threshold < 0.5) {
        return Err(MosaicError::invalid(
            WHAT,
            format!("threshold {threshold}, expected a value in (0, 0.5)"),
        ));
    }
    let (a, v) = (column_std(from_audio), column_std(from_video));
    let mut counts = [0usize; 4];
    for (sa, sv) in a.iter().zip(&v) {
        let total = sa + sv;
        let kind = if total <= 1e-12 {
            3
        } else if sv / total < threshold {
            0
        } else if sa / total < threshold {
            1
        } else {
            2
        };
        counts[kind] += 1;
    }
    let share = |k: usize| counts[k] as f64 / a.len() as f64;
    Ok(UnitShare {
        audio_only: share(0),
        video_only: share(1),
        both: share(2),
        dead: share(3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_hand_made_units() {
        // Four examples, five units. Given audio only, units 0, 2 and 3 vary; given video only,
        // units 1 and 2 do, unit 3 slightly (σ ratio 0.05); unit 4 never varies.
        let from_audio = Matrix::new(
            4,
            5,
            vec![
                0.0, 0.5, 0.0, 0.0, 0.3, 1.0, 0.5, 1.0, 1.0, 0.3, 0.0, 0.5, 0.0, 0.0, 0.3, 1.0, 0.5, 1.0,
                1.0, 0.3,
            ],
        )
        .unwrap();
        let from_video = Matrix::new(
            4,
            5,
            vec![
                0.2, 0.0, 1.0, 0.0, 0.3, 0.2, 1.0, 0.0, 0.05, 0.3, 0.2, 0.0, 1.0, 0.0, 0.3, 0.2, 1.0, 0.0,
                0.05, 0.3,
            ],
        )
        .unwrap();
        let share = modality_share(&from_audio, &from_video, 0.1).unwrap();
        assert_eq!(
            share,
            UnitShare {
                audio_only: 0.4,
                video_only: 0.2,
                both: 0.2,
                dead: 0.2
            }
        );
        // A stricter threshold moves unit 3 to "both".
        let strict = modality_share(&from_audio, &from_video, 0.01).unwrap();
        assert_eq!((strict.audio_only, strict.both), (0.2, 0.4));
    }

    #[test]
    fn bad_input_is_named() {
        let a = Matrix::new(2, 2, vec![0.0; 4]).unwrap();
        let b = Matrix::new(2, 3, vec![0.0; 6]).unwrap();
        assert_eq!(
            modality_share(&a, &b, 0.1).unwrap_err().to_string(),
            "unit modality share: codes of 2 and 3 units"
        );
        assert!(modality_share(&a, &a, 0.7)
            .unwrap_err()
            .to_string()
            .contains("threshold 0.7"));
    }
}
