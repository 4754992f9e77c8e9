//! [`PytorchWeights`] for every layer, in the layouts of the reference PyTorch code.

use super::{export, import_param, key, tensor_from, NamedTensor, PytorchWeights, WeightStore};
use crate::autoencoder::{BimodalAutoencoder, ShallowBimodalAutoencoder, UnimodalAutoencoder};
use crate::coordinated::{Temperature, Tower, TwoTowers};
use crate::fusion::{Bilinear, Concat, Elementwise, LowRankFusion, MlpFusion, TensorFusion};
use crate::subnet::{LstmSubnet, MlpSubnet};
use crate::Result;
use burn::module::RunningState;
use burn::nn::{BatchNorm, Linear, Lstm};
use burn::tensor::{backend::Backend, Tensor};

/// `nn.Linear`: `weight` `[out, in]` (burn stores `[in, out]`), `bias` `[out]`.
impl<B: Backend> PytorchWeights for Linear<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        export(out, key(prefix, "weight"), self.weight.val().transpose());
        if let Some(bias) = &self.bias {
            export(out, key(prefix, "bias"), bias.val());
        }
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        let [d_in, d_out] = self.weight.lazy_shape().dims();
        let weight: Tensor<B, 2> = tensor_from(
            store,
            &key(prefix, "weight"),
            [d_out, d_in],
            &self.weight.lazy_device(),
        )?;
        self.weight = self
            .weight
            .map(|old| weight.transpose().set_require_grad(old.is_require_grad()));
        self.bias = self
            .bias
            .map(|bias| import_param(bias, store, &key(prefix, "bias")))
            .transpose()?;
        Ok(self)
    }
}

/// Exports and imports a list of modules as `prefix.{index}` (PyTorch's `nn.ModuleList`).
fn export_list<M: PytorchWeights>(items: &[M], prefix: &str, out: &mut Vec<NamedTensor>) {
    for (i, item) in items.iter().enumerate() {
        item.export_weights(&key(prefix, &i.to_string()), out);
    }
}

fn import_list<M: PytorchWeights>(items: Vec<M>, store: &WeightStore, prefix: &str) -> Result<Vec<M>> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| item.import_weights(store, &key(prefix, &i.to_string())))
        .collect()
}

/// The post-fusion `nn.Linear(P, O)`: `weight` `[O, P]`, `bias` `[O]`. The exported weight
/// is the effective one (rows of dropped interaction orders are zero).
impl<B: Backend> PytorchWeights for TensorFusion<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        export(out, key(prefix, "weight"), self.effective_weight().transpose());
        if let Some(bias) = &self.bias {
            export(out, key(prefix, "bias"), bias.val());
        }
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        let linear = Linear {
            weight: self.weight,
            bias: self.bias,
        }
        .import_weights(store, prefix)?;
        self.weight = linear.weight;
        self.bias = linear.bias;
        Ok(self)
    }
}

impl<B: Backend> PytorchWeights for Bilinear<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        self.fusion.export_weights(prefix, out);
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.fusion = self.fusion.import_weights(store, prefix)?;
        Ok(self)
    }
}

/// `factors.{m}` `[R, d_m + 1, O]`, `fusion_weights` `[1, R]`, `fusion_bias` `[1, O]`.
impl<B: Backend> PytorchWeights for LowRankFusion<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        for (m, factor) in self.factors.iter().enumerate() {
            export(out, key(prefix, &format!("factors.{m}")), factor.val());
        }
        export(out, key(prefix, "fusion_weights"), self.rank_weights.val());
        export(out, key(prefix, "fusion_bias"), self.bias.val());
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.factors = self
            .factors
            .into_iter()
            .enumerate()
            .map(|(m, factor)| import_param(factor, store, &key(prefix, &format!("factors.{m}"))))
            .collect::<Result<_>>()?;
        self.rank_weights = import_param(self.rank_weights, store, &key(prefix, "fusion_weights"))?;
        self.bias = import_param(self.bias, store, &key(prefix, "fusion_bias"))?;
        Ok(self)
    }
}

/// No parameters.
impl PytorchWeights for Concat {
    fn export_weights(&self, _prefix: &str, _out: &mut Vec<NamedTensor>) {}

    fn import_weights(self, _store: &WeightStore, _prefix: &str) -> Result<Self> {
        Ok(self)
    }
}

/// `projections.{m}` (an `nn.ModuleList` of `nn.Linear`), when projections are configured.
impl<B: Backend> PytorchWeights for Elementwise<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        if let Some(projections) = &self.projections {
            export_list(projections, &key(prefix, "projections"), out);
        }
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.projections = self
            .projections
            .map(|p| import_list(p, store, &key(prefix, "projections")))
            .transpose()?;
        Ok(self)
    }
}

