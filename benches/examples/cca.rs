//! Times linear CCA (`mosaic::coordinated::Cca::fit`) on two random `[n, p]` f64 views, the
//! second a linear map of the first plus noise, `k = p/2` components: the median of three
//! fits, after one warm-up.
//!
//! ```text
//! cargo run --release -p mosaic-benches --example cca -- 100000 256
//! ```
//!
//! `scripts/bench_pytorch_coordinated.py` times the same fit in PyTorch.

use mosaic::analysis::Matrix;
use mosaic::coordinated::{Cca, CcaOptions};
use mosaic::data::rng::SplitMix64;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("expected ROWS COLUMNS: {e}"))?;
    let (n, p) = match args[..] {
        [] => (100_000, 256),
        [n, p] => (n, p),
        _ => return Err("expected ROWS COLUMNS (default 100000 256)".into()),
    };
    let mut rng = SplitMix64::new(1);
    let mut draw = |len: usize| (0..len).map(|_| f64::from(rng.signed_unit())).collect::<Vec<_>>();
    let x = draw(n * p);
    let map = draw(p * p);
    let noise = draw(n * p);
    let mut y = noise;
    for i in 0..n {
        for (l, &x_il) in x[i * p..(i + 1) * p].iter().enumerate() {
            for (y_ij, m) in y[i * p..(i + 1) * p].iter_mut().zip(&map[l * p..(l + 1) * p]) {
                *y_ij += 0.5 * x_il * m;
            }
        }
    }
    let (x, y) = (Matrix::new(n, p, x)?, Matrix::new(n, p, y)?);
    let options = CcaOptions::new(p / 2);
    let mut seconds = Vec::new();
    for run in 0..4 {
        let start = Instant::now();
        let cca = Cca::fit(&x, &y, &options)?;
        if run > 0 {
            seconds.push(start.elapsed().as_secs_f64());
        } else {
            eprintln!("first canonical correlation {:.4}", cca.correlations()[0]);
        }
    }
    seconds.sort_by(f64::total_cmp);
    println!("{{\"cca/{n}x{p}\": {}}}", seconds[1]);
    Ok(())
}
