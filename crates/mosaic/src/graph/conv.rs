//! The two graph convolutions: GCN (Kipf & Welling 2017) and GraphSAGE (Hamilton, Ying &
//! Leskovec 2017), each one aggregation over a sparse adjacency plus dense transforms.
//!
//! Shapes, for an adjacency `A` `[n, m]` (a whole graph: `n = m` nodes; a sampled block: `n`
//! target nodes that are the first `n` of its `m` source nodes): `x` `[m, d_in]`, output
//! `[n, d_out]`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};
use mosaic_kernels::{Adjacency, AggregationBackend, Reduce};

use super::input::NodeInput;
use crate::validate::{check_input, check_parameter_size, check_positive, Dim};
use crate::MosaicError;

/// Glorot (Xavier) uniform weights, as both papers' code draws them.
/// `names`: the configuration fields that give `d_in` and `d_out`, for errors.
fn dense<B: Backend>(
    layer: &'static str,
    names: [&str; 2],
    d_in: usize,
    d_out: usize,
    bias: bool,
    device: &B::Device,
) -> crate::Result<Linear<B>> {
    check_positive(layer, names[0], d_in)?;
    check_positive(layer, names[1], d_out)?;
    check_parameter_size(layer, names[0], &[d_in, d_out])?;
    Ok(LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(Initializer::XavierUniform { gain: 1.0 })
        .init(device))
}

/// `h + b` for `linear`'s bias `b`, if it has one.
fn with_bias<B: Backend>(h: Tensor<B, 2>, linear: &Linear<B>) -> Tensor<B, 2> {
    match &linear.bias {
        Some(bias) => h + bias.val().unsqueeze(),
        None => h,
    }
}

/// Checks `x` `[m, d]` against an adjacency `[n, m]` with `n ≤ m`.
fn check_graph_input<B: AggregationBackend>(
    layer: &'static str,
    adjacency: &Adjacency<B>,
    x: &NodeInput<B>,
    d: usize,
) -> crate::Result<()> {
    let csr = adjacency.csr();
    if csr.rows() > csr.cols() {
        return Err(MosaicError::invalid(
            layer,
            format!(
                "adjacency of {} x {}: the target nodes must be the first of the source nodes (rows ≤ columns)",
                csr.rows(),
                csr.cols()
            ),
        ));
    }
    check_input(
        layer,
        None,
        &x.dims(),
        &[Dim::Is(csr.cols()), Dim::Is(d)],
        " ([nodes, d_input], nodes = the adjacency's columns)",
    )
}

/// Configuration of [`GcnConv`].
#[derive(Config, Debug)]
pub struct GcnConvConfig {
    /// Input width `d_in`.
    pub d_input: usize,
    /// Output width `d_out`.
    pub d_output: usize,
    /// Whether to add a bias `b`.
    #[config(default = true)]
    pub bias: bool,
}

/// A graph convolution (Kipf & Welling 2017): `H = Â X W + b`, with `Â = D̂^-1/2 (A + I) D̂^-1/2`
/// the normalised adjacency with self loops (`mosaic::data::graph::Normalization::Gcn`).
///
/// `X W` is computed first (`[m, d_out]`), then aggregated: `2 m d_in d_out + 2 E d_out`
/// FLOPs for `E` entries of `Â`.
///
/// Shapes: `Â` `[n, m]`, `X` `[m, d_in]`, `W` `[d_in, d_out]`, `b` `[d_out]`, `H` `[n, d_out]`.
#[derive(Module, Debug)]
pub struct GcnConv<B: Backend> {
    /// `W` (and `b`).
    pub linear: Linear<B>,
    /// `d_in`.
    pub d_input: usize,
}

impl GcnConvConfig {
    /// A layer with Glorot-uniform weights and a zero bias.
    ///
    /// # Errors
    /// A zero width.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<GcnConv<B>> {
        Ok(GcnConv {
            linear: dense(
                "GcnConv",
                ["d_input", "d_output"],
                self.d_input,
                self.d_output,
                self.bias,
                device,
            )?,
            d_input: self.d_input,
        })
    }
}

impl<B: AggregationBackend> GcnConv<B> {
    /// `Â X W + b`.
    ///
    /// # Errors
    /// `x` not `[m, d_in]` for `Â` `[n, m]`, or an adjacency with more rows than columns.
    pub fn forward(&self, adjacency: &Adjacency<B>, x: Tensor<B, 2>) -> crate::Result<Tensor<B, 2>> {
        self.forward_input(adjacency, &NodeInput::Dense(x))
    }