/// `layers.{l}` (an `nn.ModuleList` of `nn.Linear`, hidden layers then the output layer).
impl<B: Backend> PytorchWeights for MlpFusion<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        export_list(&self.layers, &key(prefix, "layers"), out);
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.layers = import_list(self.layers, store, &key(prefix, "layers"))?;
        Ok(self)
    }
}

/// `nn.BatchNorm1d`: `weight`, `bias`, `running_mean`, `running_var`.
impl<B: Backend> PytorchWeights for BatchNorm<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        export(out, key(prefix, "weight"), self.gamma.val());
        export(out, key(prefix, "bias"), self.beta.val());
        export(out, key(prefix, "running_mean"), self.running_mean.value());
        export(out, key(prefix, "running_var"), self.running_var.value());
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        let device = self.gamma.lazy_device();
        let shape: [usize; 1] = self.gamma.lazy_shape().dims();
        self.gamma = import_param(self.gamma, store, &key(prefix, "weight"))?;
        self.beta = import_param(self.beta, store, &key(prefix, "bias"))?;
        self.running_mean =
            RunningState::new(tensor_from(store, &key(prefix, "running_mean"), shape, &device)?);
        self.running_var =
            RunningState::new(tensor_from(store, &key(prefix, "running_var"), shape, &device)?);
        Ok(self)
    }
}

/// The TFN/LMF `SubNet`: `norm.*`, `linear_1.*`, `linear_2.*`, `linear_3.*`.
impl<B: Backend> PytorchWeights for MlpSubnet<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        self.norm.export_weights(&key(prefix, "norm"), out);
        for (i, linear) in self.linears.iter().enumerate() {
            linear.export_weights(&key(prefix, &format!("linear_{}", i + 1)), out);
        }
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.norm = self.norm.import_weights(store, &key(prefix, "norm"))?;
        self.linears = self
            .linears
            .into_iter()
            .enumerate()
            .map(|(i, linear)| linear.import_weights(store, &key(prefix, &format!("linear_{}", i + 1))))
            .collect::<Result<_>>()?;
        Ok(self)
    }
}

/// The four gates of `lstm` in PyTorch's order (input, forget, cell `g`, output), each as
/// its (input-side, hidden-side) pair of affine maps.
fn gate_linears<B: Backend>(lstm: &mut Lstm<B>) -> [(&mut Linear<B>, &mut Linear<B>); 4] {
    [
        &mut lstm.input_gate,
        &mut lstm.forget_gate,
        &mut lstm.cell_gate,
        &mut lstm.output_gate,
    ]
    .map(|gate| (&mut gate.input_transform, &mut gate.hidden_transform))
}

/// `nn.LSTM` (one layer, batch first): `weight_ih_l0` `[4h, in]`, `weight_hh_l0` `[4h, h]`,
/// `bias_ih_l0`, `bias_hh_l0` `[4h]`, gate blocks in PyTorch's order i, f, g, o.
/// Stacking the four gates' `nn.Linear` layouts row-wise gives exactly these tensors.
impl<B: Backend> PytorchWeights for Lstm<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        let mut lstm = self.clone();
        let mut per_gate: Vec<Vec<NamedTensor>> = Vec::new();
        for (input, hidden) in gate_linears(&mut lstm) {
            let mut tensors = Vec::new();
            input.export_weights("ih", &mut tensors);
            hidden.export_weights("hh", &mut tensors);
            per_gate.push(tensors);
        }
        for (i, first) in per_gate[0].iter().enumerate() {
            let (side, name) = first.key.split_once('.').expect("keys are side.name");
            let mut shape = first.shape.clone();
            shape[0] *= 4;
            out.push(NamedTensor {
                key: key(prefix, &format!("{name}_{side}_l0")),
                shape,
                values: per_gate
                    .iter()
                    .flat_map(|g| g[i].values.iter().copied())
                    .collect(),
            });
        }
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        let h = self.d_hidden;
        let d_in = self.input_gate.input_transform.weight.lazy_shape().dims::<2>()[0];
        let names: &[&str] = match self.input_gate.input_transform.bias {
            Some(_) => &["weight", "bias"],
            None => &["weight"],
        };
        // Split each stacked tensor into the four gates' nn.Linear tensors.
        let mut per_gate: Vec<Vec<NamedTensor>> = (0..4).map(|_| Vec::new()).collect();
        for (side, d_side) in [("ih", d_in), ("hh", h)] {
            for &name in names {
                let k = key(prefix, &format!("{name}_{side}_l0"));
                let width = (name == "weight").then_some(d_side);
                let shape: Vec<usize> = std::iter::once(4 * h).chain(width).collect();
                let values = store.get(&k, &shape)?;
                let block = values.len() / 4;
                for (g, tensors) in per_gate.iter_mut().enumerate() {
                    tensors.push(NamedTensor {
                        key: format!("{side}.{name}"),
                        shape: std::iter::once(h).chain(width).collect(),
                        values: values[g * block..(g + 1) * block].to_vec(),
                    });
                }
            }
        }
        for ((input, hidden), tensors) in gate_linears(&mut self).into_iter().zip(per_gate) {
            let store = WeightStore::from_tensors(tensors);
            *input = input.clone().import_weights(&store, "ih")?;
            *hidden = hidden.clone().import_weights(&store, "hh")?;
        }
        Ok(self)
    }
}

