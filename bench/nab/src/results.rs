//! A detector's published outputs: `results/<detector>/<category>/<detector>_<name>.csv`, one
//! anomaly score per corpus row, which NAB pairs with the data file's timestamps by row.

use std::path::Path;

use crate::corpus::Corpus;
use crate::error::NabError;
use crate::files::{parse_f64, CsvText};

/// Loads `detector`'s anomaly scores for every corpus file, in corpus order (`scores[i]` for
/// `corpus.files[i]`); each must have as many rows as the data file.
pub fn load_detector_scores(
    root: &Path,
    detector: &str,
    corpus: &Corpus,
) -> Result<Vec<Vec<f64>>, NabError> {
    corpus
        .files
        .iter()
        .map(|file| {
            let (category, name) = file.name.split_once('/').unwrap_or(("", &file.name));
            let path = root
                .join("results")
                .join(detector)
                .join(category)
                .join(format!("{detector}_{name}"));
            let csv = CsvText::read(&path)?;
            if csv.len() != file.timestamps.len() {
                return Err(csv.error(
                    1,
                    format!(
                        "{} rows, but data file {} has {}",
                        csv.len(),
                        file.name,
                        file.timestamps.len()
                    ),
                ));
            }
            csv.parse_column(csv.column("anomaly_score")?, parse_f64)
        })
        .collect()
}
