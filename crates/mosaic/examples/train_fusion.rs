//! Trains a fusion model on generated trimodal data and prints its loss falling.
//!
//! The target has a unimodal, a bimodal and a trimodal (synergistic) part:
//! `y = <a, x_1> + (<b, x_2>)(<c, x_3>) + 2 (<d, x_1>)(<e, x_2>)(<f, x_3>) + noise`.
//! Tensor fusion and low-rank fusion (rank ≥ 1) can represent all of it; a linear model on
//! the concatenation (`--fusion concat`) cannot represent the products and stalls.
//!
//! ```text
//! cargo run -p mosaic --example train_fusion -- --fusion tfn --backend flex --epochs 30
//! ```

use burn::module::AutodiffModule;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use mosaic::backend::{Autodiff, BackendKind};
use mosaic::fusion::{Concat, ConcatConfig, Fusion, LowRankFusionConfig, TensorFusionConfig};
use mosaic::{FusionBackend, MosaicError};
use std::process::ExitCode;

const DIMS: [usize; 3] = [4, 3, 5];
const TRAIN: usize = 768;
const TEST: usize = 256;
const BATCH: usize = 64;

struct Args {
    fusion: String,
    backend: BackendKind,
    epochs: usize,
    rank: usize,
    lr: f64,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        fusion: "tfn".into(),
        backend: BackendKind::Flex,
        epochs: 30,
        rank: 4,
        lr: 0.02,
        seed: 7,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!(
                "usage: train_fusion [--fusion tfn|lmf|concat] [--backend flex|ndarray|wgpu|cuda] \
                 [--epochs N] [--rank R] [--lr LR] [--seed S]"
            );
            std::process::exit(0);
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| format!("{flag}: `{value}` is not {what}");
        match flag.as_str() {
            "--fusion" => args.fusion = value,
            "--backend" => args.backend = value.parse().map_err(|e: MosaicError| e.to_string())?,
            "--epochs" => args.epochs = value.parse().map_err(|_| number("a whole number"))?,
            "--rank" => args.rank = value.parse().map_err(|_| number("a whole number"))?,
            "--lr" => args.lr = value.parse().map_err(|_| number("a number"))?,
            "--seed" => args.seed = value.parse().map_err(|_| number("a whole number"))?,
            _ => return Err(format!("unknown option {flag} (see --help)")),
        }
    }
    if !["tfn", "lmf", "concat"].contains(&args.fusion.as_str()) {
        return Err(format!(
            "--fusion: expected tfn, lmf or concat, got `{}`",
            args.fusion
        ));
    }
    args.backend.require_compiled().map_err(|e| e.to_string())?;
    Ok(args)
}

/// Deterministic uniform values in [-1, 1) (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        bits as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// Per modality `[n, d_m]` features, and the `[n, 1]` target.
struct Dataset {
    modalities: Vec<Vec<f32>>,
    target: Vec<f32>,
    n: usize,
}

fn generate(n: usize, rng: &mut Rng, directions: &[Vec<f32>]) -> Dataset {
    let modalities: Vec<Vec<f32>> = DIMS.iter().map(|&d| rng.vec(n * d)).collect();
    let dot = |m: usize, k: usize, i: usize| -> f32 {
        let d = DIMS[m];
        modalities[m][i * d..(i + 1) * d]
            .iter()
            .zip(&directions[k])
            .map(|(x, w)| x * w)
            .sum()
    };
    let target = (0..n)
        .map(|i| {
            dot(0, 0, i)
                + dot(1, 1, i) * dot(2, 2, i)
                + 2.0 * dot(0, 3, i) * dot(1, 4, i) * dot(2, 5, i)
                + 0.05 * rng.next()
        })
        .collect();
    Dataset {
        modalities,
        target,
        n,
    }
}

/// The fused representation followed by a linear regression head.
#[derive(burn::module::Module, Debug)]
struct Model<B: burn::tensor::backend::Backend> {
    tfn: Option<mosaic::fusion::TensorFusion<B>>,
    lmf: Option<mosaic::fusion::LowRankFusion<B>>,
    concat: Option<Concat>,
    head: Linear<B>,
}

