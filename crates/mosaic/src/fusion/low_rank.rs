//! Low-rank multimodal fusion (LMF, Liu et al. 2018).

use super::Fusion;
use crate::validate::{
    check_modality_dims, check_parameter_shape, check_parameter_size, check_positive, validate_inputs,
    with_constant,
};
use crate::MosaicError;
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Initializer, Module, ModuleDisplay, Param};
use burn::tensor::{backend::Backend, Tensor};
use mosaic_kernels::FusionBackend;

const LAYER: &str = "LowRankFusion";

/// Configuration of a [`LowRankFusion`] layer.
#[derive(Config, Debug)]
pub struct LowRankFusionConfig {
    /// Widths `d_m` of the modalities (at least 2).
    pub modality_dims: Vec<usize>,
    /// Output width `O`.
    pub d_output: usize,
    /// Rank `R` of the decomposition.
    pub rank: usize,
}

/// Low-rank fusion: `h = b + Σ_{i=1..R} w_i · Π_m (ẑ_m W_m^(i))` with `ẑ_m = [1; z_m]`.
///
/// This is tensor fusion whose weight tensor is constrained to
/// `Σ_i w_i (W_1^(i) ⊗ W_2^(i) ⊗ …)`, computed without ever forming the outer product.
/// All parameters are trainable; there are `Σ_m R (d_m + 1) O + R + O` of them.
///
/// Shapes (those of the original LMF code): `inputs[m]`: `[batch, d_m]`;
/// `factors[m]`: `[R, d_m + 1, O]`; `rank_weights`: `[1, R]`; `bias`: `[1, O]`;
/// output `[batch, O]`.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct LowRankFusion<B: Backend> {
    /// `W_m`, one `[R, d_m + 1, O]` tensor per modality.
    pub factors: Vec<Param<Tensor<B, 3>>>,
    /// `w`, `[1, R]`.
    pub rank_weights: Param<Tensor<B, 2>>,
    /// `b`, `[1, O]`.
    pub bias: Param<Tensor<B, 2>>,
    /// Widths `d_m`.
    pub modality_dims: Vec<usize>,
}

impl LowRankFusionConfig {
    /// Creates the layer: factors and rank weights Xavier-normal, bias zero (as the original
    /// LMF code initialises them).
    ///
    /// # Errors
    /// Fewer than 2 modalities, a zero width, `rank == 0`, `d_output == 0`, or a factor
    /// larger than [`MAX_PARAMETER_ELEMENTS`](crate::fusion::MAX_PARAMETER_ELEMENTS).
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<LowRankFusion<B>> {
        let shapes = self.factor_shapes()?;
        let xavier = Initializer::XavierNormal { gain: 1.0 };
        let factors = shapes
            .into_iter()
            .map(|shape| xavier.init_with(shape, Some(shape[1]), Some(self.d_output), device))
            .collect();
        Ok(LowRankFusion {
            factors,
            rank_weights: xavier.init_with([1, self.rank], Some(self.rank), Some(1), device),
            bias: Initializer::Zeros.init([1, self.d_output], device),
            modality_dims: self.modality_dims.clone(),
        })
    }
}

impl LowRankFusionConfig {
    /// The factors' shapes `[R, d_m + 1, O]`, after checking the configuration: at least 2
    /// modalities, no zero width, rank and output at least 1, every factor within
    /// [`MAX_PARAMETER_ELEMENTS`](crate::fusion::MAX_PARAMETER_ELEMENTS).
    fn factor_shapes(&self) -> crate::Result<Vec<[usize; 3]>> {
        check_modality_dims(LAYER, &self.modality_dims, 2)?;
        check_positive(LAYER, "rank", self.rank)?;
        check_positive(LAYER, "d_output", self.d_output)?;
        self.modality_dims
            .iter()
            .enumerate()
            .map(|(m, &d)| {
                let shape = [self.rank, with_constant(LAYER, d)?, self.d_output];
                check_parameter_size(LAYER, &format!("factors.{m}"), &shape)?;
                Ok(shape)
            })
            .collect()
    }
}

