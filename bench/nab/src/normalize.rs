//! Normalisation (`Runner.normalize`): raw scores depend on the corpus and the profile, so NAB
//! reports `100 * (raw - null) / (perfect - null)`, where null is the detector that never fires
//! and perfect earns the full reward in every window.

use crate::error::NabError;
use crate::profile::CostMatrix;
use crate::score::FileInput;
use crate::sweep::{calc_sweep_score, scores_by_threshold};

/// The raw scores that map to 0 and 100 over a set of files under one profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// The null detector's raw score: `-fn` for every window with a scored row.
    pub null: f64,
    /// The perfect detector's raw score: `tp` for every labelled window (NAB counts all of them,
    /// even one that would lie in a probationary period).
    pub perfect: f64,
}

impl Baseline {
    /// The null and perfect raw scores over `files`; fails when they hold no window at all.
    pub fn for_files(files: &[FileInput<'_>], costs: &CostMatrix) -> Result<Self, NabError> {
        let mut null = 0.0;
        let mut windows = 0usize;
        for (index, file) in files.iter().enumerate() {
            let points =
                calc_sweep_score(index, file.windows, file.timestamps, file.scores, costs)?;
            // The sweep's first row is "nothing detected": the null detector's score.
            if let Some(row) = scores_by_threshold(&points, costs).first() {
                null += row.score;
            }
            windows += file.windows.len();
        }
        if windows == 0 {
            return Err(NabError::NoWindows);
        }
        Ok(Self {
            null,
            perfect: windows as f64 * costs.tp_weight,
        })
    }

    /// Normalizes a raw corpus score: 0 for the null detector, 100 for the perfect one.
    pub fn normalize(&self, raw: f64) -> f64 {
        normalized_score(raw, self.null, self.perfect)
    }
}

/// NAB's formula: `100 * (raw - null) / (perfect - null)`.
pub fn normalized_score(raw: f64, null: f64, perfect: f64) -> f64 {
    100.0 * (raw - null) / (perfect - null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::score_corpus;
    use crate::score::tests::{detect, minutes, window, STANDARD};

    #[test]
    fn when_normalizing_should_map_null_to_0_and_perfect_to_100() {
        let timestamps = minutes(100);
        let windows = [window(&timestamps, 40, 49), window(&timestamps, 70, 79)];
        let never = detect(100, &[]);
        let perfect = detect(100, &[40, 70]);
        let input = |scores| FileInput {
            name: "f",
            windows: &windows,
            timestamps: &timestamps,
            scores,
        };
        let null = score_corpus(&[input(&never)], &STANDARD, 0.5).unwrap();
        assert_eq!(
            null.baseline,
            Baseline {
                null: -2.0,
                perfect: 2.0
            }
        );
        assert_eq!(null.normalized, 0.0);
        let best = score_corpus(&[input(&perfect)], &STANDARD, 0.5).unwrap();
        assert_eq!(best.normalized, 100.0);
        assert_eq!(normalized_score(0.0, -2.0, 2.0), 50.0);
        let empty = Baseline::for_files(&[], &STANDARD);
        assert!(matches!(empty, Err(NabError::NoWindows)));
    }
}