    /// [`forward`](Self::forward) on dense or sparse features.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn forward_input(&self, adjacency: &Adjacency<B>, x: &NodeInput<B>) -> crate::Result<Tensor<B, 2>> {
        check_graph_input("GcnConv", adjacency, x, self.d_input)?;
        let projected = x.project(self.linear.weight.val());
        let aggregated = B::aggregate(adjacency, projected, Reduce::Sum);
        Ok(with_bias(aggregated, &self.linear))
    }
}

/// How GraphSAGE combines a node's neighbours.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum SageAggregator {
    /// `mean_{j ∈ N(i)} x_j`: the adjacency must hold `1 / deg(i)` (`Normalization::Mean`).
    Mean,
    /// `max_{j ∈ N(i)} relu(W_pool x_j + b_pool)`, feature by feature (the adjacency's values
    /// are not used; `Normalization::None`).
    MaxPool,
}

/// Configuration of [`SageConv`].
#[derive(Config, Debug)]
pub struct SageConvConfig {
    /// Input width `d_in`.
    pub d_input: usize,
    /// Output width `d_out`.
    pub d_output: usize,
    /// The neighbourhood aggregator.
    #[config(default = "SageAggregator::Mean")]
    pub aggregator: SageAggregator,
    /// Whether the node's own features enter through `W_root` (`false`: only neighbours).
    #[config(default = true)]
    pub root_weight: bool,
    /// Whether to scale each output row to unit L2 norm.
    #[config(default = false)]
    pub normalize: bool,
    /// The max-pool aggregator's width `p` (`W_pool` `[d_in, p]`); `None`: `d_in`, as
    /// PyTorch Geometric's `project=True`.
    pub pool_width: Option<usize>,
}

/// A GraphSAGE layer (Hamilton et al. 2017), as PyTorch Geometric's `SAGEConv`:
///
/// ```text
/// a_i = aggregate_{j ∈ N(i)} x_j                 (mean, or max of relu(x_j W_pool + b_pool))
/// h_i = a_i W_neigh + b + x_i W_root             (W_root: with root_weight)
/// h_i ← h_i / max(‖h_i‖₂, 1e-12)                 (with normalize)
/// ```
///
/// Shapes: adjacency `[n, m]` (targets = the first `n` sources), `x` `[m, d_in]`, `W_pool`
/// `[d_in, p]`, `W_neigh` `[d_in, d_out]` (mean) or `[p, d_out]` (max-pool), `W_root`
/// `[d_in, d_out]`, `h` `[n, d_out]`.
#[derive(Module, Debug)]
pub struct SageConv<B: Backend> {
    /// `W_pool`, `b_pool` (max-pool aggregator only).
    pub pool: Option<Linear<B>>,
    /// `W_neigh`, `b`.
    pub neighbours: Linear<B>,
    /// `W_root` (no bias).
    pub root: Option<Linear<B>>,
    /// Whether outputs are L2-normalised.
    pub normalize: bool,
    /// `d_in`.
    pub d_input: usize,
}

impl SageConvConfig {
    /// A layer with Glorot-uniform weights and zero biases.
    ///
    /// # Errors
    /// A zero width.
    pub fn init<B: Backend>(&self, device: &B::Device) -> crate::Result<SageConv<B>> {
        let layer = "SageConv";
        let (d_in, d_out) = (self.d_input, self.d_output);
        let pool_width = self.pool_width.unwrap_or(d_in);
        let (pool, aggregated) = match self.aggregator {
            SageAggregator::MaxPool => (
                Some(dense(
                    layer,
                    ["d_input", "pool_width"],
                    d_in,
                    pool_width,
                    true,
                    device,
                )?),
                pool_width,
            ),
            SageAggregator::Mean => (None, d_in),
        };
        Ok(SageConv {
            pool,
            neighbours: dense(layer, ["d_input", "d_output"], aggregated, d_out, true, device)?,
            root: match self.root_weight {
                true => Some(dense(layer, ["d_input", "d_output"], d_in, d_out, false, device)?),
                false => None,
            },
            normalize: self.normalize,
            d_input: d_in,
        })
    }
}

impl<B: AggregationBackend> SageConv<B> {
    /// `h` for the first `n` nodes of `x`.
    ///
    /// # Errors
    /// `x` not `[m, d_in]` for an adjacency `[n, m]`, or an adjacency with more rows than
    /// columns.
    pub fn forward(&self, adjacency: &Adjacency<B>, x: Tensor<B, 2>) -> crate::Result<Tensor<B, 2>> {
        self.forward_input(adjacency, &NodeInput::Dense(x))
    }

