//! Gradients of every layer against central finite differences, in f64.
//!
//! These run in their own test binary (process) because burn 0.21 keeps one default-dtype
//! policy per device type: `NdArray<f32>` and `NdArray<f64>` share `NdArrayDevice`, so in
//! the unit-test process (which also tests the f32 ndarray backend) the f64 reference could
//! silently compute in f32. Here the policy is set to f64 before any tensor exists, and
//! every check asserts that the loss really is f64.

#[path = "../src/test_util.rs"]
mod test_util;

use mosaic::fusion::*;
use mosaic::subnet::*;
use test_util::*;

#[test]
fn bilinear() {
    let device = reference_device();
    let layer = randomize(
        BilinearConfig::new(2, 3, 2).init::<Reference>(&device).unwrap(),
        19,
    );
    check_finite_differences(layer, &modality_inputs(31, &[2, 3], 2, &device), |l, x| {
        l.forward(x)
    });
}

#[test]
fn concat() {
    let device = reference_device();
    let layer = ConcatConfig::new(vec![2, 3]).init().unwrap();
    check_finite_differences(layer, &modality_inputs(41, &[2, 3], 2, &device), |l, x| {
        Fusion::<Reference>::forward(l, x)
    });
}

#[test]
fn elementwise() {
    let device = reference_device();
    for config in [
        ElementwiseConfig::sum(vec![3, 2]).with_projection_dim(Some(4)),
        ElementwiseConfig::product(vec![3, 3, 3]),
    ] {
        let dims = config.modality_dims.clone();
        let layer = randomize(config.init::<Reference>(&device).unwrap(), 31);
        check_finite_differences(layer, &modality_inputs(52, &dims, 2, &device), |l, x| {
            l.forward(x)
        });
    }
}

/// Ranks 1 to 64, 2 to 5 modalities, batch 1 and 3: the fused op's hand-written backward.
#[test]
fn low_rank_fusion() {
    let device = reference_device();
    for (dims, rank, batch) in [
        (vec![2, 3, 2], 3, 3),
        (vec![1, 2], 1, 1),
        (vec![2, 1, 2, 1], 64, 1),
        (vec![1, 2, 1, 2, 1], 5, 3),
    ] {
        let config = LowRankFusionConfig::new(dims.clone(), 4, rank);
        let layer = randomize(config.init::<Reference>(&device).unwrap(), 11);
        check_finite_differences(layer, &modality_inputs(20, &dims, batch, &device), |l, x| {
            l.forward(x)
        });
    }
}

#[test]
fn mlp_fusion() {
    let device = reference_device();
    let layer = randomize(
        MlpFusionConfig::new(vec![3, 2], vec![5], 2)
            .init::<Reference>(&device)
            .unwrap(),
        43,
    );
    check_finite_differences(layer, &modality_inputs(62, &[3, 2], 3, &device), |l, x| {
        l.forward(x)
    });
}

/// 2 to 5 modalities, batch 1 and 3, with and without interaction orders: the fused op's
/// hand-written backward.
#[test]
fn tensor_fusion() {
    let device = reference_device();
    for (dims, batch) in [
        (vec![2, 3, 2], 3),
        (vec![1, 3], 1),
        (vec![2, 1, 2, 1], 1),
        (vec![1, 2, 1, 1, 2], 3),
    ] {
        for orders in [None, Some(vec![1, 2])] {
            let config = TensorFusionConfig::new(dims.clone(), 4).with_orders(orders);
            let layer = randomize(config.init::<Reference>(&device).unwrap(), 5);
            check_finite_differences(layer, &modality_inputs(10, &dims, batch, &device), |l, x| {
                l.forward(x)
            });
        }
    }
}

#[test]
fn lstm_subnet() {
    let device = reference_device();
    let layer = randomize(
        LstmSubnetConfig::new(3, 4, 2).init::<Reference>(&device).unwrap(),
        71,
    );
    // burn 0.21's sigmoid computes in f32 whatever the tensor's dtype (burn-backend's default
    // `sigmoid` casts to F32 and back), so the loss carries ~1e-7 of rounding noise: a larger
    // step and a tolerance that noise cannot reach (a wrong gradient is off by far more).
    let tolerance = FiniteDifferences {
        step: 1e-3,
        tolerance: 1e-4,
    };
    check_finite_differences_with(tolerance, layer, &[tensor(82, [2, 4, 3], &device)], |l, x| {
        l.forward(x[0].clone())
    });
}

#[test]
fn mlp_subnet() {
    let device = reference_device();
    let layer = randomize(MlpSubnetConfig::new(3, 4).init::<Reference>(&device).unwrap(), 59);
    check_finite_differences(layer, &[tensor(72, [4, 3], &device)], |l, x| {
        l.forward(x[0].clone())
    });
}

