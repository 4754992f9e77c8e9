//! The metrics of the TFN and LMF papers on CMU-MOSI, from predictions and labels in [-3, 3]:
//!
//! - **binary accuracy** and **F1** over the segments with a non-zero label: positive when
//!   `label > 0` and `prediction ≥ 0`; F1 is the class-size-weighted mean of the two
//!   classes' F1 scores (scikit-learn's `average="weighted"`);
//! - **7-class accuracy**: `round(clip(x, −3, 3))` of prediction and label agree (ties to
//!   even, as NumPy's `round` in the reference code);
//! - **MAE**: mean absolute error over all segments;
//! - **correlation**: Pearson's r between predictions and labels.

use crate::{MosaicError, Result};
use serde::{Deserialize, Serialize};

/// The papers' metrics on one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Binary accuracy on non-zero labels.
    pub acc2: f64,
    /// Weighted F1 on non-zero labels.
    pub f1: f64,
    /// 7-class accuracy.
    pub acc7: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Pearson correlation.
    pub corr: f64,
    /// Segments.
    pub count: usize,
}

fn class7(x: f32) -> i32 {
    x.clamp(-3.0, 3.0).round_ties_even() as i32
}

impl Metrics {
    /// The metrics of `predictions` against `labels`.
    ///
    /// # Errors
    /// Lengths that differ, no labels, or a prediction or label that is not finite (a NaN
    /// would otherwise count as a correct negative and as class 0).
    pub fn new(predictions: &[f32], labels: &[f32]) -> Result<Metrics> {
        if predictions.len() != labels.len() || labels.is_empty() {
            return Err(MosaicError::invalid(
                "Metrics",
                format!(
                    "one prediction per label and at least one are needed: {} predictions, {} labels",
                    predictions.len(),
                    labels.len()
                ),
            ));
        }
        for (what, values) in [("predictions", predictions), ("labels", labels)] {
            let bad = values.iter().filter(|x| !x.is_finite()).count();
            if bad > 0 {
                let first = values.iter().position(|x| !x.is_finite()).unwrap_or(0);
                return Err(MosaicError::invalid(
                    "Metrics",
                    format!(
                        "{bad} of {} {what} are not finite (the first, number {first}, is {})",
                        values.len(),
                        values[first]
                    ),
                ));
            }
        }
        let n = labels.len() as f64;
        let pairs = || {
            predictions
                .iter()
                .zip(labels)
                .map(|(&p, &y)| (f64::from(p), f64::from(y)))
        };
        let mae = pairs().map(|(p, y)| (p - y).abs()).sum::<f64>() / n;
        let acc7 = pairs()
            .filter(|&(p, y)| class7(p as f32) == class7(y as f32))
            .count() as f64
            / n;

        // Binary: [true negatives, false positives, false negatives, true positives].
        let mut confusion = [0usize; 4];
        for (p, y) in pairs().filter(|&(_, y)| y != 0.0) {
            confusion[2 * usize::from(y > 0.0) + usize::from(p >= 0.0)] += 1;
        }
        let [tn, fp, fne, tp] = confusion.map(|c| c as f64);
        let nonzero = tn + fp + fne + tp;
        let f1_of = |tp: f64, fp: f64, fne: f64| {
            if tp == 0.0 {
                0.0
            } else {
                2.0 * tp / (2.0 * tp + fp + fne)
            }
        };
        let (acc2, f1) = if nonzero == 0.0 {
            (0.0, 0.0)
        } else {
            let positives = tp + fne;
            let negatives = tn + fp;
            let weighted = (positives * f1_of(tp, fp, fne) + negatives * f1_of(tn, fne, fp)) / nonzero;
            ((tp + tn) / nonzero, weighted)
        };

        let (mp, my) = (
            pairs().map(|(p, _)| p).sum::<f64>() / n,
            pairs().map(|(_, y)| y).sum::<f64>() / n,
        );
        let (mut spy, mut spp, mut syy) = (0.0, 0.0, 0.0);
        for (p, y) in pairs() {
            spy += (p - mp) * (y - my);
            spp += (p - mp).powi(2);
            syy += (y - my).powi(2);
        }
        let corr = if spp > 0.0 && syy > 0.0 {
            spy / (spp * syy).sqrt()
        } else {
            0.0
        };
        Ok(Metrics {
            acc2,
            f1,
            acc7,
            mae,
            corr,
            count: labels.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_example() {
        let predictions = [2.4, -0.2, 0.1, -1.6, 0.0, 3.4];
        let labels = [2.0, 1.0, -0.5, -2.0, 0.0, 2.6];
        let m = Metrics::new(&predictions, &labels).unwrap();
        // Non-zero labels: rows 0,1,2,3,5. Predicted positive (≥ 0): 0, 2, 5; actual positive: 0, 1, 5.
        // TP = 2 (0, 5), FN = 1 (1), FP = 1 (2), TN = 1 (3): accuracy 3/5.
        assert!((m.acc2 - 0.6).abs() < 1e-12);
        // F1: positive 2·2/(4+1+1) = 2/3 (3 samples), negative 2·1/(2+1+1) = 1/2 (2 samples).
        assert!(
            (m.f1 - (3.0 * 2.0 / 3.0 + 2.0 * 0.5) / 5.0).abs() < 1e-12,
            "{}",
            m.f1
        );
        // Classes: pred [2, 0, 0, -2, 0, 3], label [2, 1, 0 (−0.5 ties to even), -2, 0, 3] → 5/6.
        assert!((m.acc7 - 5.0 / 6.0).abs() < 1e-12, "{}", m.acc7);
        let mae = [0.4, 1.2, 0.6, 0.4, 0.0, 0.8].iter().sum::<f64>() / 6.0;
        assert!((m.mae - mae).abs() < 1e-6);
        assert_eq!(m.count, 6);
    }

    #[test]
    fn correlation_matches_the_definition_and_its_invariances() {
        let y = [0.5, -1.0, 2.0, 0.0, -2.5];
        assert!((Metrics::new(&y, &y).unwrap().corr - 1.0).abs() < 1e-12);
        // r is invariant to affine maps with positive slope, flips sign with negative slope.
        let affine: Vec<f32> = y.iter().map(|v| 0.3 * v + 1.0).collect();
        assert!((Metrics::new(&affine, &y).unwrap().corr - 1.0).abs() < 1e-6);
        let flipped: Vec<f32> = y.iter().map(|v| -v).collect();
        assert!((Metrics::new(&flipped, &y).unwrap().corr + 1.0).abs() < 1e-12);
        // Hand-computed: p = [1, 2, 3], y = [1, 3, 2] → r = 0.5.
        assert!((Metrics::new(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).unwrap().corr - 0.5).abs() < 1e-12);
    }

    /// A NaN prediction is an error, not a correct negative and class 0; so are mismatched
    /// lengths and no labels.
    #[test]
    fn non_finite_predictions_are_refused() {
        let error = Metrics::new(&[0.5, f32::NAN, -1.0], &[1.0, -1.0, -1.0]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Metrics: 1 of 3 predictions are not finite (the first, number 1, is NaN)"
        );
        let error = Metrics::new(&[0.5], &[f32::INFINITY]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Metrics: 1 of 1 labels are not finite (the first, number 0, is inf)"
        );
        assert!(Metrics::new(&[0.5], &[1.0, 2.0]).is_err());
        assert!(Metrics::new(&[], &[]).is_err());
    }
}
