//! Additive white Gaussian noise at a signal-to-noise ratio (Ngiam et al. 2011's noisy-audio
//! setting): `y = x + σ·n`, `n ~ N(0, 1)` per sample from [`SplitMix64`], with
//! `σ² = P_x / 10^{SNR/10}` and `P_x = mean(x²)` the recording's own power.

use crate::rng::SplitMix64;

/// `samples` with white noise at `snr_db` decibels below their power, drawn from `seed`.
/// A silent recording stays silent (its power is 0).
pub fn add_white_noise(samples: &[f32], snr_db: f64, seed: u64) -> Vec<f32> {
    let power = samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64;
    let sigma = (power / 10f64.powf(snr_db / 10.0)).sqrt();
    let mut rng = SplitMix64::new(seed);
    samples
        .iter()
        .map(|&s| (f64::from(s) + sigma * f64::from(rng.normal())) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn power(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64
    }

    #[test]
    fn the_noise_has_the_requested_power_and_the_seed_decides_it() {
        let signal: Vec<f32> = (0..40_000).map(|i| ((i as f32) * 0.01).sin() * 0.3).collect();
        let p_signal = power(&signal.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
        for snr in [20.0, 10.0, 0.0, -5.0] {
            let noisy = add_white_noise(&signal, snr, 3);
            let noise: Vec<f64> = noisy.iter().zip(&signal).map(|(y, x)| f64::from(y - x)).collect();
            let measured = 10.0 * (p_signal / power(&noise)).log10();
            assert!(
                (measured - snr).abs() < 0.1,
                "asked {snr} dB, got {measured:.3} dB"
            );
            assert_eq!(noisy, add_white_noise(&signal, snr, 3));
            assert_ne!(noisy, add_white_noise(&signal, snr, 4));
        }
        assert_eq!(add_white_noise(&[0.0; 10], 0.0, 1), vec![0.0; 10]);
    }
}
