//! Multinomial logistic regression on standardised codes `Z` (`[n, d]`), for
//! [`LinearProbe::fit_logistic`](super::probe::LinearProbe::fit_logistic):
//!
//! ```text
//! s_i = z_i W + b        f(W, b) = (1/n) Σ_i [log Σ_c exp(s_ic) − s_i,y_i] + λ/2 ‖W‖²
//! ∂f/∂W = (1/n) Zᵀ (P − Y) + λ W        ∂f/∂b = (1/n) Σ_i (p_i − y_i)
//! ```
//!
//! (`P`: the softmax of the scores, `Y`: the one-hot labels; the intercept `b` is not
//! penalised). Minimised by accelerated gradient descent (FISTA with backtracking on the
//! step and adaptive restarts) until the gradient's largest entry is below
//! [`TOLERANCE`] or [`MAX_STEPS`] steps; every sum runs in a fixed order, so the fit is
//! the same on every run.

use super::Matrix;

/// The gradient's largest entry at which the fit stops.
pub const TOLERANCE: f64 = 1e-7;

/// The most steps a fit takes.
pub const MAX_STEPS: usize = 5000;

/// The objective on fixed codes and labels; parameters `θ = [W (d × C, row-major), b (C)]`.
pub(super) struct Objective<'a> {
    z: &'a Matrix,
    labels: &'a [usize],
    classes: usize,
    lambda: f64,
}

impl<'a> Objective<'a> {
    pub(super) fn new(z: &'a Matrix, labels: &'a [usize], classes: usize, lambda: f64) -> Self {
        Objective {
            z,
            labels,
            classes,
            lambda,
        }
    }

    /// `f(θ)` and `∇f(θ)`.
    pub(super) fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let (n, d, c) = (self.z.rows(), self.z.cols(), self.classes);
        let (w, b) = theta.split_at(d * c);
        let mut gradient = vec![0.0; theta.len()];
        let mut value = 0.0;
        let mut p = vec![0.0; c];
        for (i, &label) in self.labels.iter().enumerate() {
            let row = self.z.row(i);
            p.copy_from_slice(b);
            for (j, &v) in row.iter().enumerate() {
                p.iter_mut()
                    .zip(&w[j * c..(j + 1) * c])
                    .for_each(|(s, w)| *s += v * w);
            }
            let top = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = p.iter().map(|s| (s - top).exp()).sum();
            value += top + total.ln() - p[label];
            p.iter_mut().for_each(|s| *s = (*s - top).exp() / total);
            p[label] -= 1.0;
            for (j, &v) in row.iter().enumerate() {
                gradient[j * c..(j + 1) * c]
                    .iter_mut()
                    .zip(&p)
                    .for_each(|(g, r)| *g += v * r);
            }
            gradient[d * c..].iter_mut().zip(&p).for_each(|(g, r)| *g += r);
        }
        let n = n as f64;
        gradient.iter_mut().for_each(|g| *g /= n);
        let squares: f64 = w.iter().map(|v| v * v).sum();
        gradient[..d * c]
            .iter_mut()
            .zip(w)
            .for_each(|(g, v)| *g += self.lambda * v);
        (value / n + 0.5 * self.lambda * squares, gradient)
    }

    /// The minimiser, from `θ = 0`.
    pub(super) fn minimise(&self) -> Vec<f64> {
        let size = (self.z.cols() + 1) * self.classes;
        let mut x = vec![0.0; size];
        let mut y = x.clone();
        let (mut momentum, mut lipschitz) = (1.0f64, 1.0f64);
        for _ in 0..MAX_STEPS {
            let (fy, gy) = self.value_and_gradient(&y);
            if gy.iter().all(|g| g.abs() < TOLERANCE) && y == x {
                break;
            }
            let norm: f64 = gy.iter().map(|g| g * g).sum();
            // The largest step that decreases f enough (the sufficient-decrease test of FISTA).
            let next = loop {
                let candidate: Vec<f64> = y.iter().zip(&gy).map(|(v, g)| v - g / lipschitz).collect();
                let (fc, _) = self.value_and_gradient(&candidate);
                if fc <= fy - 0.5 * norm / lipschitz || lipschitz > 1e12 {
                    break candidate;
                }
                lipschitz *= 2.0;
            };
            let following = 0.5 * (1.0 + (1.0 + 4.0 * momentum * momentum).sqrt());
            let beta = (momentum - 1.0) / following;
            // Restart the momentum when it points uphill (O'Donoghue & Candès 2015).
            let uphill: f64 = gy
                .iter()
                .zip(next.iter().zip(&x))
                .map(|(g, (a, b))| g * (a - b))
                .sum();
            if uphill > 0.0 {
                momentum = 1.0;
                y = next.clone();
            } else {
                momentum = following;
                y = next.iter().zip(&x).map(|(a, b)| a + beta * (a - b)).collect();
            }
            x = next;
            lipschitz = (lipschitz * 0.9).max(1e-6);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn codes(n: usize, d: usize, seed: u64) -> (Matrix, Vec<usize>) {
        let mut rng = SplitMix64::new(seed);
        let values: Vec<f64> = (0..n * d).map(|_| f64::from(rng.normal())).collect();
        // Labels noisy in the first feature: not separable, so the minimum is finite.
        let labels = (0..n)
            .map(|i| match i % 5 {
                0 => 2,
                _ => usize::from(values[i * d] + 0.8 * f64::from(rng.normal()) > 0.0),
            })
            .collect();
        (Matrix::new(n, d, values).unwrap(), labels)
    }

    /// The gradient against central differences of the objective.
    #[test]
    fn gradient_matches_finite_differences() {
        let (z, labels) = codes(30, 4, 1);
        let objective = Objective::new(&z, &labels, 3, 0.3);
        let mut rng = SplitMix64::new(9);
        let theta: Vec<f64> = (0..15).map(|_| f64::from(rng.normal())).collect();
        let (_, gradient) = objective.value_and_gradient(&theta);
        for k in 0..theta.len() {
            let shifted = |h: f64| {
                let mut t = theta.clone();
                t[k] += h;
                objective.value_and_gradient(&t).0
            };
            let numeric = (shifted(1e-6) - shifted(-1e-6)) / 2e-6;
            assert!(
                (numeric - gradient[k]).abs() < 1e-7,
                "θ[{k}]: {numeric} vs {}",
                gradient[k]
            );
        }
    }

    /// The fit is a minimum: its gradient vanishes and no coordinate step lowers the
    /// objective, with weak and with strong regularisation.
    #[test]
    fn the_fit_is_the_minimum() {
        let (z, labels) = codes(60, 3, 2);
        for lambda in [1e-3, 1.0] {
            let objective = Objective::new(&z, &labels, 3, lambda);
            let theta = objective.minimise();
            let (value, gradient) = objective.value_and_gradient(&theta);
            assert!(
                gradient.iter().all(|g| g.abs() < 1e-6),
                "λ {lambda}: {gradient:?}"
            );
            for k in 0..theta.len() {
                for h in [-1e-3, 1e-3] {
                    let mut t = theta.clone();
                    t[k] += h;
                    assert!(
                        objective.value_and_gradient(&t).0 >= value,
                        "λ {lambda}: θ[{k}] + {h} is lower"
                    );
                }
            }
        }
    }
}
