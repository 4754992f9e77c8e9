//! The coordinated model: one encoder ("tower") per view, each into its own space of the same
//! width, tied only by the training objective; plus the learnable temperature that the
//! contrastive objective uses.

use super::contrastive::{Temperature, TemperatureConfig};
use crate::validate::{check_input, check_parameter_size, check_positive, Dim};
use crate::MosaicError;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{backend::Backend, Tensor};

const LAYER: &str = "TwoTowers";

/// Configuration of [`TwoTowers`].
#[derive(Config, Debug)]
pub struct TwoTowersConfig {
    /// The input width of each view, `[d₀, d₁]`.
    pub d_inputs: Vec<usize>,
    /// The hidden width `h` of both towers.
    #[config(default = 128)]
    pub hidden: usize,
    /// The embedding width `k` of both towers.
    #[config(default = 32)]
    pub d_output: usize,
    /// The contrastive objective's temperature.
    #[config(default = "TemperatureConfig::new()")]
    pub temperature: TemperatureConfig,
}

/// One view's encoder: `e = σ(x W₁ + b₁) W₂ + b₂`.
///
/// Shapes: `x`: `[batch, d]`, `W₁`: `[d, h]`, `W₂`: `[h, k]`, `e`: `[batch, k]`. The hidden
/// layer is the logistic sigmoid, as in the autoencoders (`mosaic::autoencoder`); the output
/// is linear, since every objective normalises or whitens it.
#[derive(Module, Debug)]
pub struct Tower<B: Backend> {
    /// `W₁`, `b₁`.
    pub hidden: Linear<B>,
    /// `W₂`, `b₂`.
    pub output: Linear<B>,
}

/// Two [`Tower`]s and a [`Temperature`].
#[derive(Module, Debug)]
pub struct TwoTowers<B: Backend> {
    /// View 0's and view 1's encoders.
    pub towers: Vec<Tower<B>>,
    /// The contrastive objective's temperature (unused by the others).
    pub temperature: Temperature<B>,
    /// `[d₀, d₁]`.
    pub d_inputs: Vec<usize>,
}

impl TwoTowersConfig {
    /// Creates the towers (burn's default initialisation; `coordinated::fit` redraws them
    /// from its seed).
    ///
    /// # Errors
    /// Not two views, a zero width, or a bad temperature.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<TwoTowers<B>> {
        if self.d_inputs.len() != 2 {
            return Err(MosaicError::Config {
                layer: LAYER,
                message: format!("d_inputs {:?}: expected the widths of two views", self.d_inputs),
            });
        }
        check_positive(LAYER, "hidden", self.hidden)?;
        check_positive(LAYER, "d_output", self.d_output)?;
        let dense = |name: &str, d_in: usize, d_out: usize| -> crate::Result<Linear<B>> {
            check_positive(LAYER, name, d_in)?;
            check_parameter_size(LAYER, name, &[d_in, d_out])?;
            Ok(LinearConfig::new(d_in, d_out).init(device))
        };
        let towers = self
            .d_inputs
            .iter()
            .map(|&d| {
                Ok(Tower {
                    hidden: dense("d_inputs", d, self.hidden)?,
                    output: dense("hidden", self.hidden, self.d_output)?,
                })
            })
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(TwoTowers {
            towers,
            temperature: self.temperature.init(device)?,
            d_inputs: self.d_inputs.clone(),
        })
    }
}

impl<B: Backend> TwoTowers<B> {
    /// View `view`'s embeddings of `x`.
    ///
    /// # Shapes
    /// - `x`: `[batch, d_view]`
    /// - output: `[batch, k]`
    ///
    /// # Errors
    /// A view other than 0 or 1, or `x` of another width or empty
    /// ([`MosaicError::Shape`] naming the view as the modality).
    pub fn embed(&self, view: usize, x: Tensor<B, 2>) -> crate::Result<Tensor<B, 2>> {
        let (Some(tower), Some(&d)) = (self.towers.get(view), self.d_inputs.get(view)) else {
            return Err(MosaicError::invalid(
                LAYER,
                format!("view {view}: the model has views 0 and 1"),
            ));
        };
        check_input(
            LAYER,
            Some(view),
            &x.dims(),
            &[Dim::NonEmpty("batch", "the batch"), Dim::Is(d)],
            &format!(" ([batch, d_{view}])"),
        )?;
        Ok(tower.output.forward(sigmoid(tower.hidden.forward(x))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batches::seeded;
    use crate::test_util::*;

    fn formula<B: TestBackend>(device: &B::Device) -> Outcome {
        let model = seeded(
            TwoTowersConfig::new(vec![3, 4])
                .with_hidden(5)
                .with_d_output(2)
                .init::<B>(device)
                .unwrap(),
            3,
        );
        let inputs = [
            tensor::<B, 2>(1, [2, 3], device),
            tensor::<B, 2>(2, [2, 4], device),
        ];
        for (view, x) in inputs.iter().enumerate() {
            let tower = &model.towers[view];
            let hidden = sigmoid_f64(apply_linear(&tower.hidden, &to_f64(x.clone())));
            let expected = apply_linear(&tower.output, &hidden);
            assert_close(
                &format!("view {view}"),
                &to_f64(model.embed(view, x.clone()).unwrap()),
                &expected,
                1e-5,
            );
        }
        run_case(&model, &inputs, |m, x| {
            Ok(Tensor::cat(
                vec![m.embed(0, x[0].clone())?, m.embed(1, x[1].clone())?],
                1,
            ))
        })
    }
    for_each_backend!(towers_match_the_formula, formula, 1e-4);

    #[test]
    fn bad_input_and_config_are_named() {
        let device = Default::default();
        let model = TwoTowersConfig::new(vec![3, 4])
            .init::<Reference>(&device)
            .unwrap();
        assert_eq!(
            model
                .embed(1, Tensor::zeros([2, 3], &device))
                .unwrap_err()
                .to_string(),
            "TwoTowers: modality 1 has shape [2, 3], expected [batch, 4] ([batch, d_1])"
        );
        assert_eq!(
            model
                .embed(2, Tensor::zeros([2, 3], &device))
                .unwrap_err()
                .to_string(),
            "TwoTowers: view 2: the model has views 0 and 1"
        );
        let err = TwoTowersConfig::new(vec![3])
            .init::<Reference>(&device)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "TwoTowers config: d_inputs [3]: expected the widths of two views"
        );
        let err = TwoTowersConfig::new(vec![3, 4])
            .with_d_output(0)
            .init::<Reference>(&device)
            .unwrap_err();
        assert!(err.to_string().contains("d_output"), "{err}");
    }
}
