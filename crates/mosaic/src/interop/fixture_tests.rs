//! Weights and outputs written by the reference PyTorch modules (`scripts/make_fixtures.py`)
//! give the same outputs here, on every backend, and export back to the same tensors.

use super::{NamedTensor, PytorchWeights, WeightStore};
use crate::fusion::*;
use crate::subnet::*;
use crate::test_util::*;
use crate::{FusionBackend, Result};
use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use std::path::Path;

fn fixture(name: &str) -> WeightStore {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.safetensors"));
    WeightStore::open(&path).unwrap()
}

/// Loads `layer.{prefix}` into `module`, compares `forward(inputs)` with the stored output,
/// and checks that exporting gives back the stored tensors.
fn check<B, M, const D: usize>(
    name: &str,
    prefix: &str,
    module: M,
    inputs: usize,
    store: WeightStore,
    device: &B::Device,
    forward: impl Fn(&M, &[Tensor<B, D>]) -> Result<Tensor<B, 2>>,
) where
    B: FusionBackend,
    M: PytorchWeights,
{
    let module = module.import_weights(&store, prefix).unwrap();
    let x: Vec<Tensor<B, D>> = (0..inputs)
        .map(|m| store.tensor(&format!("input.{m}"), device).unwrap())
        .collect();
    let expected = to_f64(store.tensor::<B, 2>("output", device).unwrap());
    assert_close(name, &to_f64(forward(&module, &x).unwrap()), &expected, 1e-5);

    let mut exported = Vec::new();
    module.export_weights(prefix, &mut exported);
    for NamedTensor { key, shape, values } in exported {
        let stored = store.get(&key, &shape).unwrap();
        assert_eq!(values, stored, "{name}: exported `{key}`");
    }
}

fn fusion_fixtures<A: TestBackend>(device: &A::Device) {
    type B<A> = <A as burn::tensor::backend::AutodiffBackend>::InnerBackend;
    let forward = |l: &dyn Fusion<B<A>>, x: &[Tensor<B<A>, 2>]| l.forward(x);
    let tfn = |dims: Vec<usize>, out| {
        TensorFusionConfig::new(dims, out)
            .init::<A>(device)
            .unwrap()
            .valid()
    };
    let lmf = || {
        LowRankFusionConfig::new(vec![3, 2, 4], 5, 4)
            .init::<A>(device)
            .unwrap()
            .valid()
    };
    let elementwise = |op| {
        ElementwiseConfig::new(vec![3, 2, 4], op)
            .with_projection_dim(Some(5))
            .init::<A>(device)
            .unwrap()
            .valid()
    };
    let d = device;
    check(
        "tensor_fusion_3",
        "layer.post_fusion",
        tfn(vec![3, 2, 4], 5),
        3,
        fixture("tensor_fusion_3"),
        d,
        |l, x| forward(l, x),
    );
    check(
        "tensor_fusion_5",
        "layer.post_fusion",
        tfn(vec![2, 1, 2, 3, 1], 3),
        5,
        fixture("tensor_fusion_5"),
        d,
        |l, x| forward(l, x),
    );
    let bilinear = BilinearConfig::new(4, 3, 2).init::<A>(device).unwrap().valid();
    check(
        "bilinear",
        "layer.post_fusion",
        bilinear,
        2,
        fixture("bilinear"),
        d,
        |l, x| forward(l, x),
    );
    check(
        "low_rank_fusion",
        "layer",
        lmf(),
        3,
        fixture("low_rank_fusion"),
        d,
        |l, x| forward(l, x),
    );
    // The original LMF code's names, mapped onto mosaic's.
    let original = ["audio_factor", "video_factor", "text_factor"]
        .iter()
        .enumerate()
        .try_fold(fixture("low_rank_fusion_original"), |store, (m, name)| {
            store.rename(&format!("layer.{name}"), &format!("layer.factors.{m}"))
        })
        .unwrap();
    let lmf3 = LowRankFusionConfig::new(vec![3, 2, 4], 5, 3)
        .init::<A>(device)
        .unwrap()
        .valid();
    check(
        "low_rank_fusion_original",
        "layer",
        lmf3,
        3,
        original,
        d,
        |l, x| forward(l, x),
    );
    let concat = ConcatConfig::new(vec![3, 2]).init().unwrap();
    check("concat", "layer", concat, 2, fixture("concat"), d, |l, x| {
        forward(l, x)
    });
    check(
        "elementwise_sum",
        "layer",
        elementwise(ElementwiseOp::Sum),
        3,
        fixture("elementwise_sum"),
        d,
        |l, x| forward(l, x),
    );
    check(
        "elementwise_product",
        "layer",
        elementwise(ElementwiseOp::Product),
        3,
        fixture("elementwise_product"),
        d,
        |l, x| forward(l, x),
    );
    let mlp = MlpFusionConfig::new(vec![3, 2], vec![6, 4], 2)
        .init::<A>(device)
        .unwrap()
        .valid();
    check("mlp_fusion", "layer", mlp, 2, fixture("mlp_fusion"), d, |l, x| {
        forward(l, x)
    });
}
for_each_backend!(fusion_layers_match_pytorch, fusion_fixtures);

