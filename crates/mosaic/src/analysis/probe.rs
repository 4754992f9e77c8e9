//! Linear probes: how much of the labels a linear read-out of a representation recovers.
//!
//! The probe is a ridge-regression classifier, fitted in closed form so that it has no
//! optimiser settings to tune per layer: with `X` the training codes standardised per column
//! (`[n, d]`, the training mean and deviation) and `Y` the one-hot labels centred per class
//! (`[n, C]`),
//!
//! ```text
//! W = (Xᵀ X + λ n I)⁻¹ Xᵀ Y        score(x) = x W + ȳ        ŷ = argmax_c score(x)_c
//! ```
//!
//! (`ȳ`: the class frequencies, an unpenalised intercept). [`probe`] picks `λ` from
//! [`LAMBDAS`] by validation accuracy, so every layer and model is read the same way.

use super::logistic::Objective;
use super::Matrix;
use crate::{MosaicError, Result};

const WHAT: &str = "linear probe";

/// The ridge strengths [`probe`] chooses from (relative to the number of examples).
pub const LAMBDAS: [f64; 6] = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0];

/// A fitted probe.
#[derive(Debug, Clone)]
pub struct LinearProbe {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// `[d, C]`.
    weights: Vec<f64>,
    intercept: Vec<f64>,
    /// The ridge strength it was fitted with.
    pub lambda: f64,
    /// Its accuracy on the validation examples, when [`probe`] chose it.
    pub valid_accuracy: Option<f64>,
}

/// A ridge or L2 strength: finite and at least 0.
fn check_lambda(lambda: f64) -> Result<()> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(())
    } else {
        Err(MosaicError::invalid(
            WHAT,
            format!("lambda is {lambda}, expected a finite value ≥ 0"),
        ))
    }
}

fn check_labels(x: &Matrix, labels: &[usize], classes: usize) -> Result<()> {
    if x.rows() != labels.len() {
        return Err(MosaicError::invalid(
            WHAT,
            format!("{} examples with {} labels", x.rows(), labels.len()),
        ));
    }
    if x.rows() == 0 {
        return Err(MosaicError::invalid(WHAT, "no examples"));
    }
    if let Some(&l) = labels.iter().find(|&&l| l >= classes) {
        return Err(MosaicError::invalid(
            WHAT,
            format!("label {l} with {classes} classes"),
        ));
    }
    Ok(())
}

