//! Trains a model on the shipped sample payments and prints the anomalies it finds among new ones,
//! with their top features: the detection core end to end, with no storage or network.
//!
//! ```text
//! cargo run --release -p detection --example demo [-- ALGORITHM]   (default: ensemble)
//! ```
// Tool code: a failure should stop it loudly, so it may unwrap, expect, panic and index.
#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::model::{Model, ModelSpec};
use detection::tabular::{parse_csv, ExtraColumns};
use detection::threshold::ThresholdRule;
use detection::{artifact, Limits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let algorithm: Algorithm = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ensemble".into())
        .parse()?;
    let sample = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../data/sample");
    let limits = Limits::default();
    let train = parse_csv(std::fs::File::open(sample.join("train.csv"))?, &limits)?;
    let detect = parse_csv(std::fs::File::open(sample.join("detect.csv"))?, &limits)?;

    let spec = ModelSpec::new(AlgorithmParams::default_for(algorithm))
        .threshold(ThresholdRule::Contamination(0.01));
    let model = Model::fit(&spec, &train)?;
    let bytes = artifact::encode(&model)?;
    let model = artifact::decode(&bytes)?;
    println!(
        "trained {algorithm} on {} rows x {} features; artifact {} bytes; threshold {:.4}",
        train.n_rows(),
        model.features().len(),
        bytes.len(),
        model.calibration().threshold()
    );

    let x = model
        .column_mapping(detect.columns(), ExtraColumns::Reject)?
        .apply(detect.values().view());
    let scores = model.score(x.view())?;
    println!("scored {} rows; anomalies:", scores.len());
    for (i, &score) in scores.iter().enumerate() {
        let (label, normalized, severity) = model.assess(score);
        if label == 0 {
            continue;
        }
        let row = x.row(i);
        let top: Vec<String> = model
            .explain(row, 2)?
            .iter()
            .map(|c| {
                let at = model.features().iter().position(|f| *f == c.feature);
                let value = at.map(|j| row[j]).unwrap_or(f64::NAN);
                format!("{}={value} ({:.0}%)", c.feature, 100.0 * c.contribution)
            })
            .collect();
        println!(
            "  row {:>3}  score {score:.4}  normalized {normalized:.3}  {:<6}  {}",
            i + 1,
            severity.map(|s| s.as_str()).unwrap_or("-"),
            top.join(", ")
        );
    }
    Ok(())
}