    /// [`forward`](Self::forward) on dense or sparse features. The mean aggregator projects
    /// before it aggregates (`mean_j(x_j) W = mean_j(x_j W)`), moving `d_out` values per entry
    /// instead of `d_in`, unless aggregating first costs fewer FLOPs: on a sampled block
    /// whose `m` sources far outnumber its `n` targets, `2 E d_in + 2 n d_in d_out` against
    /// `2 m d_in d_out + 2 E d_out` (dense features only). The root weight multiplies the
    /// targets' rows alone.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn forward_input(&self, adjacency: &Adjacency<B>, x: &NodeInput<B>) -> crate::Result<Tensor<B, 2>> {
        check_graph_input("SageConv", adjacency, x, self.d_input)?;
        let csr = adjacency.csr();
        let (targets, sources, entries) = (csr.rows(), csr.cols(), csr.entries());
        let mut h = match (&self.pool, x) {
            (Some(pool), _) => {
                let pooled = relu(with_bias(x.project(pool.weight.val()), pool));
                self.neighbours
                    .forward(B::aggregate(adjacency, pooled, Reduce::Max))
            }
            (None, NodeInput::Dense(dense))
                if aggregate_first(
                    targets,
                    sources,
                    entries,
                    self.d_input,
                    self.neighbours.weight.dims()[1],
                ) =>
            {
                self.neighbours
                    .forward(B::aggregate(adjacency, dense.clone(), Reduce::Sum))
            }
            (None, _) => with_bias(
                B::aggregate(adjacency, x.project(self.neighbours.weight.val()), Reduce::Sum),
                &self.neighbours,
            ),
        };
        if let Some(root) = &self.root {
            let device = root.weight.device();
            h = h + x.first(targets, &device).project(root.weight.val());
        }
        if self.normalize {
            let norm = h.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
            h = h / norm;
        }
        Ok(h)
    }
}

