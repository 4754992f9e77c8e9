//! The one seeded pseudo-random generator of mosaic: SplitMix64 (Steele, Lea and Flood,
//! "Fast splittable pseudorandom number generators", OOPSLA 2014).
//!
//! Every draw mosaic makes itself goes through it: generated datasets, the order of
//! training batches, test values (initial weights and dropout come from burn's generator,
//! seeded by the training seed). Integer arithmetic only, so the same seed gives the same
//! numbers on every machine.
//!
//! ```
//! use mosaic_data::rng::SplitMix64;
//!
//! let mut rng = SplitMix64::new(7);
//! let mut order: Vec<usize> = (0..5).collect();
//! rng.shuffle(&mut order);
//! let mut sorted = order.clone();
//! sorted.sort_unstable();
//! assert_eq!(sorted, [0, 1, 2, 3, 4]);
//! assert!((0.0..=1.0).contains(&rng.uniform()));
//! ```

/// The increment of SplitMix64's state: 2⁶⁴ divided by the golden ratio, made odd.
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64: a 64-bit state advanced by [`GOLDEN_GAMMA`] and mixed into each output.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose state starts at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The generator `new(seed)` becomes after `draws` calls of [`next_u64`](Self::next_u64):
    /// random access into its sequence, for draws that must not depend on which others were
    /// made (dropout on the stored entries of a sparse matrix, the same as on the dense one).
    pub fn at(seed: u64, draws: u64) -> Self {
        SplitMix64 {
            state: seed.wrapping_add(draws.wrapping_mul(GOLDEN_GAMMA)),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1], from 53 random bits (never 0, so its logarithm is finite).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1), from 24 random bits (exact in `f32`).
    pub fn signed_unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Standard normal, by the Box–Muller transform of two [`uniform`](Self::uniform)s.
    pub fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// A random permutation of `items` in place (Fisher–Yates, from the last item down; the
    /// index is the next output modulo the number of choices).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, (self.next_u64() % (i as u64 + 1)) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs for seed 0, from the reference C implementation
    /// (<https://prng.di.unimi.it/splitmix64.c>).
    #[test]
    fn matches_the_reference_outputs() {
        let mut rng = SplitMix64::new(0);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            first,
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
    }

    #[test]
    fn at_jumps_ahead_in_the_sequence() {
        let mut rng = SplitMix64::new(42);
        let sequence: Vec<u64> = (0..10).map(|_| rng.next_u64()).collect();
        for (n, &value) in sequence.iter().enumerate() {
            assert_eq!(SplitMix64::at(42, n as u64).next_u64(), value, "draw {n}");
        }
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let shuffled = |seed| {
            let mut order: Vec<usize> = (0..100).collect();
            SplitMix64::new(seed).shuffle(&mut order);
            order
        };
        let a = shuffled(3);
        assert_eq!(a, shuffled(3));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(a, sorted);
        assert_ne!(a, shuffled(4));
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut rng = SplitMix64::new(11);
        for _ in 0..10_000 {
            let u = rng.uniform();
            assert!(u > 0.0 && u <= 1.0, "{u}");
            let s = rng.signed_unit();
            assert!((-1.0..1.0).contains(&s), "{s}");
            assert!(rng.normal().is_finite());
        }
    }
}
