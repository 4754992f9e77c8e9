//! Tensor fusion (TFN, Zadeh et al. 2017).

use super::Fusion;
use crate::validate::{
    check_modality_dims, check_parameter_shape, check_parameter_size, check_positive, validate_inputs,
    with_constant,
};
use crate::MosaicError;
use burn::config::Config;
use burn::module::{Content, DisplaySettings, Initializer, Module, ModuleDisplay, Param};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use mosaic_kernels::FusionBackend;

const LAYER: &str = "TensorFusion";

/// Configuration of a [`TensorFusion`] layer.
#[derive(Config, Debug)]
pub struct TensorFusionConfig {
    /// Widths `d_m` of the modalities (at least 2).
    pub modality_dims: Vec<usize>,
    /// Output width `O`.
    pub d_output: usize,
    /// Interaction orders to keep, e.g. `[1, 2]` for unimodal and bimodal terms only (the
    /// TFN paper's ablations). Order of a term: the number of modalities that contribute a
    /// feature rather than the constant 1 (order 0 is the constant term). `None` keeps all.
    #[config(default = "None")]
    pub orders: Option<Vec<usize>>,
    /// Whether to add a bias `b`.
    #[config(default = true)]
    pub bias: bool,
}

/// Tensor fusion: `h = W vec(ẑ_1 ⊗ ẑ_2 ⊗ … ⊗ ẑ_M) + b` with `ẑ_m = [1; z_m]`.
///
/// The constant 1 is prepended (index 0), and the outer product is flattened row-major in
/// modality order, so `vec(Z)` holds the constant, every unimodal feature, every bimodal
/// product, and so on up to the `M`-modal products. `P = Π_m (d_m + 1)`.
///
/// Shapes: `inputs[m]`: `[batch, d_m]`; `weight`: `[P, O]` (the transpose of PyTorch's
/// `nn.Linear(P, O).weight`); `bias`: `[O]`; output `[batch, O]`.
///
/// With [`TensorFusionConfig::orders`] set, the weight rows of the dropped terms are masked
/// to zero (they receive no gradient and never contribute).
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct TensorFusion<B: Backend> {
    /// `W`, `[P, O]`.
    pub weight: Param<Tensor<B, 2>>,
    /// `b`, `[O]`.
    pub bias: Option<Param<Tensor<B, 1>>>,
    /// `[P, 1]` of 0/1 when only some interaction orders are kept.
    pub mask: Option<Tensor<B, 2>>,
    /// Widths `d_m`.
    pub modality_dims: Vec<usize>,
}

/// Interaction order of each entry of `vec(ẑ_1 ⊗ … ⊗ ẑ_M)`, in flattened (row-major) order:
/// the number of modalities whose index is not 0 (not the prepended constant).
pub fn interaction_order(modality_dims: &[usize]) -> Vec<usize> {
    modality_dims.iter().fold(vec![0], |orders, &d| {
        orders
            .iter()
            .flat_map(|&order| (0..=d).map(move |i| order + usize::from(i > 0)))
            .collect()
    })
}

impl TensorFusionConfig {
    /// `P = Π_m (d_m + 1)`, or an error when it overflows.
    pub fn fused_width(&self) -> crate::Result<usize> {
        self.modality_dims.iter().try_fold(1usize, |p, &d| {
            p.checked_mul(with_constant(LAYER, d)?).ok_or_else(|| {
                MosaicError::config(
                    LAYER,
                    format!(
                        "outer product size Π(d_m + 1) overflows for widths {:?}",
                        self.modality_dims
                    ),
                )
            })
        })
    }

    fn validate(&self) -> crate::Result<usize> {
        check_modality_dims(LAYER, &self.modality_dims, 2)?;
        check_positive(LAYER, "d_output", self.d_output)?;
        let p = self.fused_width()?;
        check_parameter_size(LAYER, "weight", &[p, self.d_output])?;
        if let Some(orders) = &self.orders {
            let max = self.modality_dims.len();
            if orders.is_empty() {
                return Err(MosaicError::config(
                    LAYER,
                    "orders is empty: keep at least one interaction order",
                ));
            }
            if let Some(bad) = orders.iter().find(|&&o| o > max) {
                return Err(MosaicError::config(
                    LAYER,
                    format!(
                        "interaction order {bad} is impossible with {max} modalities (orders are 0..={max})"
                    ),
                ));
            }
        }
        Ok(p)
    }