/// Solves `A z = b` for the symmetric positive definite `A` (`[d, d]`) by Cholesky, for each
/// column of `b` (`[d, C]`).
fn cholesky_solve(mut a: Vec<f64>, mut b: Vec<f64>, d: usize, c: usize) -> Result<Vec<f64>> {
    for j in 0..d {
        let mut diag = a[j * d + j];
        for k in 0..j {
            diag -= a[j * d + k] * a[j * d + k];
        }
        if diag <= 0.0 {
            return Err(MosaicError::invalid(
                WHAT,
                "the regularised Gram matrix is not positive definite",
            ));
        }
        let diag = diag.sqrt();
        a[j * d + j] = diag;
        for i in j + 1..d {
            let mut v = a[i * d + j];
            for k in 0..j {
                v -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = v / diag;
        }
    }
    // L y = b, then Lᵀ z = y.
    for col in 0..c {
        for i in 0..d {
            let mut v = b[i * c + col];
            for k in 0..i {
                v -= a[i * d + k] * b[k * c + col];
            }
            b[i * c + col] = v / a[i * d + i];
        }
        for i in (0..d).rev() {
            let mut v = b[i * c + col];
            for k in i + 1..d {
                v -= a[k * d + i] * b[k * c + col];
            }
            b[i * c + col] = v / a[i * d + i];
        }
    }
    Ok(b)
}

/// `x`'s column means, its column deviations (1 for a constant column) and `x` standardised
/// with them.
fn standardise(x: &Matrix) -> Result<(Vec<f64>, Vec<f64>, Matrix)> {
    let d = x.cols();
    let scale: Vec<f64> = x
        .column_variances()
        .into_iter()
        .map(|var| if var > 1e-24 { var.sqrt() } else { 1.0 })
        .collect();
    let standard = Matrix::new(
        x.rows(),
        d,
        x.centred()
            .values()
            .iter()
            .enumerate()
            .map(|(k, v)| v / scale[k % d.max(1)])
            .collect(),
    )?;
    Ok((x.column_means(), scale, standard))
}

/// The parts of the fit that do not depend on `λ`.
struct Gram {
    mean: Vec<f64>,
    scale: Vec<f64>,
    xtx: Vec<f64>,
    xty: Vec<f64>,
    intercept: Vec<f64>,
    n: usize,
    d: usize,
    classes: usize,
}

impl Gram {
    fn new(x: &Matrix, labels: &[usize], classes: usize) -> Result<Gram> {
        check_labels(x, labels, classes)?;
        let (n, d) = (x.rows(), x.cols());
        let (mean, scale, standard) = standardise(x)?;
        let mut intercept = vec![0.0; classes];
        labels.iter().for_each(|&l| intercept[l] += 1.0 / n as f64);
        let y = Matrix::new(
            n,
            classes,
            labels
                .iter()
                .flat_map(|&l| (0..classes).map(move |c| f64::from(u8::from(c == l))))
                .zip((0..n * classes).map(|k| intercept[k % classes]))
                .map(|(v, m)| v - m)
                .collect(),
        )?;
        Ok(Gram {
            xtx: standard.t_mul(&standard),
            xty: standard.t_mul(&y),
            mean,
            scale,
            intercept,
            n,
            d,
            classes,
        })
    }

    fn fit(&self, lambda: f64) -> Result<LinearProbe> {
        let mut a = self.xtx.clone();
        for j in 0..self.d {
            a[j * self.d + j] += lambda * self.n as f64;
        }
        Ok(LinearProbe {
            weights: cholesky_solve(a, self.xty.clone(), self.d, self.classes)?,
            mean: self.mean.clone(),
            scale: self.scale.clone(),
            intercept: self.intercept.clone(),
            lambda,
            valid_accuracy: None,
        })
    }
}

impl LinearProbe {
    /// Fits a probe with ridge strength `lambda` (≥ 0; relative to the number of examples).
    ///
    /// # Errors
    /// Labels that do not match the rows or are not below `classes`, no examples, or a
    /// negative or non-finite `lambda` (or 0 with collinear columns).
    pub fn fit(x: &Matrix, labels: &[usize], classes: usize, lambda: f64) -> Result<LinearProbe> {
        check_lambda(lambda)?;
        Gram::new(x, labels, classes)?.fit(lambda)
    }

    /// Fits a multinomial logistic-regression probe with L2 strength `lambda` (≥ 0) on the
    /// standardised codes: `W, b` minimise `(1/n) Σ_i CE(softmax(z_i W + b), y_i) + λ/2 ‖W‖²`
    /// (see the `logistic` module), and predict as the ridge probe does, `argmax_c (z W + b)_c`.
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn fit_logistic(x: &Matrix, labels: &[usize], classes: usize, lambda: f64) -> Result<LinearProbe> {
        check_lambda(lambda)?;
        check_labels(x, labels, classes)?;
        let (mean, scale, standard) = standardise(x)?;
        let mut theta = Objective::new(&standard, labels, classes, lambda).minimise();
        let intercept = theta.split_off(x.cols() * classes);
        Ok(LinearProbe {
            mean,
            scale,
            weights: theta,
            intercept,
            lambda,
            valid_accuracy: None,
        })
    }

    /// The predicted class of each row of `x`.
    ///
    /// # Errors
    /// `x` of another width than the training codes.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        let d = self.mean.len();
        if x.cols() != d {
            return Err(MosaicError::invalid(
                WHAT,
                format!("fitted on {d} features, given {}", x.cols()),
            ));
        }
        let classes = self.intercept.len();
        Ok((0..x.rows())
            .map(|i| {
                let mut score = self.intercept.clone();
                for (j, v) in x.row(i).iter().enumerate() {
                    let z = (v - self.mean[j]) / self.scale[j];
                    score
                        .iter_mut()
                        .zip(&self.weights[j * classes..(j + 1) * classes])
                        .for_each(|(s, w)| *s += z * w);
                }
                (0..classes).fold(0, |best, c| if score[c] > score[best] { c } else { best })
            })
            .collect())
    }

    /// The share of rows of `x` predicted as their label.
    ///
    /// # Errors
    /// Those of [`predict`](Self::predict), and labels that do not match the rows.
    pub fn accuracy(&self, x: &Matrix, labels: &[usize]) -> Result<f64> {
        check_labels(x, labels, self.intercept.len())?;
        let predicted = self.predict(x)?;
        Ok(predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64)
    }
}

/// Fits a probe on `train` for each `λ` of [`LAMBDAS`] and keeps the one with the best
/// accuracy on `valid` (the smallest `λ` on a tie); its [`LinearProbe::accuracy`] on test
/// examples is the probe accuracy to report.
///
/// # Errors
/// Those of [`LinearProbe::fit`] and [`LinearProbe::accuracy`].
pub fn probe(train: (&Matrix, &[usize]), valid: (&Matrix, &[usize]), classes: usize) -> Result<LinearProbe> {
    let gram = Gram::new(train.0, train.1, classes)?;
    choose(&LAMBDAS, |lambda| gram.fit(lambda), valid)
}

/// The L2 strengths [`logistic_probe`] chooses from.
pub const LOGISTIC_LAMBDAS: [f64; 5] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0];