impl<B: Backend> LowRankFusion<B> {
    /// Checks every factor `[R, d_m + 1, O]`, the rank weights `[1, R]` and the bias
    /// `[1, O]` against the widths, with `R` and `O` from the rank weights and the bias (a
    /// record loaded into the layer may hold other shapes).
    fn check_parameters(&self) -> crate::Result<()> {
        let [one, rank] = self.rank_weights.lazy_shape().dims::<2>();
        check_parameter_shape(LAYER, "rank_weights", &[one, rank], &[1, rank])?;
        let [one, out] = self.bias.lazy_shape().dims::<2>();
        check_parameter_shape(LAYER, "bias", &[one, out], &[1, out])?;
        if self.factors.len() != self.modality_dims.len() {
            return Err(MosaicError::config(
                LAYER,
                format!(
                    "{} factors for {} modalities (widths {:?})",
                    self.factors.len(),
                    self.modality_dims.len(),
                    self.modality_dims
                ),
            ));
        }
        let config = LowRankFusionConfig::new(self.modality_dims.clone(), out, rank);
        for (m, (factor, expected)) in self.factors.iter().zip(config.factor_shapes()?).enumerate() {
            let actual = factor.lazy_shape().dims::<3>();
            check_parameter_shape(LAYER, &format!("factors.{m}"), &actual, &expected)?;
        }
        Ok(())
    }

    /// Rank `R`.
    pub fn rank(&self) -> usize {
        self.rank_weights.lazy_shape().dims::<2>()[1]
    }
}

impl<B: FusionBackend> Fusion<B> for LowRankFusion<B> {
    fn modality_dims(&self) -> &[usize] {
        &self.modality_dims
    }

    fn output_dim(&self) -> usize {
        self.bias.lazy_shape().dims::<2>()[1]
    }

    /// `h = Σ_r w_r · Π_m (ẑ_m · W_m[r]) + b` (`B::low_rank_fusion`).
    ///
    /// # Shapes
    /// - `inputs[m]`: `[batch, d_m]`
    /// - output: `[batch, O]`
    ///
    /// # Errors
    /// As [`Fusion::forward`].
    fn forward(&self, inputs: &[Tensor<B, 2>]) -> crate::Result<Tensor<B, 2>> {
        validate_inputs(LAYER, &self.modality_dims, inputs)?;
        self.check_parameters()?;
        let factors: Vec<_> = self.factors.iter().map(Param::val).collect();
        Ok(B::low_rank_fusion(
            inputs,
            &factors,
            self.rank_weights.val(),
            self.bias.val(),
        ))
    }
}

