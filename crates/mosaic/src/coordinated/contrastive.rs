//! The symmetric InfoNCE loss of CLIP (Radford et al. 2021; van den Oord et al. 2018), with a
//! learnable temperature kept in a range: each pair must win a softmax over the batch, in
//! both directions.
//!
//! With `S`: `[n, n]` the cosine similarities of a batch of `n` pairs (pairs on the diagonal)
//! and `s = 1/τ` the logit scale:
//!
//! ```text
//! ℓ_ij = s · S_ij
//! L = ½ · (1/n) Σ_i [ (log Σ_j e^{ℓ_ij} − ℓ_ii) + (log Σ_j e^{ℓ_ji} − ℓ_ii) ]
//! s = exp(clamp(t, −ln τ_max, −ln τ_min))            (Temperature: t learnable, t₀ = −ln τ₀)
//! ```
//!
//! CLIP starts at `τ₀ = 0.07` and clamps `s` at 100 (`τ_min = 0.01`); the clamp stops the
//! temperature from collapsing to 0, where the loss rewards ever larger logits. Outside the
//! range `t` gets no gradient. The log-sum-exp subtracts each row's maximum first, so large
//! logits do not overflow.

use super::similarity::{check_square, diagonal};
use crate::MosaicError;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor, TensorData};

const WHAT: &str = "InfoNCE loss";

/// Configuration of a [`Temperature`].
#[derive(Config, Debug)]
pub struct TemperatureConfig {
    /// The starting temperature `τ₀`.
    #[config(default = 0.07)]
    pub initial: f64,
    /// The lowest temperature training may reach (the highest logit scale, `1/τ_min`).
    #[config(default = 0.01)]
    pub min: f64,
    /// The highest temperature.
    #[config(default = 1.0)]
    pub max: f64,
}

impl TemperatureConfig {
    /// A temperature at `initial`, learnable within `[min, max]`.
    ///
    /// # Errors
    /// [`MosaicError::Config`] unless `0 < min ≤ initial ≤ max`, all finite.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<Temperature<B>> {
        let Self { initial, min, max } = *self;
        let finite = [initial, min, max].iter().all(|v| v.is_finite());
        if !(finite && min > 0.0 && min <= initial && initial <= max) {
            return Err(MosaicError::Config {
                layer: "Temperature",
                message: format!(
                    "initial {initial}, min {min}, max {max}: expected finite values with 0 < min ≤ initial ≤ max (CLIP: 0.07 in [0.01, 1])"
                ),
            });
        }
        let t = Tensor::from_data(TensorData::new(vec![(1.0 / initial).ln() as f32], [1]), device);
        Ok(Temperature {
            log_scale: Param::from_tensor(t),
            min,
            max,
        })
    }
}

/// A learnable softmax temperature `τ`, stored as the log of the logit scale `t = −ln τ`.
#[derive(Module, Debug)]
pub struct Temperature<B: Backend> {
    /// `t = ln(1/τ)`: `[1]`.
    pub log_scale: Param<Tensor<B, 1>>,
    /// The lowest temperature.
    pub min: f64,
    /// The highest temperature.
    pub max: f64,
}

impl<B: Backend> Temperature<B> {
    /// The logit scale `s = 1/τ = exp(clamp(t, −ln τ_max, −ln τ_min))`: `[1]`.
    pub fn scale(&self) -> Tensor<B, 1> {
        self.log_scale
            .val()
            .clamp((1.0 / self.max).ln(), (1.0 / self.min).ln())
            .exp()
    }

    /// The temperature `τ` now (read back from the device).
    pub fn value(&self) -> f64 {
        let scale: f64 = self.scale().into_data().iter::<f64>().next().unwrap_or(f64::NAN);
        1.0 / scale
    }
}