/// Whether `A X W` costs fewer FLOPs as `(A X) W` than as `A (X W)`, for `A` `[n, m]` with `e`
/// entries and `W` `[d_in, d_out]`.
fn aggregate_first(n: usize, m: usize, e: usize, d_in: usize, d_out: usize) -> bool {
    e * d_in + n * d_in * d_out < m * d_in * d_out + e * d_out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batches::seeded;
    use crate::test_util::*;
    use mosaic_data::graph::{community_graph, CommunityConfig, Entries, Normalization};
    use mosaic_kernels::Csr;

    const NODES: usize = 12;

    /// 12 nodes in 3 communities, 20 random edges (isolated nodes and repeated edges occur).
    fn entries(normalization: Normalization) -> Entries {
        let config = CommunityConfig {
            nodes: NODES,
            edges: 20,
            features: 1,
            communities: 3,
            seed: 5,
            ..CommunityConfig::default()
        };
        community_graph(&config).unwrap().entries(normalization)
    }

    /// The first `rows` rows of `entries`' matrix, as an adjacency `[rows, NODES]`.
    fn block<B: AggregationBackend>(entries: &Entries, rows: usize, device: &B::Device) -> Adjacency<B> {
        first_rows(entries, rows, NODES, device)
    }

    /// Row `t` of the output, by dense loops in f64: the weighted sum, or the maximum, of
    /// the rows `x[s]` over the entries `(t, s)`.
    fn aggregate_f64(e: &Entries, x: &[f64], width: usize, rows: usize, max: bool) -> Vec<f64> {
        let mut out = vec![if max { f64::NEG_INFINITY } else { 0.0 }; rows * width];
        let mut seen = vec![false; rows];
        for k in 0..e.targets.len() {
            let (t, s) = (e.targets[k] as usize, e.sources[k] as usize);
            if t >= rows {
                continue;
            }
            seen[t] = true;
            let a = e.weights.as_ref().map_or(1.0, |w| w[k] as f64);
            for f in 0..width {
                let v = x[s * width + f];
                let o = &mut out[t * width + f];
                *o = if max { o.max(v) } else { *o + a * v };
            }
        }
        for (t, _) in seen.iter().enumerate().filter(|(_, &s)| !s) {
            out[t * width..(t + 1) * width].fill(0.0);
        }
        out
    }

    fn gcn_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let e = entries(Normalization::Gcn);
        let adjacency = block::<B>(&e, NODES, device);
        let conv = seeded(GcnConvConfig::new(5, 3).init::<B>(device).unwrap(), 2);
        let x = tensor::<B, 2>(1, [NODES, 5], device);
        let projected = linear_f64(&to_f64(x.clone()), &to_f64(conv.linear.weight.val()), &[0.0; 3]);
        let bias = to_f64(conv.linear.bias.as_ref().unwrap().val());
        let expected: Vec<f64> = aggregate_f64(&e, &projected, 3, NODES, false)
            .iter()
            .enumerate()
            .map(|(i, v)| v + bias[i % 3])
            .collect();
        assert_close(
            "Â X W + b",
            &to_f64(conv.forward(&adjacency, x.clone()).unwrap()),
            &expected,
            1e-5,
        );
        run_case(&conv, &[x], |m, x| m.forward(&adjacency, x[0].clone()))
    }
    for_each_backend!(gcn_matches_the_formula, gcn_case, 1e-4);

    /// Both aggregators with root weights and normalised outputs, on a block of the first 7
    /// of the 12 nodes.
    fn sage_case<B: TestBackend>(device: &B::Device) -> Outcome {
        let rows = 7;
        let x = tensor::<B, 2>(3, [NODES, 4], device);
        let xs = to_f64(x.clone());
        let mut outcomes = Vec::new();
        for aggregator in [SageAggregator::Mean, SageAggregator::MaxPool] {
            let (e, max) = match aggregator {
                SageAggregator::Mean => (entries(Normalization::Mean), false),
                SageAggregator::MaxPool => (entries(Normalization::None), true),
            };
            let adjacency = block::<B>(&e, rows, device);
            let config = SageConvConfig::new(4, 3)
                .with_aggregator(aggregator)
                .with_normalize(true)
                .with_pool_width(Some(5));
            let conv = seeded(config.init::<B>(device).unwrap(), 4);
            let aggregated = match &conv.pool {
                Some(pool) => aggregate_f64(&e, &relu_f64(apply_linear(pool, &xs)), 5, rows, max),
                None => aggregate_f64(&e, &xs, 4, rows, max),
            };
            let root = linear_f64(
                &xs[..rows * 4],
                &to_f64(conv.root.as_ref().unwrap().weight.val()),
                &[0.0; 3],
            );
            let h: Vec<f64> = apply_linear(&conv.neighbours, &aggregated)
                .iter()
                .zip(&root)
                .map(|(a, b)| a + b)
                .collect();
            let expected: Vec<f64> = h
                .chunks(3)
                .flat_map(|row| {
                    let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
                    row.iter().map(move |v| v / norm).collect::<Vec<_>>()
                })
                .collect();
            let actual = to_f64(conv.forward(&adjacency, x.clone()).unwrap());
            assert_close(&format!("{aggregator:?}"), &actual, &expected, 1e-5);
            outcomes.push(run_case(&conv, std::slice::from_ref(&x), |m, x| {
                m.forward(&adjacency, x[0].clone())
            }));
        }
        let second = outcomes.pop().unwrap();
        let mut first = outcomes.pop().unwrap();
        first.output.extend(second.output);
        first.input_grads.extend(second.input_grads);
        first.param_grads.extend(second.param_grads);
        first
    }
    for_each_backend!(sage_matches_the_formula, sage_case, 1e-4);

    #[test]
    fn bad_input_is_named() {
        let device = Default::default();
        let conv = GcnConvConfig::new(4, 3).init::<Reference>(&device).unwrap();
        let a = block::<Reference>(&entries(Normalization::Gcn), NODES, &device);
        let err = conv
            .forward(&a, Tensor::zeros([NODES, 5], &device))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "GcnConv: input has shape [12, 5], expected [12, 4] ([nodes, d_input], nodes = the adjacency's columns)");
        let wide = Adjacency::<Reference>::new(Csr::from_entries(3, 2, &[], &[], None).unwrap(), &device);
        let err = conv
            .forward(&wide, Tensor::zeros([2, 4], &device))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("adjacency of 3 x 2: the target nodes must be the first"),
            "{err}"
        );
        let err = SageConvConfig::new(4, 3)
            .with_pool_width(Some(0))
            .with_aggregator(SageAggregator::MaxPool);
        let err = err.init::<Reference>(&device).unwrap_err().to_string();
        assert!(err.contains("pool_width must be at least 1"), "{err}");
    }
}
