//! Ngiam et al.'s augmentation: examples with one modality zeroed, so that the shared code
//! learns to stand in for a missing modality while both are still reconstructed.

use crate::rng::SplitMix64;
use burn::tensor::{backend::Backend, Tensor, TensorData};

/// What an example's input lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Zeroed {
    /// Both modalities present.
    Nothing,
    /// Modality `m` set to zero in the input (still reconstructed).
    Modality(usize),
}

/// Whether training zeroes modalities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zeroing {
    /// Every example with both modalities.
    Off,
    /// Of each epoch's examples, a third with modality 0 (audio) zeroed, a third with
    /// modality 1 (video) zeroed and the rest with both (`⌊n/3⌋`, `⌊n/3⌋`, `n − 2⌊n/3⌋`),
    /// in a seeded order.
    #[default]
    Thirds,
}

impl Zeroing {
    /// What each of `n` examples lacks in one epoch, drawn from `seed`.
    pub fn plan(self, n: usize, seed: u64) -> Vec<Zeroed> {
        let mut plan = vec![Zeroed::Nothing; n];
        if self == Zeroing::Thirds {
            let third = n / 3;
            plan[..third].fill(Zeroed::Modality(0));
            plan[third..2 * third].fill(Zeroed::Modality(1));
            SplitMix64::new(seed).shuffle(&mut plan);
        }
        plan
    }
}

/// `inputs` with the rows `plan` names zeroed: each modality multiplied by a `[batch, 1]`
/// mask of 0 and 1.
pub(crate) fn apply<B: Backend>(inputs: Vec<Tensor<B, 2>>, plan: &[Zeroed]) -> Vec<Tensor<B, 2>> {
    if plan.iter().all(|z| *z == Zeroed::Nothing) {
        return inputs;
    }
    inputs
        .into_iter()
        .enumerate()
        .map(|(m, x)| {
            let keep: Vec<f32> = plan
                .iter()
                .map(|z| f32::from(u8::from(*z != Zeroed::Modality(m))))
                .collect();
            let mask = Tensor::<B, 2>::from_data(TensorData::new(keep, [plan.len(), 1]), &x.device());
            x * mask
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn thirds_zero_exactly_a_third_each() {
        for n in [0, 1, 2, 3, 10, 64, 2400] {
            let plan = Zeroing::Thirds.plan(n, 5);
            let count = |z| plan.iter().filter(|&&p| p == z).count();
            assert_eq!(
                (
                    count(Zeroed::Modality(0)),
                    count(Zeroed::Modality(1)),
                    count(Zeroed::Nothing)
                ),
                (n / 3, n / 3, n - 2 * (n / 3)),
                "n = {n}"
            );
        }
        assert_ne!(Zeroing::Thirds.plan(30, 5), Zeroing::Thirds.plan(30, 6));
        assert!(Zeroing::Off.plan(30, 5).iter().all(|&z| z == Zeroed::Nothing));
    }

    fn masks_rows<B: TestBackend>(device: &B::Device) {
        let plan = [Zeroed::Modality(0), Zeroed::Nothing, Zeroed::Modality(1)];
        let (a, v) = (
            tensor::<B, 2>(1, [3, 4], device),
            tensor::<B, 2>(2, [3, 2], device),
        );
        let (av, vv) = (to_f64(a.clone()), to_f64(v.clone()));
        let out = apply(vec![a, v], &plan);
        let expected_a: Vec<f64> = av
            .iter()
            .enumerate()
            .map(|(k, x)| if k / 4 == 0 { 0.0 } else { *x })
            .collect();
        let expected_v: Vec<f64> = vv
            .iter()
            .enumerate()
            .map(|(k, x)| if k / 2 == 2 { 0.0 } else { *x })
            .collect();
        assert_close("audio", &to_f64(out[0].clone()), &expected_a, 0.0);
        assert_close("video", &to_f64(out[1].clone()), &expected_v, 0.0);
    }
    for_each_backend!(zeroes_the_planned_rows, masks_rows);
}
