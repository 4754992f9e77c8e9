//! The bundled benchmark: a small trimodal sentiment dataset generated deterministically,
//! whose labels are built from known unimodal, bimodal and trimodal components.
//!
//! Each segment has `text_len` word vectors `x_j ~ N(0, I)`, an audio vector `a ~ N(0, I)`
//! and a video vector `v ~ N(0, I)`. A fixed unit direction per modality (drawn from the
//! seed) gives one latent score per modality, each `~ N(0, 1)` and independent:
//!
//! ```text
//! t = Σ_j ⟨u, x_j⟩ / √text_len     a = ⟨p, a⟩     v = ⟨q, v⟩
//! ```
//!
//! and the label is
//!
//! ```text
//! y = clip( 0.8 t + 0.6 a + 0.6 v        unimodal
//!         + 0.5 t·a + 0.5 a·v            bimodal (text-audio, audio-video)
//!         + 1.0 t·a·v                    trimodal (synergistic)
//!         + σ ε,  -3, 3 )                ε ~ N(0, 1), σ = 0.2
//! ```
//!
//! The terms are uncorrelated (odd moments of independent normals vanish), and the other
//! dimensions of every input are distractors. Every term is kept with the sample
//! ([`Sample::terms`](crate::Sample)), so the best achievable error of a model that sees a
//! subset of the modalities is known ([`Dataset::oracle_mae`](crate::Dataset::oracle_mae)):
//! the terms of missing modalities have mean zero given the others, so it predicts the
//! clipped sum of the rest.

use crate::dataset::{modality_set, Dataset, Modality, Sample, Term};
use crate::rng::SplitMix64;

/// Sizes and seed of the generated dataset; [`SyntheticConfig::default`] is the bundled one.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Seed of the directions, the features and the noise.
    pub seed: u64,
    /// Segments per split.
    pub train: usize,
    /// Validation segments.
    pub valid: usize,
    /// Test segments.
    pub test: usize,
    /// Words per segment.
    pub text_len: usize,
    /// Word-vector width.
    pub text_width: usize,
    /// Audio width.
    pub audio_width: usize,
    /// Video width.
    pub video_width: usize,
    /// Standard deviation `σ` of the label noise.
    pub noise: f32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 11_777,
            train: 2000,
            valid: 400,
            test: 600,
            text_len: 4,
            text_width: 4,
            audio_width: 4,
            video_width: 4,
            noise: 0.2,
        }
    }
}

/// `n` standard normal draws.
fn normals(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal()).collect()
}