/// The autoencoders' layers are sigmoids, which burn 0.21 computes in f32 (see
/// `lstm_subnet`): the same larger step and tolerance.
const SIGMOID: FiniteDifferences = FiniteDifferences {
    step: 1e-3,
    tolerance: 1e-4,
};

/// Both reconstructions side by side, the output the checks differentiate.
fn reconstruction<M: mosaic::autoencoder::Autoencoder<Reference>>(
    model: &M,
    x: &[burn::tensor::Tensor<Reference, 2>],
) -> mosaic::Result<burn::tensor::Tensor<Reference, 2>> {
    Ok(burn::tensor::Tensor::cat(model.reconstruct(x)?, 1))
}

#[test]
fn autoencoders() {
    use mosaic::autoencoder::*;
    let device = reference_device();
    let inputs = modality_inputs(91, &[4, 3], 3, &device);
    let bimodal = BimodalAutoencoderConfig::new(4, 3).with_hidden(3).with_shared(2);
    let bimodal = randomize(bimodal.init::<Reference>(&device).unwrap(), 93);
    check_finite_differences_with(SIGMOID, bimodal, &inputs, reconstruction);
    let shallow = ShallowBimodalAutoencoderConfig::new(4, 3).with_shared(2);
    let shallow = randomize(shallow.init::<Reference>(&device).unwrap(), 95);
    check_finite_differences_with(SIGMOID, shallow, &inputs, reconstruction);
    let unimodal = UnimodalAutoencoderConfig::new(4).with_hidden(3).with_code(2);
    let unimodal = randomize(unimodal.init::<Reference>(&device).unwrap(), 97);
    check_finite_differences_with(SIGMOID, unimodal, &inputs[..1], reconstruction);
}

/// The coordination losses through two towers (every parameter, the temperature's
/// included), on embeddings of 5 pairs. The towers' hidden layers are sigmoids: the
/// autoencoders' step and tolerance.
#[test]
fn coordination_losses() {
    use mosaic::coordinated::*;
    let device = reference_device();
    // The temperature's range [0.01, 5] holds every value `randomize` gives it (t in [−1, 1]).
    let config = TwoTowersConfig::new(vec![3, 2])
        .with_hidden(4)
        .with_d_output(3)
        .with_temperature(TemperatureConfig::new().with_initial(0.5).with_max(5.0));
    let model = randomize(config.init::<Reference>(&device).unwrap(), 29);
    let inputs = modality_inputs(71, &[3, 2], 5, &device);
    for objective in [
        Objective::Cosine,
        Objective::Ranking {
            margin: 0.5,
            negatives: Negatives::Sum,
        },
        Objective::Ranking {
            margin: 0.5,
            negatives: Negatives::Max,
        },
        Objective::InfoNce,
        Objective::DeepCca { regulariser: 1e-2 },
    ] {
        check_finite_differences_with(SIGMOID, model.clone(), &inputs, |m, x| {
            Ok(objective.loss(m, [x[0].clone(), x[1].clone()])?.reshape([1, 1]))
        });
    }
}

/// GCN and both GraphSAGE aggregators (root weight, L2-normalised outputs; on a block of the
/// first 9 of 12 nodes): the input's and every parameter's gradient, through the sparse
/// aggregation op's own backward pass.
#[test]
fn graph_layers() {
    use mosaic::data::graph::{community_graph, CommunityConfig, Normalization};
    use mosaic::graph::*;
    let device = reference_device();
    <Reference as burn::tensor::backend::Backend>::seed(&device, 13);
    let config = CommunityConfig {
        nodes: 12,
        edges: 20,
        features: 1,
        communities: 3,
        seed: 5,
        ..CommunityConfig::default()
    };
    let graph = community_graph(&config).unwrap();
    // The first `rows` rows of the graph's matrix with `normalization`.
    let block = |normalization, rows: usize| -> Adjacency<Reference> {
        first_rows(&graph.entries(normalization), rows, 12, &device)
    };
    let x = [tensor::<Reference, 2>(6, [12, 4], &device)];
    let gcn = GcnConvConfig::new(4, 3).init::<Reference>(&device).unwrap();
    let a = block(Normalization::Gcn, 12);
    check_finite_differences(gcn, &x, |m, x| m.forward(&a, x[0].clone()));
    for (aggregator, normalization) in [
        (SageAggregator::Mean, Normalization::Mean),
        (SageAggregator::MaxPool, Normalization::None),
    ] {
        let a = block(normalization, 9);
        let config = SageConvConfig::new(4, 3)
            .with_aggregator(aggregator)
            .with_normalize(true);
        let sage = config.init::<Reference>(&device).unwrap();
        check_finite_differences(sage, &x, |m, x| m.forward(&a, x[0].clone()));
    }
}