    /// Creates the layer, initialised like PyTorch's `nn.Linear(P, O)`: `U(-1/√P, 1/√P)`.
    ///
    /// # Errors
    /// Fewer than 2 modalities, a zero width, `d_output == 0`, an impossible interaction
    /// order, or a weight larger than [`MAX_PARAMETER_ELEMENTS`](crate::fusion::MAX_PARAMETER_ELEMENTS).
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<TensorFusion<B>> {
        let p = self.validate()?;
        let initializer = Initializer::KaimingUniform {
            gain: 1.0 / 3.0f64.sqrt(),
            fan_out_only: false,
        };
        let weight = initializer.init_with([p, self.d_output], Some(p), Some(self.d_output), device);
        let bias = self
            .bias
            .then(|| initializer.init_with([self.d_output], Some(p), Some(self.d_output), device));
        let mask = self.orders.as_ref().map(|orders| {
            let values: Vec<f32> = interaction_order(&self.modality_dims)
                .into_iter()
                .map(|order| if orders.contains(&order) { 1.0 } else { 0.0 })
                .collect();
            Tensor::from_data(TensorData::new(values, [p, 1]), device)
        });
        Ok(TensorFusion {
            weight,
            bias,
            mask,
            modality_dims: self.modality_dims.clone(),
        })
    }
}

impl<B: Backend> TensorFusion<B> {
    /// Checks the weight `[P, O]`, the bias `[O]` and the mask `[P, 1]` against the widths
    /// (a record loaded into the layer may hold other shapes).
    fn check_parameters(&self) -> crate::Result<()> {
        let weight = self.weight.lazy_shape().dims::<2>();
        let out = weight[1];
        let p = TensorFusionConfig::new(self.modality_dims.clone(), out).fused_width()?;
        check_parameter_shape(LAYER, "weight", &weight, &[p, out])?;
        if let Some(bias) = &self.bias {
            check_parameter_shape(LAYER, "bias", &bias.lazy_shape().dims::<1>(), &[out])?;
        }
        if let Some(mask) = &self.mask {
            check_parameter_shape(LAYER, "mask", &mask.dims(), &[p, 1])?;
        }
        Ok(())
    }

    /// The weight actually applied: `W`, with the rows of dropped interaction orders zeroed.
    pub fn effective_weight(&self) -> Tensor<B, 2> {
        match &self.mask {
            Some(mask) => self.weight.val() * mask.clone(),
            None => self.weight.val(),
        }
    }
}

impl<B: FusionBackend> Fusion<B> for TensorFusion<B> {
    fn modality_dims(&self) -> &[usize] {
        &self.modality_dims
    }

    fn output_dim(&self) -> usize {
        self.weight.lazy_shape().dims::<2>()[1]
    }

    /// `h = vec(ẑ_1 ⊗ … ⊗ ẑ_M) · W + b`, computed without the outer product (`B::tensor_fusion`).
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
        Ok(B::tensor_fusion(
            inputs,
            self.effective_weight(),
            self.bias.as_ref().map(Param::val),
        ))
    }
}