fn subnet_fixtures<A: TestBackend>(device: &A::Device) {
    let mlp = MlpSubnetConfig::new(5, 4).init::<A>(device).unwrap().valid();
    check(
        "mlp_subnet",
        "layer",
        mlp,
        1,
        fixture("mlp_subnet"),
        device,
        |l, x: &[Tensor<_, 2>]| l.forward(x[0].clone()),
    );
    let lstm = LstmSubnetConfig::new(4, 6, 3).init::<A>(device).unwrap().valid();
    check(
        "lstm_subnet",
        "layer",
        lstm,
        1,
        fixture("lstm_subnet"),
        device,
        |l, x: &[Tensor<_, 3>]| l.forward(x[0].clone()),
    );
}
for_each_backend!(subnets_match_pytorch_in_eval_mode, subnet_fixtures);

#[test]
fn missing_and_misshapen_tensors_are_named() {
    let device = Default::default();
    let store = fixture("low_rank_fusion");
    let wrong_rank = LowRankFusionConfig::new(vec![3, 2, 4], 5, 2)
        .init::<Reference>(&device)
        .unwrap();
    assert_eq!(
        wrong_rank
            .import_weights(&store, "layer")
            .unwrap_err()
            .to_string(),
        "weights: tensor `layer.factors.0`: expected shape [2, 4, 5], found [4, 4, 5]"
    );
    let layer = LowRankFusionConfig::new(vec![3, 2, 4], 5, 4)
        .init::<Reference>(&device)
        .unwrap();
    let err = layer.import_weights(&store, "model").unwrap_err().to_string();
    assert!(
        err.starts_with(
            "weights: tensor `model.factors.0`: not found (float tensors present: input.0, input.1"
        ),
        "{err}"
    );
    let err = WeightStore::from_bytes(b"not a safetensors file", Path::new("x.safetensors")).unwrap_err();
    assert!(
        err.to_string().starts_with("weights file x.safetensors: "),
        "{err}"
    );
}

#[test]
fn save_then_load_round_trips_through_a_file() {
    let device = Default::default();
    let layer = randomize(
        LowRankFusionConfig::new(vec![2, 3], 4, 2)
            .init::<Reference>(&device)
            .unwrap(),
        3,
    );
    let path = std::env::temp_dir().join(format!("mosaic-roundtrip-{}.safetensors", std::process::id()));
    super::save_safetensors(&layer, "fusion", &path).unwrap();
    let fresh = LowRankFusionConfig::new(vec![2, 3], 4, 2)
        .init::<Reference>(&device)
        .unwrap();
    let loaded = super::load_safetensors(fresh, "fusion", &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let x = modality_inputs::<Reference>(5, &[2, 3], 3, &device);
    assert_eq!(
        to_f64(loaded.forward(&x).unwrap()),
        to_f64(layer.forward(&x).unwrap())
    );
    let err = super::load_safetensors(layer, "fusion", &path)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("{}: ", path.display())), "{err}");
}