/// [`probe`] with logistic regression ([`LinearProbe::fit_logistic`]): `λ` from
/// [`LOGISTIC_LAMBDAS`] by validation accuracy.
///
/// # Errors
/// Those of [`LinearProbe::fit_logistic`] and [`LinearProbe::accuracy`].
pub fn logistic_probe(
    train: (&Matrix, &[usize]),
    valid: (&Matrix, &[usize]),
    classes: usize,
) -> Result<LinearProbe> {
    choose(
        &LOGISTIC_LAMBDAS,
        |lambda| LinearProbe::fit_logistic(train.0, train.1, classes, lambda),
        valid,
    )
}

/// The probe of the `lambdas` with the best accuracy on `valid` (the first on a tie).
fn choose(
    lambdas: &[f64],
    fit: impl Fn(f64) -> Result<LinearProbe>,
    valid: (&Matrix, &[usize]),
) -> Result<LinearProbe> {
    let mut best: Option<LinearProbe> = None;
    for &lambda in lambdas {
        let mut candidate = fit(lambda)?;
        let accuracy = candidate.accuracy(valid.0, valid.1)?;
        candidate.valid_accuracy = Some(accuracy);
        if best.as_ref().is_none_or(|b| Some(accuracy) > b.valid_accuracy) {
            best = Some(candidate);
        }
    }
    Ok(best.expect("at least one lambda"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// `n` points in `d` dimensions; labels from which of three directions scores highest,
    /// or random labels.
    fn problem(n: usize, d: usize, seed: u64, random_labels: bool) -> (Matrix, Vec<usize>) {
        let mut rng = SplitMix64::new(seed);
        let values: Vec<f64> = (0..n * d).map(|_| f64::from(rng.normal())).collect();
        let x = Matrix::new(n, d, values).unwrap();
        let labels = (0..n)
            .map(|i| {
                if random_labels {
                    (rng.next_u64() % 3) as usize
                } else {
                    let r = x.row(i);
                    let scores = [r[0] + r[1], r[1] - r[2], r[2] - r[0]];
                    (0..3).fold(0, |b, c| if scores[c] > scores[b] { c } else { b })
                }
            })
            .collect();
        (x, labels)
    }

    #[test]
    fn reads_linearly_separable_labels_and_not_random_ones() {
        let split = |random| [1, 2, 3].map(|seed| problem(400, 6, seed + 10 * u64::from(random), random));
        let [train, valid, test] = split(false);
        let separable = probe((&train.0, &train.1), (&valid.0, &valid.1), 3)
            .unwrap()
            .accuracy(&test.0, &test.1)
            .unwrap();
        assert!(separable > 0.9, "{separable}");
        let [train, valid, test] = split(true);
        let random = probe((&train.0, &train.1), (&valid.0, &valid.1), 3)
            .unwrap()
            .accuracy(&test.0, &test.1)
            .unwrap();
        assert!(random < 0.45, "{random}");
        let [train, valid, test] = split(false);
        let logistic = logistic_probe((&train.0, &train.1), (&valid.0, &valid.1), 3)
            .unwrap()
            .accuracy(&test.0, &test.1)
            .unwrap();
        assert!(logistic > 0.9, "{logistic}");
    }

    #[test]
    fn the_closed_form_solves_the_normal_equations() {
        // With λ = 0 on standardised columns, the residual Y − XW is orthogonal to X's columns.
        let (x, labels) = problem(50, 3, 4, false);
        let gram = Gram::new(&x, &labels, 3).unwrap();
        let p = gram.fit(0.0).unwrap();
        let mut xtw = [0.0; 9];
        for j in 0..3 {
            for c in 0..3 {
                xtw[j * 3 + c] = (0..3).map(|k| gram.xtx[j * 3 + k] * p.weights[k * 3 + c]).sum();
            }
        }
        for (a, b) in xtw.iter().zip(&gram.xty) {
            assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn bad_input_is_named() {
        let (x, labels) = problem(10, 3, 1, false);
        let err = LinearProbe::fit(&x, &labels[..9], 3, 0.1).unwrap_err();
        assert_eq!(err.to_string(), "linear probe: 10 examples with 9 labels");
        let err = LinearProbe::fit(&x, &labels, 2, 0.1).map(|_| ()).err();
        assert!(labels.contains(&2) == err.is_some());
        let fitted = LinearProbe::fit(&x, &labels, 3, 0.1).unwrap();
        let wide = Matrix::new(1, 4, vec![0.0; 4]).unwrap();
        assert_eq!(
            fitted.predict(&wide).unwrap_err().to_string(),
            "linear probe: fitted on 3 features, given 4"
        );
        assert!(LinearProbe::fit(&x, &labels, 3, -1.0).is_err());
        assert!(LinearProbe::fit_logistic(&x, &labels, 3, f64::NAN).is_err());
        let err = LinearProbe::fit_logistic(&x, &labels[..9], 3, 0.1).unwrap_err();
        assert_eq!(err.to_string(), "linear probe: 10 examples with 9 labels");
    }
}
