//! Scoring at a given threshold: one file's row of NAB's per-file table (`scoreDataSet`), and the
//! whole corpus's rows with their total and its normalized score (`scoreCorpus` + `normalize`).

use crate::error::NabError;
use crate::normalize::Baseline;
use crate::profile::CostMatrix;
use crate::sweep::{calc_sweep_score, row_at, scores_by_threshold, Counts, ThresholdScore};
use crate::timestamp::Timestamp;
use crate::windows::Window;

/// One file as the scorer needs it: its windows, its timestamps and a detector's score per row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileInput<'a> {
    /// The file's name (`category/name.csv`), to label its row.
    pub name: &'a str,
    /// Its labelled anomaly windows, in label order.
    pub windows: &'a [Window],
    /// Its timestamps, in row order.
    pub timestamps: &'a [Timestamp],
    /// The detector's anomaly score per row, each in [0, 1].
    pub scores: &'a [f64],
}

/// A file's row of NAB's per-file score table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileScore {
    /// The threshold scored at (rows scored at or above it are detections).
    pub threshold: f64,
    /// The raw NAB score of the file.
    pub score: f64,
    /// TP, TN, FP and FN over the scored rows (the probationary period left out).
    pub counts: Counts,
    /// `Total_Count` as NAB publishes it: every row of the file, probationary ones included.
    /// (NAB's current sweeper would report `counts.scored()` here; every published table, made
    /// by its earlier scorer, has the file's length.)
    pub total_count: usize,
}

/// Scores one file at `threshold` under a profile's weights, as a row of NAB's per-file table.
pub fn score_file(
    windows: &[Window],
    timestamps: &[Timestamp],
    scores: &[f64],
    costs: &CostMatrix,
    threshold: f64,
) -> Result<FileScore, NabError> {
    let points = calc_sweep_score(0, windows, timestamps, scores, costs)?;
    let rows = scores_by_threshold(&points, costs);
    // The sweep always yields at least its "nothing detected" row, so the fallback is unused.
    let row = row_at(&rows, threshold).unwrap_or(ThresholdScore {
        threshold,
        score: 0.0,
        counts: Counts::default(),
    });
    Ok(FileScore {
        threshold,
        score: row.score,
        counts: row.counts,
        total_count: timestamps.len(),
    })
}

/// A detector's corpus score at one threshold: the per-file rows, their total and its
/// normalization against the null and perfect detectors.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusScore {
    /// The threshold scored at.
    pub threshold: f64,
    /// One row per file, in input order.
    pub files: Vec<FileScore>,
    /// The sum of the files' raw scores (NAB's `Totals` row).
    pub raw: f64,
    /// The null and perfect detectors' raw scores over the same files.
    pub baseline: Baseline,
    /// `100 * (raw - null) / (perfect - null)`: 0 for the null detector, 100 for the perfect one.
    pub normalized: f64,
}

