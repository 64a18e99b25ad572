//! Threshold optimisation (`nab/optimizer.py`): NAB picks, per detector and profile, the one
//! threshold that maximizes the raw score summed over the whole corpus, among every distinct
//! anomaly score the detector emitted.

use crate::error::NabError;
use crate::profile::CostMatrix;
use crate::score::FileInput;
use crate::sweep::{calc_sweep_score, scores_by_threshold, ThresholdScore};

/// Sweeps every file together and returns the best threshold with its corpus score and counts.
/// Ties go to the highest threshold, as NAB's stable sort by descending score keeps the sweep's
/// (descending threshold) order; with no files the answer is "detect nothing" at 1.1.
pub fn optimize_threshold(
    files: &[FileInput<'_>],
    costs: &CostMatrix,
) -> Result<ThresholdScore, NabError> {
    let mut points = Vec::new();
    for (index, file) in files.iter().enumerate() {
        points.extend(calc_sweep_score(
            index,
            file.windows,
            file.timestamps,
            file.scores,
            costs,
        )?);
    }
    let rows = scores_by_threshold(&points, costs);
    let mut best: Option<ThresholdScore> = None;
    for row in rows {
        if best.is_none_or(|best| row.score > best.score) {
            best = Some(row);
        }
    }
    Ok(best.unwrap_or(ThresholdScore {
        threshold: crate::sweep::NO_DETECTION_THRESHOLD,
        score: 0.0,
        counts: crate::sweep::Counts::default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::tests::{detect, minutes, window, STANDARD};
    use crate::score::{score_corpus, FileInput};

    #[test]
    fn when_optimizing_should_pick_the_threshold_with_the_highest_corpus_score() {
        let timestamps = minutes(100);
        let windows = [window(&timestamps, 40, 49)];
        // File a: a good alarm at 0.9 early in the window, a false one at 0.6; file b: a false
        // alarm at 0.8 and a late true one at 0.7.
        let mut a = detect(100, &[]);
        a[41] = 0.9;
        a[20] = 0.6;
        let mut b = detect(100, &[]);
        b[30] = 0.8;
        b[48] = 0.7;
        let files = [
            FileInput {
                name: "a",
                windows: &windows,
                timestamps: &timestamps,
                scores: &a,
            },
            FileInput {
                name: "b",
                windows: &windows,
                timestamps: &timestamps,
                scores: &b,
            },
        ];
        let best = optimize_threshold(&files, &STANDARD).unwrap();
        for threshold in [1.1, 0.9, 0.8, 0.7, 0.6, 0.0] {
            let raw = score_corpus(&files, &STANDARD, threshold).unwrap().raw;
            assert!(
                best.score >= raw - 1e-12,
                "{threshold}: {raw} > {}",
                best.score
            );
        }
        let at_best = score_corpus(&files, &STANDARD, best.threshold).unwrap();
        assert!((at_best.raw - best.score).abs() < 1e-12);
        assert_eq!(best.threshold, 0.7);
    }
}