/// A random unit vector of `width` entries.
fn unit(rng: &mut SplitMix64, width: usize) -> Vec<f32> {
    loop {
        let v = normals(rng, width);
        let norm = dot(&v, &v).sqrt();
        if norm > 1e-3 {
            return v.into_iter().map(|x| x / norm).collect();
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Generates the dataset of `config`. The same config gives the same dataset on every
/// machine (integer RNG, f64 transcendental functions from the standard library). Zero
/// widths or lengths are raised to 1.
pub fn generate(config: &SyntheticConfig) -> Dataset {
    let [text_len, text_width, audio_width, video_width] = [
        config.text_len,
        config.text_width,
        config.audio_width,
        config.video_width,
    ]
    .map(|n| n.max(1));
    let mut rng = SplitMix64::new(config.seed);
    let [u, p, q] = [text_width, audio_width, video_width].map(|w| unit(&mut rng, w));
    let scale = 1.0 / (text_len as f32).sqrt();
    let [tb, ab, vb] = [Modality::Text, Modality::Audio, Modality::Video].map(super::dataset::Modality::bit);

    let mut sample = |id: String| {
        let text = normals(&mut rng, text_len * text_width);
        let audio = normals(&mut rng, audio_width);
        let video = normals(&mut rng, video_width);
        let t = text.chunks(text_width).map(|x| dot(x, &u)).sum::<f32>() * scale;
        let (a, v) = (dot(&audio, &p), dot(&video, &q));
        let terms = vec![
            Term {
                set: tb,
                value: 0.8 * t,
            },
            Term {
                set: ab,
                value: 0.6 * a,
            },
            Term {
                set: vb,
                value: 0.6 * v,
            },
            Term {
                set: tb | ab,
                value: 0.5 * t * a,
            },
            Term {
                set: ab | vb,
                value: 0.5 * a * v,
            },
            Term {
                set: tb | ab | vb,
                value: t * a * v,
            },
        ];
        let clean: f32 = terms.iter().map(|term| term.value).sum();
        let label = (clean + config.noise * rng.normal()).clamp(-3.0, 3.0);
        Sample {
            id,
            text,
            audio,
            video,
            label,
            terms,
        }
    };
    let mut split = |name: &str, n: usize| (0..n).map(|i| sample(format!("{name}{i}"))).collect();
    let train = split("train", config.train);
    let valid = split("valid", config.valid);
    let test = split("test", config.test);
    Dataset {
        name: "trimodal".into(),
        text_len,
        text_width,
        audio_width,
        video_width,
        train,
        valid,
        test,
    }
}

/// The modality sets of the label's terms, for documentation and tests: unimodal (3),
/// bimodal (2) and trimodal (1).
pub fn term_sets() -> [u8; 6] {
    use Modality::*;
    [
        modality_set(&[Text]),
        modality_set(&[Audio]),
        modality_set(&[Video]),
        modality_set(&[Text, Audio]),
        modality_set(&[Audio, Video]),
        modality_set(&[Text, Audio, Video]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SplitName;

    fn small() -> SyntheticConfig {
        SyntheticConfig {
            train: 40,
            valid: 10,
            test: 2000,
            ..SyntheticConfig::default()
        }
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        assert_eq!(generate(&small()), generate(&small()));
        let other = generate(&SyntheticConfig { seed: 1, ..small() });
        assert_ne!(other.train[0].audio, generate(&small()).train[0].audio);
    }

    #[test]
    fn labels_are_the_clipped_sum_of_the_terms_plus_small_noise() {
        let data = generate(&small());
        data.validate().unwrap();
        let mut residuals = Vec::new();
        for s in &data.test {
            assert_eq!(s.terms.iter().map(|t| t.set).collect::<Vec<_>>(), term_sets());
            let clean: f32 = s.terms.iter().map(|t| t.value).sum();
            assert!((-3.0..=3.0).contains(&s.label));
            if clean.abs() < 2.5 {
                residuals.push(f64::from(s.label - clean));
            }
        }
        // The noise has σ = 0.2: its sample standard deviation over ~1500 draws is within 10 %.
        let n = residuals.len() as f64;
        let mean = residuals.iter().sum::<f64>() / n;
        let sd = (residuals.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(
            mean.abs() < 0.02 && (sd - 0.2).abs() < 0.02,
            "mean {mean}, sd {sd}"
        );
    }

    #[test]
    fn latent_scores_have_unit_variance() {
        // The unimodal text term is 0.8 t with t ~ N(0, 1): its variance is 0.64.
        let data = generate(&small());
        let values: Vec<f64> = data.test.iter().map(|s| f64::from(s.terms[0].value)).collect();
        let var = values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64;
        assert!((var - 0.64).abs() < 0.08, "variance {var}");
    }

    #[test]
    fn oracle_improves_with_each_modality_and_reaches_the_noise_floor() {
        use Modality::*;
        let data = generate(&small());
        let mae = |m: &[Modality]| data.oracle_mae(SplitName::Test, m).unwrap();
        let (text, text_audio, all) = (mae(&[Text]), mae(&[Text, Audio]), mae(&[Text, Audio, Video]));
        assert!(text > text_audio && text_audio > all, "{text} {text_audio} {all}");
        // With everything known only the noise is left: E|σε| = σ √(2/π) ≈ 0.160.
        assert!(
            (all - 0.2 * (2.0 / std::f64::consts::PI).sqrt()).abs() < 0.015,
            "{all}"
        );
    }
}
