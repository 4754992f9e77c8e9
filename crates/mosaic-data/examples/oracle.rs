//! Prints the bundled dataset's best achievable test MAE for every modality set, and the
//! share of the label's variance in each kind of term (the table in docs/datasets.md).
//!
//! ```text
//! cargo run -p mosaic-data --example oracle
//! ```

use mosaic_data::{load, Modality, SplitName, BUNDLED};

fn main() -> Result<(), mosaic_data::DataError> {
    use Modality::*;
    let (data, _) = load(BUNDLED)?;
    for set in [
        vec![Text],
        vec![Audio],
        vec![Video],
        vec![Text, Audio],
        vec![Text, Video],
        vec![Audio, Video],
        vec![Text, Audio, Video],
    ] {
        let names: Vec<&str> = set.iter().map(|m| m.name()).collect();
        let mae = data.oracle_mae(SplitName::Test, &set).expect("known components");
        println!("{:<18} best test MAE {mae:.3}", names.join("+"));
    }
    let n = data.test.len() as f64;
    let variance = |select: &dyn Fn(u8) -> bool| {
        data.test
            .iter()
            .map(|s| {
                s.terms
                    .iter()
                    .filter(|t| select(t.set))
                    .map(|t| f64::from(t.value))
                    .sum::<f64>()
                    .powi(2)
            })
            .sum::<f64>()
            / n
    };
    let order = |k: u32| move |set: u8| set.count_ones() == k;
    println!(
        "variance: unimodal {:.3}, bimodal {:.3}, trimodal {:.3}, labels {:.3}",
        variance(&order(1)),
        variance(&order(2)),
        variance(&order(3)),
        data.test.iter().map(|s| f64::from(s.label).powi(2)).sum::<f64>() / n
    );
    Ok(())
}