impl<B: FusionBackend> Model<B> {
    fn forward(&self, inputs: &[Tensor<B, 2>]) -> Result<Tensor<B, 2>, MosaicError> {
        let fused = match (&self.tfn, &self.lmf, &self.concat) {
            (Some(tfn), _, _) => tfn.forward(inputs)?,
            (_, Some(lmf), _) => lmf.forward(inputs)?,
            (_, _, Some(concat)) => Fusion::<B>::forward(concat, inputs)?,
            _ => unreachable!("one fusion is always set"),
        };
        Ok(self.head.forward(fused))
    }
}

fn batch<B: burn::tensor::backend::Backend>(
    data: &Dataset,
    rows: std::ops::Range<usize>,
    device: &B::Device,
) -> (Vec<Tensor<B, 2>>, Tensor<B, 2>) {
    let n = rows.len();
    let inputs = data
        .modalities
        .iter()
        .zip(DIMS)
        .map(|(values, d)| {
            let slice = values[rows.start * d..rows.end * d].to_vec();
            Tensor::from_data(TensorData::new(slice, [n, d]), device)
        })
        .collect();
    let target = Tensor::from_data(TensorData::new(data.target[rows].to_vec(), [n, 1]), device);
    (inputs, target)
}

fn train<B: AutodiffBackend + FusionBackend>(args: &Args, device: &B::Device) -> Result<(), MosaicError>
where
    B::InnerBackend: FusionBackend,
{
    B::seed(device, args.seed);
    let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let directions: Vec<Vec<f32>> = [0, 1, 2, 0, 1, 2].iter().map(|&m| rng.vec(DIMS[m])).collect();
    let (train_set, test_set) = (
        generate(TRAIN, &mut rng, &directions),
        generate(TEST, &mut rng, &directions),
    );

    let width = 8;
    let dims = DIMS.to_vec();
    let (tfn, lmf, concat, head_in) = match args.fusion.as_str() {
        "tfn" => (
            Some(TensorFusionConfig::new(dims, width).init(device)?),
            None,
            None,
            width,
        ),
        "lmf" => (
            None,
            Some(LowRankFusionConfig::new(dims, width, args.rank).init(device)?),
            None,
            width,
        ),
        _ => (
            None,
            None,
            Some(ConcatConfig::new(dims).init()?),
            DIMS.iter().sum(),
        ),
    };
    let mut model = Model {
        tfn,
        lmf,
        concat,
        head: LinearConfig::new(head_in, 1).init(device),
    };
    let mut optimizer = AdamConfig::new().init::<B, Model<B>>();
    println!(
        "training {} fusion on {} ({} train / {} test samples of widths {:?}), {} epochs",
        args.fusion, args.backend, train_set.n, test_set.n, DIMS, args.epochs
    );
    let baseline = {
        let mean = test_set.target.iter().sum::<f32>() / TEST as f32;
        test_set.target.iter().map(|y| (y - mean).abs()).sum::<f32>() / TEST as f32
    };
    for epoch in 1..=args.epochs {
        let mut total = 0.0;
        for start in (0..TRAIN).step_by(BATCH) {
            let (inputs, target) = batch::<B>(&train_set, start..(start + BATCH).min(TRAIN), device);
            let loss = (model.forward(&inputs)? - target).powi_scalar(2).mean();
            total += loss.clone().into_scalar().elem::<f64>() * BATCH as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(args.lr, model, grads);
        }
        let valid = model.valid();
        let (inputs, target) = batch::<B::InnerBackend>(&test_set, 0..TEST, device);
        let test_mae: f64 = (valid.forward(&inputs)? - target)
            .abs()
            .mean()
            .into_scalar()
            .elem();
        println!(
            "epoch {epoch:>3}: train MSE {:.4}  test MAE {test_mae:.4}  (predicting the mean: {baseline:.4})",
            total / TRAIN as f64
        );
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), MosaicError> {
    match args.backend {
        #[cfg(feature = "flex")]
        BackendKind::Flex => train::<Autodiff<mosaic::backend::Flex>>(args, &Default::default()),
        #[cfg(feature = "ndarray")]
        BackendKind::NdArray => train::<Autodiff<mosaic::backend::NdArray>>(args, &Default::default()),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => train::<Autodiff<mosaic::backend::Wgpu>>(args, &Default::default()),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => train::<Autodiff<mosaic::backend::Cuda>>(args, &Default::default()),
        #[allow(unreachable_patterns)]
        other => other.require_compiled().map(|_| ()),
    }
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| run(&args).map_err(|e| e.to_string()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("train_fusion: {message}");
            ExitCode::FAILURE
        }
    }
}