impl<B: Backend> ModuleDisplay for TensorFusion<B> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        super::one_line()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        super::widths(
            content,
            &self.modality_dims,
            self.weight.lazy_shape().dims::<2>()[1],
        )
        .add("all_orders", &self.mask.is_none())
        .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    fn inputs_of<B: Backend>(dims: &[usize], batch: usize, device: &B::Device) -> Vec<Tensor<B, 2>> {
        modality_inputs(10, dims, batch, device)
    }

    /// The definition, by explicit loops over every multi-index `(i_1, …, i_M)` (last
    /// modality fastest): `h[b, o] = Σ Π_m ẑ_m[b, i_m] · W[(i_1, …, i_M), o] + bias[o]`,
    /// skipping terms whose order is not kept.
    fn explicit_loops(
        inputs: &[Vec<f64>],
        dims: &[usize],
        weight: &[f64],
        bias: Option<&[f64]>,
        d_output: usize,
        orders: Option<&[usize]>,
    ) -> Vec<f64> {
        let batch = inputs[0].len() / dims[0];
        let p: usize = dims.iter().map(|d| d + 1).product();
        let mut h = vec![0.0; batch * d_output];
        for b in 0..batch {
            let mut index = vec![0usize; dims.len()];
            for flat in 0..p {
                let order = index.iter().filter(|&&i| i > 0).count();
                if orders.is_none_or(|kept| kept.contains(&order)) {
                    let term: f64 = index
                        .iter()
                        .enumerate()
                        .map(|(m, &i)| {
                            if i == 0 {
                                1.0
                            } else {
                                inputs[m][b * dims[m] + i - 1]
                            }
                        })
                        .product();
                    for o in 0..d_output {
                        h[b * d_output + o] += term * weight[flat * d_output + o];
                    }
                }
                for m in (0..dims.len()).rev() {
                    index[m] += 1;
                    if index[m] <= dims[m] {
                        break;
                    }
                    index[m] = 0;
                }
            }
            for o in 0..d_output {
                h[b * d_output + o] += bias.map_or(0.0, |bias| bias[o]);
            }
        }
        h
    }

    fn hand_computed<B: TestBackend>(device: &B::Device) {
        // x = [2], y = [3, -1]: vec([1; x] ⊗ [1; y]) = [1, 3, -1, 2, 6, -2].
        let layer = TensorFusion::<B> {
            weight: Param::from_tensor(tensor_of(&[1., 2., 3., 4., 5., 6.], [6, 1], device)),
            bias: Some(Param::from_tensor(tensor_of(&[0.5], [1], device))),
            mask: None,
            modality_dims: vec![1, 2],
        };
        let x = tensor_of(&[2.], [1, 1], device);
        let y = tensor_of(&[3., -1.], [1, 2], device);
        let h = layer.forward(&[x, y]).unwrap();
        // 1·1 + 3·2 − 1·3 + 2·4 + 6·5 − 2·6 + 0.5
        assert_eq!(to_f64(h), vec![30.5]);
    }
    for_each_backend!(hand_computed_bimodal, hand_computed);

    fn explicit_loop_cases<B: TestBackend>(device: &B::Device) {
        let cases: [(&[usize], Option<&[usize]>); 7] = [
            (&[3, 2], None),
            (&[2, 3, 4], None),
            (&[2, 1, 3, 2], None),
            (&[1, 2, 1, 2, 2], None),
            (&[2, 3, 4], Some(&[1, 2])),
            (&[2, 3, 4], Some(&[3])),
            (&[2, 2, 1, 2], Some(&[0, 2, 4])),
        ];
        for (dims, orders) in cases {
            let config = TensorFusionConfig::new(dims.to_vec(), 3).with_orders(orders.map(<[usize]>::to_vec));
            let layer = config.init::<B>(device).unwrap();
            let x = inputs_of::<B>(dims, 4, device);
            let expected = explicit_loops(
                &x.iter().cloned().map(to_f64).collect::<Vec<_>>(),
                dims,
                &to_f64(layer.weight.val()),
                layer.bias.as_ref().map(|b| to_f64(b.val())).as_deref(),
                3,
                orders,
            );
            let actual = to_f64(layer.forward(&x).unwrap());
            assert_close(
                &format!("dims {dims:?} orders {orders:?}"),
                &actual,
                &expected,
                1e-5,
            );
        }
    }
    for_each_backend!(matches_explicit_loops, explicit_loop_cases);

    fn gradient_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let config = TensorFusionConfig::new(vec![3, 2, 4], 5).with_orders(Some(vec![0, 1, 3]));
        let layer = randomize(config.init::<B>(device).unwrap(), 3);
        run_case(&layer, &inputs_of::<B>(&[3, 2, 4], 3, device), |l, x| {
            l.forward(x)
        })
    }
    for_each_backend!(gradients_match_f64_reference, gradient_case, 1e-4);

    #[test]
    fn interaction_orders_follow_row_major_layout() {
        // ẑ_1 = [1, a], ẑ_2 = [1, b, c]: [1, b, c, a, ab, ac].
        assert_eq!(interaction_order(&[1, 2]), vec![0, 1, 1, 1, 2, 2]);
        let orders = interaction_order(&[2, 3, 4]);
        assert_eq!(orders.len(), 3 * 4 * 5);
        assert_eq!(orders.iter().filter(|&&o| o == 3).count(), 2 * 3 * 4);
    }

    fn bad_input<B: TestBackend>(device: &B::Device) {
        let layer = TensorFusionConfig::new(vec![2, 3], 4).init::<B>(device).unwrap();
        let ok = |b: usize, d: usize| Tensor::<B, 2>::zeros([b, d], device);
        let message = |inputs: &[Tensor<B, 2>]| layer.forward(inputs).unwrap_err().to_string();
        assert_eq!(message(&[ok(2, 2)]), "TensorFusion: expected 2 modalities, got 1");
        assert_eq!(
            message(&[ok(2, 2), ok(2, 4)]),
            "TensorFusion: modality 1 has shape [2, 4], expected [2, 3] ([batch, d_1], batch from modality 0)"
        );
        assert_eq!(
            message(&[ok(2, 2), ok(5, 3)]),
            "TensorFusion: modality 1 has shape [5, 3], expected [2, 3] ([batch, d_1], batch from modality 0)"
        );
        assert_eq!(
            message(&[ok(0, 2), ok(0, 3)]),
            "TensorFusion: modality 0 has shape [0, 2]: the batch must not be empty"
        );
    }
    for_each_backend!(rejects_bad_input, bad_input);

    #[test]
    fn rejects_bad_config() {
        let device = Default::default();
        let message = |config: TensorFusionConfig| config.init::<Reference>(&device).unwrap_err().to_string();
        assert_eq!(
            message(TensorFusionConfig::new(vec![4], 2)),
            "TensorFusion config: needs at least 2 modalities, got 1 ([4])"
        );
        assert_eq!(
            message(TensorFusionConfig::new(vec![4, 0], 2)),
            "TensorFusion config: modality 1 has width 0 (modality widths [4, 0]); widths must be at least 1"
        );
        assert_eq!(
            message(TensorFusionConfig::new(vec![4, 2], 0)),
            "TensorFusion config: d_output must be at least 1, got 0"
        );
        assert_eq!(
            message(TensorFusionConfig::new(vec![4, 2], 3).with_orders(Some(vec![3]))),
            "TensorFusion config: interaction order 3 is impossible with 2 modalities (orders are 0..=2)"
        );
        assert!(message(TensorFusionConfig::new(vec![usize::MAX / 2, 4], 3)).contains("overflows"));
        // d + 1 itself overflows: an error, never a wrapped (empty) weight.
        assert_eq!(
            message(TensorFusionConfig::new(vec![usize::MAX, 4], 3)),
            format!("TensorFusion config: modality width {} + 1 overflows", usize::MAX)
        );
        // Representable but too large to allocate: refused before any allocation.
        assert_eq!(
            message(TensorFusionConfig::new(vec![1 << 20, 1 << 20], 4)),
            format!(
                "TensorFusion config: parameter `weight` of shape [{}, 4] would have more than {} elements",
                ((1usize << 20) + 1).pow(2),
                crate::fusion::MAX_PARAMETER_ELEMENTS
            )
        );
    }

    /// A layer whose parameters disagree with its widths (as after loading another
    /// configuration's record) is an error naming the parameter, on every backend, never
    /// stale memory (flex) or a panic (ndarray).
    fn mismatched_parameters<B: TestBackend>(device: &B::Device) {
        let inputs = inputs_of::<B>(&[2, 3], 4, device);
        let message = |layer: &TensorFusion<B>| layer.forward(&inputs).unwrap_err().to_string();
        let mut layer = TensorFusionConfig::new(vec![2, 3], 5).init::<B>(device).unwrap();
        layer.weight = Param::from_tensor(Tensor::zeros([13, 5], device));
        assert_eq!(
            message(&layer),
            "TensorFusion: parameter `weight` has shape [13, 5], expected [12, 5] (from the layer's configuration)"
        );
        let mut layer = TensorFusionConfig::new(vec![2, 3], 5).init::<B>(device).unwrap();
        layer.bias = Some(Param::from_tensor(Tensor::zeros([4], device)));
        assert_eq!(
            message(&layer),
            "TensorFusion: parameter `bias` has shape [4], expected [5] (from the layer's configuration)"
        );
    }
    for_each_backend!(rejects_mismatched_parameters, mismatched_parameters);

    /// `P = 3 · 4 = 12`: a `[12, 4]` weight and a bias of 4, 52 parameters; with the order-2
    /// terms only, the mask is shown.
    #[test]
    fn display_shows_widths_and_parameter_count() {
        let device = Default::default();
        let layer = TensorFusionConfig::new(vec![2, 3], 4)
            .init::<crate::backend::Cpu>(&device)
            .unwrap();
        assert_eq!(
            layer.to_string(),
            "TensorFusion {modality_dims: [2, 3], d_output: 4, all_orders: true, params: 52}"
        );
        let layer = TensorFusionConfig::new(vec![2, 3], 4)
            .with_orders(Some(vec![2]))
            .init::<crate::backend::Cpu>(&device)
            .unwrap();
        assert!(layer.to_string().contains("all_orders: false"), "{layer}");
    }
}