/// The symmetric InfoNCE loss of the similarities of `n` pairs at the logit scale `scale`
/// (a [`Temperature::scale`], or a fixed `1/τ`).
///
/// # Shapes
/// - `similarities`: `[n, n]`, `n ≥ 2`, pairs on the diagonal
/// - `scale`: `[1]`
/// - output: `[1]`
///
/// # Errors
/// [`MosaicError::Shape`] for a matrix that is not square or has fewer than two pairs, or a
/// scale that is not `[1]`.
pub fn info_nce_loss<B: Backend>(
    similarities: Tensor<B, 2>,
    scale: Tensor<B, 1>,
) -> crate::Result<Tensor<B, 1>> {
    check_square(WHAT, similarities.dims())?;
    if scale.dims() != [1] {
        return Err(MosaicError::invalid(
            WHAT,
            format!("the logit scale has shape {:?}, expected [1] (1/τ)", scale.dims()),
        ));
    }
    let logits = similarities * scale.unsqueeze::<2>();
    let positives = diagonal(logits.clone()); // [n, 1]: ℓ_ii
    let rows = log_sum_exp(logits.clone(), 1) - positives.clone();
    let columns = log_sum_exp(logits, 0) - positives.transpose();
    Ok((rows.mean() + columns.mean()) * 0.5)
}

/// `log Σ e^x` along `dim` (kept as a dimension of 1), shifted by the maximum.
fn log_sum_exp<B: Backend>(x: Tensor<B, 2>, dim: usize) -> Tensor<B, 2> {
    let max = x.clone().max_dim(dim).detach();
    (x - max.clone()).exp().sum_dim(dim).log() + max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// `S = [[0.5, 0.1], [−0.2, 0.3]]` at scale 2: logits `[[1, 0.2], [−0.4, 0.6]]`, the loss
    /// written out term by term.
    fn by_hand<B: TestBackend>(device: &B::Device) {
        let s = Tensor::<B, 2>::from_floats([[0.5, 0.1], [-0.2, 0.3]], device);
        let scale = Tensor::<B, 1>::from_floats([2.0], device);
        let e = f64::exp;
        let rows = (e(1.0) + e(0.2)).ln() - 1.0 + (e(-0.4) + e(0.6)).ln() - 0.6;
        let columns = (e(1.0) + e(-0.4)).ln() - 1.0 + (e(0.2) + e(0.6)).ln() - 0.6;
        let loss = info_nce_loss(s, scale).unwrap();
        assert_close("loss", &to_f64(loss), &[0.25 * (rows + columns)], 1e-6);
        // Logits far beyond f32's exp range: the shift keeps the loss finite (and right).
        let big = Tensor::<B, 2>::from_floats([[1.0, 0.0], [0.0, 1.0]], device);
        let loss = info_nce_loss(big, Tensor::from_floats([1000.0], device)).unwrap();
        assert_close("large logits", &to_f64(loss), &[0.0], 1e-6);
    }
    for_each_backend!(loss_by_hand, by_hand);

    fn temperature_case<B: TestBackend>(device: &B::Device) {
        let temperature = TemperatureConfig::new().init::<B>(device).unwrap();
        assert!((temperature.value() - 0.07).abs() < 1e-6);
        // Pushed past its bound, the temperature stays at 0.01 and t gets no gradient.
        let pushed = Temperature {
            log_scale: Param::from_tensor(Tensor::from_floats([10.0], device)),
            ..temperature
        };
        assert!((pushed.value() - 0.01).abs() < 1e-6, "{}", pushed.value());
        let s = Tensor::<B, 2>::from_floats([[0.5, 0.1], [-0.2, 0.3]], device);
        let grads = info_nce_loss(s, pushed.scale()).unwrap().backward();
        let grad = pushed.log_scale.val().grad(&grads).map(to_f64);
        assert_eq!(grad, Some(vec![0.0]));
    }
    for_each_backend!(temperature_is_clamped, temperature_case);

    #[test]
    fn bad_input_is_named() {
        let device = Default::default();
        for (initial, min, max) in [
            (0.07, 0.0, 1.0),
            (0.001, 0.01, 1.0),
            (f64::NAN, 0.01, 1.0),
            (2.0, 0.01, 1.0),
        ] {
            let err = TemperatureConfig::new()
                .with_initial(initial)
                .with_min(min)
                .with_max(max)
                .init::<Reference>(&device)
                .unwrap_err();
            assert!(
                err.to_string().starts_with("Temperature config: initial"),
                "{err}"
            );
        }
        let s = Tensor::<Reference, 2>::zeros([2, 2], &device);
        let err = info_nce_loss(s, Tensor::ones([2], &device)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "InfoNCE loss: the logit scale has shape [2], expected [1] (1/τ)"
        );
    }
}
