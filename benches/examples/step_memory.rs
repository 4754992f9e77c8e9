//! Peak memory of one training step (forward + backward of `Σ h`) of tensor fusion and
//! low-rank fusion at the CMU-MOSI shape (32/32/128 → 128, rank 32), fused path vs composite
//! path, on flex, at batch sizes too large for criterion's repeated timing:
//!
//! ```sh
//! cargo run -p mosaic-benches --features flex --example step_memory -- 4096
//! ```
//!
//! Prints one line per layer and path: the rise of the process's peak resident memory
//! during the step (Linux `VmHWM`, reset before each step) and the step's wall time.

use burn::backend::Autodiff;
use mosaic::backend::Flex;
use mosaic_benches::{peak_memory, reset_peak_memory, resident_memory, Case, Layer, Path};

fn main() {
    let batch: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 4096,
        Some(Ok(batch)) if batch > 0 => batch,
        Some(_) => {
            eprintln!("step_memory: the argument is the batch size, a positive integer");
            std::process::exit(2);
        }
    };
    let device = Default::default();
    println!("layer\tpath\tbatch\tstep peak MiB\tstep seconds");
    for (layer, rank) in [(Layer::TensorFusion, 0), (Layer::LowRank, 32)] {
        for path in [Path::Fused, Path::Composite] {
            let case = Case {
                layer,
                dims: vec![32, 32, 128],
                d_output: 128,
                rank,
                batch,
                path,
            };
            let model = case.build::<Autodiff<Flex>>(&device).expect("a valid case");
            let inputs: Vec<_> = case
                .inputs::<Autodiff<Flex>>(&device)
                .into_iter()
                .map(burn::Tensor::require_grad)
                .collect();
            reset_peak_memory();
            let (Some(before), start) = (resident_memory(), std::time::Instant::now()) else {
                eprintln!("step_memory: needs Linux (/proc/self/status)");
                std::process::exit(1);
            };
            let grads = model.forward(&inputs).expect("valid inputs").sum().backward();
            let seconds = start.elapsed().as_secs_f64();
            let peak = peak_memory().expect("VmHWM") - before;
            drop(grads);
            println!(
                "{}\t{}\t{batch}\t{:.1}\t{seconds:.2}",
                layer.name(),
                path.name(),
                peak as f64 / 1048576.0
            );
        }
    }
}