/// The TFN/LMF `TextSubNet`: `rnn.*` (an `nn.LSTM`), `linear_1.*`.
impl<B: Backend> PytorchWeights for LstmSubnet<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        self.lstm.export_weights(&key(prefix, "rnn"), out);
        self.linear.export_weights(&key(prefix, "linear_1"), out);
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.lstm = self.lstm.import_weights(store, &key(prefix, "rnn"))?;
        self.linear = self.linear.import_weights(store, &key(prefix, "linear_1"))?;
        Ok(self)
    }
}

/// `encoder.{0,1}`, `decoder.{0,1}`: `nn.Linear` each.
impl<B: Backend> PytorchWeights for UnimodalAutoencoder<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        export_list(&self.encoder, &key(prefix, "encoder"), out);
        export_list(&self.decoder, &key(prefix, "decoder"), out);
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.encoder = import_list(self.encoder, store, &key(prefix, "encoder"))?;
        self.decoder = import_list(self.decoder, store, &key(prefix, "decoder"))?;
        Ok(self)
    }
}

/// `encoders.{0,1}`, `shared`, `decoders.{0,1}`, `outputs.{0,1}` (audio, then video): `nn.Linear` each.
impl<B: Backend> PytorchWeights for BimodalAutoencoder<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        export_list(&self.encoders, &key(prefix, "encoders"), out);
        self.shared.export_weights(&key(prefix, "shared"), out);
        export_list(&self.decoders, &key(prefix, "decoders"), out);
        export_list(&self.outputs, &key(prefix, "outputs"), out);
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.encoders = import_list(self.encoders, store, &key(prefix, "encoders"))?;
        self.shared = self.shared.import_weights(store, &key(prefix, "shared"))?;
        self.decoders = import_list(self.decoders, store, &key(prefix, "decoders"))?;
        self.outputs = import_list(self.outputs, store, &key(prefix, "outputs"))?;
        Ok(self)
    }
}

/// `encoder`, `decoder`: `nn.Linear` each.
impl<B: Backend> PytorchWeights for ShallowBimodalAutoencoder<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        self.encoder.export_weights(&key(prefix, "encoder"), out);
        self.decoder.export_weights(&key(prefix, "decoder"), out);
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.encoder = self.encoder.import_weights(store, &key(prefix, "encoder"))?;
        self.decoder = self.decoder.import_weights(store, &key(prefix, "decoder"))?;
        Ok(self)
    }
}

/// `hidden`, `output`: `nn.Linear` each.
impl<B: Backend> PytorchWeights for Tower<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        self.hidden.export_weights(&key(prefix, "hidden"), out);
        self.output.export_weights(&key(prefix, "output"), out);
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.hidden = self.hidden.import_weights(store, &key(prefix, "hidden"))?;
        self.output = self.output.import_weights(store, &key(prefix, "output"))?;
        Ok(self)
    }
}

/// `logit_scale` `[1]`: CLIP's name for `t = ln(1/τ)`.
impl<B: Backend> PytorchWeights for Temperature<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        export(out, key(prefix, "logit_scale"), self.log_scale.val());
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.log_scale = import_param(self.log_scale, store, &key(prefix, "logit_scale"))?;
        Ok(self)
    }
}

/// `towers.{0,1}` (each a [`Tower`]), then the temperature's `logit_scale`.
impl<B: Backend> PytorchWeights for TwoTowers<B> {
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        export_list(&self.towers, &key(prefix, "towers"), out);
        self.temperature.export_weights(prefix, out);
    }

    fn import_weights(mut self, store: &WeightStore, prefix: &str) -> Result<Self> {
        self.towers = import_list(self.towers, store, &key(prefix, "towers"))?;
        self.temperature = self.temperature.import_weights(store, prefix)?;
        Ok(self)
    }
}