impl<B: Backend> ModuleDisplay for LowRankFusion<B> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        super::one_line()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        super::widths(
            content,
            &self.modality_dims,
            self.bias.lazy_shape().dims::<2>()[1],
        )
        .add("rank", &self.rank())
        .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion::TensorFusion;
    use crate::test_util::*;

    fn inputs_of<B: Backend>(dims: &[usize], batch: usize, device: &B::Device) -> Vec<Tensor<B, 2>> {
        modality_inputs(20, dims, batch, device)
    }
    use burn::module::Module;

    fn hand_computed<B: TestBackend>(device: &B::Device) {
        // ẑ_1 W_1 = 1·1 + 3·2 = 7, ẑ_2 W_2 = 1·3 − 1·4 = −1; h = 0.5 + 2 · 7 · (−1).
        let layer = LowRankFusion::<B> {
            factors: vec![
                Param::from_tensor(tensor_of(&[1., 2.], [1, 2, 1], device)),
                Param::from_tensor(tensor_of(&[3., 4.], [1, 2, 1], device)),
            ],
            rank_weights: Param::from_tensor(tensor_of(&[2.], [1, 1], device)),
            bias: Param::from_tensor(tensor_of(&[0.5], [1, 1], device)),
            modality_dims: vec![1, 1],
        };
        let h = layer
            .forward(&[
                tensor_of(&[3.], [1, 1], device),
                tensor_of(&[-1.], [1, 1], device),
            ])
            .unwrap();
        assert_eq!(to_f64(h), vec![-13.5]);
    }
    for_each_backend!(hand_computed_rank_one, hand_computed);

    /// The full weight tensor `Σ_i w_i (W_1^(i) ⊗ … ⊗ W_M^(i))` as a `[P, O]` matrix.
    fn full_weight(factors: &[Vec<f64>], dims: &[usize], rank_weights: &[f64], d_output: usize) -> Vec<f64> {
        let p: usize = dims.iter().map(|d| d + 1).product();
        let mut weight = vec![0.0; p * d_output];
        for flat in 0..p {
            let mut rest = flat;
            let mut index = vec![0; dims.len()];
            for m in (0..dims.len()).rev() {
                index[m] = rest % (dims[m] + 1);
                rest /= dims[m] + 1;
            }
            for o in 0..d_output {
                weight[flat * d_output + o] = rank_weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        w * index
                            .iter()
                            .enumerate()
                            .map(|(m, &j)| factors[m][(i * (dims[m] + 1) + j) * d_output + o])
                            .product::<f64>()
                    })
                    .sum::<f64>();
            }
        }
        weight
    }

    fn equals_tensor_fusion<B: TestBackend>(device: &B::Device) {
        for (dims, rank) in [(vec![2, 3], 1), (vec![3, 2, 4], 3), (vec![1, 2, 2, 1, 3], 4)] {
            let d_output = 3;
            let lmf = randomize(
                LowRankFusionConfig::new(dims.clone(), d_output, rank)
                    .init::<B>(device)
                    .unwrap(),
                7,
            );
            let factors: Vec<Vec<f64>> = lmf.factors.iter().map(|f| to_f64(f.val())).collect();
            let weight = full_weight(&factors, &dims, &to_f64(lmf.rank_weights.val()), d_output);
            let p = weight.len() / d_output;
            let tfn = TensorFusion::<B> {
                weight: Param::from_tensor(tensor_of(
                    &weight.iter().map(|&w| w as f32).collect::<Vec<_>>(),
                    [p, d_output],
                    device,
                )),
                bias: Some(Param::from_tensor(
                    Tensor::<B, 2>::from_data(lmf.bias.val().into_data(), device).reshape([d_output]),
                )),
                mask: None,
                modality_dims: dims.clone(),
            };
            let x = inputs_of::<B>(&dims, 3, device);
            let low_rank = run_case(&lmf, &x, super::super::Fusion::forward);
            let full = run_case(&tfn, &x, super::super::Fusion::forward);
            assert_close(
                &format!("output, dims {dims:?}"),
                &low_rank.output,
                &full.output,
                1e-4,
            );
            for (m, (a, e)) in low_rank.input_grads.iter().zip(&full.input_grads).enumerate() {
                assert_close(&format!("input {m} gradient, dims {dims:?}"), a, e, 1e-4);
            }
        }
    }
    for_each_backend!(equals_tensor_fusion_with_summed_factors, equals_tensor_fusion);

    #[test]
    fn parameter_count() {
        let device = Default::default();
        for (dims, rank, out) in [
            (vec![32, 32, 128], 4, 16),
            (vec![5, 7], 1, 3),
            (vec![1, 2, 3, 4, 5], 64, 2),
        ] {
            let layer = LowRankFusionConfig::new(dims.clone(), out, rank)
                .init::<Reference>(&device)
                .unwrap();
            let expected: usize = dims.iter().map(|d| rank * (d + 1) * out).sum::<usize>() + rank + out;
            assert_eq!(
                layer.num_params(),
                expected,
                "dims {dims:?} rank {rank} out {out}"
            );
            assert_eq!(layer.rank(), rank);
        }
    }

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let layer = randomize(
            LowRankFusionConfig::new(vec![3, 2, 4], 5, 4)
                .init::<B>(device)
                .unwrap(),
            9,
        );
        run_case(&layer, &inputs_of::<B>(&[3, 2, 4], 3, device), |l, x| {
            l.forward(x)
        })
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);

    fn bad_input<B: TestBackend>(device: &B::Device) {
        let layer = LowRankFusionConfig::new(vec![2, 3, 1], 4, 2)
            .init::<B>(device)
            .unwrap();
        let z = |b: usize, d: usize| Tensor::<B, 2>::zeros([b, d], device);
        let message = |inputs: &[Tensor<B, 2>]| layer.forward(inputs).unwrap_err().to_string();
        assert_eq!(
            message(&[z(2, 2), z(2, 3)]),
            "LowRankFusion: expected 3 modalities, got 2"
        );
        assert_eq!(
            message(&[z(2, 2), z(2, 3), z(2, 2)]),
            "LowRankFusion: modality 2 has shape [2, 2], expected [2, 1] ([batch, d_2], batch from modality 0)"
        );
        assert_eq!(
            message(&[z(0, 2), z(0, 3), z(0, 1)]),
            "LowRankFusion: modality 0 has shape [0, 2]: the batch must not be empty"
        );
    }
    for_each_backend!(rejects_bad_input, bad_input);

    #[test]
    fn rejects_bad_config() {
        let device = Default::default();
        let message = |c: LowRankFusionConfig| c.init::<Reference>(&device).unwrap_err().to_string();
        assert_eq!(
            message(LowRankFusionConfig::new(vec![2, 3], 4, 0)),
            "LowRankFusion config: rank must be at least 1, got 0"
        );
        assert_eq!(
            message(LowRankFusionConfig::new(vec![2, 3], 0, 2)),
            "LowRankFusion config: d_output must be at least 1, got 0"
        );
        assert_eq!(
            message(LowRankFusionConfig::new(vec![], 1, 2)),
            "LowRankFusion config: needs at least 2 modalities, got 0 ([])"
        );
        assert_eq!(
            message(LowRankFusionConfig::new(vec![2, usize::MAX], 4, 2)),
            format!(
                "LowRankFusion config: modality width {} + 1 overflows",
                usize::MAX
            )
        );
        assert_eq!(
            message(LowRankFusionConfig::new(vec![2, 3], 1 << 40, 1 << 40)),
            format!(
                "LowRankFusion config: parameter `factors.0` of shape [{r}, 3, {r}] would have more than {} elements",
                crate::fusion::MAX_PARAMETER_ELEMENTS,
                r = 1usize << 40
            )
        );
    }

    /// Factors, rank weights or bias that disagree with the widths or with each other are
    /// an error naming the parameter, on every backend.
    fn mismatched_parameters<B: TestBackend>(device: &B::Device) {
        let inputs = inputs_of::<B>(&[2, 3], 4, device);
        let layer = || {
            LowRankFusionConfig::new(vec![2, 3], 5, 2)
                .init::<B>(device)
                .unwrap()
        };
        let message = |layer: &LowRankFusion<B>| layer.forward(&inputs).unwrap_err().to_string();
        let mut wide = layer();
        wide.factors[1] = Param::from_tensor(Tensor::zeros([2, 5, 5], device));
        assert_eq!(
            message(&wide),
            "LowRankFusion: parameter `factors.1` has shape [2, 5, 5], expected [2, 4, 5] (from the layer's configuration)"
        );
        let mut ranks = layer();
        ranks.rank_weights = Param::from_tensor(Tensor::zeros([1, 3], device));
        assert_eq!(
            message(&ranks),
            "LowRankFusion: parameter `factors.0` has shape [2, 3, 5], expected [3, 3, 5] (from the layer's configuration)"
        );
        let mut missing = layer();
        missing.factors.pop();
        assert_eq!(
            message(&missing),
            "LowRankFusion config: 1 factors for 2 modalities (widths [2, 3])"
        );
    }
    for_each_backend!(rejects_mismatched_parameters, mismatched_parameters);
}