/// Scores every file at `threshold` and normalizes the total, as NAB's score and normalize steps.
pub fn score_corpus(
    files: &[FileInput<'_>],
    costs: &CostMatrix,
    threshold: f64,
) -> Result<CorpusScore, NabError> {
    let rows = files
        .iter()
        .map(|file| score_file(file.windows, file.timestamps, file.scores, costs, threshold))
        .collect::<Result<Vec<_>, _>>()?;
    let raw = rows.iter().fold(0.0, |sum, row| sum + row.score);
    let baseline = Baseline::for_files(files, costs)?;
    Ok(CorpusScore {
        threshold,
        files: rows,
        raw,
        baseline,
        normalized: baseline.normalize(raw),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sweep::scaled_sigmoid;

    pub(crate) const STANDARD: CostMatrix = CostMatrix {
        tp_weight: 1.0,
        fn_weight: 1.0,
        fp_weight: 0.11,
        tn_weight: 1.0,
    };

    /// `rows` timestamps one minute apart.
    pub(crate) fn minutes(rows: usize) -> Vec<Timestamp> {
        (0..rows)
            .map(|i| {
                let (hour, minute) = (i / 60, i % 60);
                Timestamp::new((2020, 1, 1), (hour as u8, minute as u8, 0), 0).unwrap()
            })
            .collect()
    }

    pub(crate) fn window(timestamps: &[Timestamp], first: usize, last: usize) -> Window {
        Window {
            start: timestamps[first],
            end: timestamps[last],
        }
    }

    /// Scores of 0 everywhere but 1.0 at `detections`.
    pub(crate) fn detect(rows: usize, detections: &[usize]) -> Vec<f64> {
        (0..rows)
            .map(|i| if detections.contains(&i) { 1.0 } else { 0.0 })
            .collect()
    }

    // 100 rows: rows 0..15 are probationary; one window over rows 40..=49 (width 10).
    const ROWS: usize = 100;

    fn score(detections: &[usize]) -> FileScore {
        let timestamps = minutes(ROWS);
        let windows = [window(&timestamps, 40, 49)];
        score_file(
            &windows,
            &timestamps,
            &detect(ROWS, detections),
            &STANDARD,
            0.5,
        )
        .unwrap()
    }

    #[test]
    fn when_a_detection_is_early_in_a_window_should_beat_a_late_one() {
        let early = score(&[40]);
        let middle = score(&[45]);
        let late = score(&[49]);
        // The window's first row earns exactly tpWeight; the last one little.
        assert_eq!(early.score, STANDARD.tp_weight);
        assert!(early.score > middle.score && middle.score > late.score && late.score > 0.0);
        let expected_late = scaled_sigmoid(-1.0 / 10.0) / scaled_sigmoid(-1.0);
        assert!((late.score - expected_late).abs() < 1e-15);
        // Only the earliest detection of a window counts: more detections do not add up.
        assert_eq!(score(&[40, 41, 45]).score, early.score);
        assert_eq!(score(&[40, 41, 45]).counts.true_positives, 3);
    }

    #[test]
    fn when_a_detection_is_outside_windows_should_cost_fp_weight_scaled_by_distance() {
        let missed = -STANDARD.fn_weight;
        // Before any window: the full fpWeight.
        let before = score(&[20]);
        assert!((before.score - (missed - STANDARD.fp_weight)).abs() < 1e-15);
        assert_eq!(before.counts.false_positives, 1);
        // Just after the window: less, by the distance over (width - 1).
        let soon = score(&[52]);
        let expected = missed + scaled_sigmoid(3.0 / 9.0) * STANDARD.fp_weight;
        assert!((soon.score - expected).abs() < 1e-15);
        assert!(soon.score > before.score);
        // Far after it (more than 3 widths): the full fpWeight again.
        let far = score(&[90]);
        assert!((far.score - before.score).abs() < 1e-15);
        // False positives add up.
        let two = score(&[20, 90]);
        assert!((two.score - (missed - 2.0 * STANDARD.fp_weight)).abs() < 1e-15);
    }

    #[test]
    fn when_a_window_has_no_detection_should_cost_fn_weight() {
        let none = score(&[]);
        assert_eq!(none.score, -STANDARD.fn_weight);
        assert_eq!(
            none.counts,
            Counts {
                true_positives: 0,
                true_negatives: 75,
                false_positives: 0,
                false_negatives: 10,
            }
        );
        assert_eq!(none.total_count, ROWS);
        let timestamps = minutes(ROWS);
        let windows = [window(&timestamps, 40, 49), window(&timestamps, 70, 79)];
        let low_fn = CostMatrix {
            fn_weight: 2.0,
            ..STANDARD
        };
        let scores = detect(ROWS, &[40]);
        let one_missed = score_file(&windows, &timestamps, &scores, &low_fn, 0.5).unwrap();
        assert_eq!(one_missed.score, 1.0 - 2.0);
    }

    #[test]
    fn when_a_detection_is_in_the_probationary_period_should_not_be_scored() {
        let none = score(&[]);
        let probation = score(&[0, 5, 14]);
        assert_eq!(probation.score, none.score);
        assert_eq!(probation.counts, none.counts);
        assert_eq!(probation.counts.scored(), ROWS - 15);
        // Row 15 is the first scored one.
        assert_eq!(score(&[15]).counts.false_positives, 1);
    }

    #[test]
    fn when_a_window_starts_in_the_probationary_period_should_score_its_later_rows_in_place() {
        let timestamps = minutes(ROWS);
        let windows = [window(&timestamps, 10, 19)];
        let scores = detect(ROWS, &[12, 16]);
        let row = score_file(&windows, &timestamps, &scores, &STANDARD, 0.5).unwrap();
        // Row 12 is probationary; row 16 is 4 rows before the window's end, of width 10.
        let expected = scaled_sigmoid(-4.0 / 10.0) / scaled_sigmoid(-1.0);
        assert!((row.score - expected).abs() < 1e-15);
        assert_eq!(row.counts.true_positives, 1);
        assert_eq!(row.counts.false_negatives, 4); // rows 15, 17, 18 and 19
    }

    #[test]
    fn when_a_score_equals_the_threshold_should_count_as_a_detection() {
        let timestamps = minutes(ROWS);
        let windows = [window(&timestamps, 40, 49)];
        let mut scores = vec![0.25; ROWS];
        scores[40] = 0.75;
        let at = score_file(&windows, &timestamps, &scores, &STANDARD, 0.75).unwrap();
        assert_eq!(at.score, 1.0);
        let above = score_file(&windows, &timestamps, &scores, &STANDARD, 0.75 + 1e-12).unwrap();
        assert_eq!(above.score, -1.0);
        // Everything detected at the lowest score: the window's best plus every false positive.
        let all = score_file(&windows, &timestamps, &scores, &STANDARD, 0.25).unwrap();
        assert_eq!(all.counts.false_positives, 75);
        assert_eq!(all.counts.true_positives, 10);
    }

    #[test]
    fn when_inputs_are_malformed_should_refuse_them() {
        let timestamps = minutes(10);
        let windows = [window(&timestamps, 2, 4)];
        let short = score_file(&windows, &timestamps, &[0.0; 9], &STANDARD, 0.5);
        assert!(matches!(short, Err(NabError::LengthMismatch { .. })));
        let mut scores = vec![0.0; 10];
        scores[3] = f64::NAN;
        let nan = score_file(&windows, &timestamps, &scores, &STANDARD, 0.5);
        assert!(matches!(nan, Err(NabError::ScoreOutOfRange { row: 3, .. })));
        let elsewhere = [Window {
            start: timestamps[2],
            end: Timestamp::new((2021, 1, 1), (0, 0, 0), 0).unwrap(),
        }];
        let missing = score_file(&elsewhere, &timestamps, &[0.0; 10], &STANDARD, 0.5);
        assert!(matches!(missing, Err(NabError::WindowLimitMissing(_))));
    }
}
