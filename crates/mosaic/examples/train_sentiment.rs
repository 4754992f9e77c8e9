//! Trains the TFN / LMF reference sentiment model on the bundled trimodal data and prints
//! its test metrics: the whole library path, from a dataset to a trained model.
//!
//! ```text
//! cargo run -p mosaic --example train_sentiment -- lmf
//! ```

use mosaic::backend::{Autodiff, Flex};
use mosaic::data::Modality;
use mosaic::models::{FusionKind, ModelConfig};
use mosaic::train::{evaluate, fit, Progress, TrainOptions};

fn main() -> Result<(), mosaic::MosaicError> {
    let fusion: FusionKind = std::env::args().nth(1).as_deref().unwrap_or("tfn").parse()?;
    let (data, _report) = mosaic::data::load("trimodal")?;
    let config = ModelConfig::for_dataset(&data, &Modality::ALL, fusion);
    let device = Default::default();
    let fitted = fit::<Autodiff<Flex>>(&config, &data, &TrainOptions::default(), &device, |p| {
        if let Progress::Epoch { epoch, valid_mae, .. } = p {
            println!("epoch {epoch}: validation MAE {valid_mae:.3}");
        }
    })?;
    let test = evaluate(&fitted.model, &config, &data.test, &device)?;
    println!(
        "{fusion}: test MAE {:.3}, Acc-2 {:.1} %",
        test.mae,
        100.0 * test.acc2
    );
    Ok(())
}
