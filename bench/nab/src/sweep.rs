//! NAB's sweep (`nab/sweeper.py`): every row gets the reward it would earn if detected, then the
//! rows are swept from the highest anomaly score down, giving the score and TP/TN/FP/FN counts at
//! every distinct threshold at once. Both per-file scoring and threshold optimisation use it, with
//! NAB's float64 arithmetic in NAB's order.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::error::NabError;
use crate::profile::CostMatrix;
use crate::timestamp::Timestamp;
use crate::windows::Window;

/// The share of each file NAB leaves unscored at its start, while a detector learns.
pub const PROBATION_PERCENT: f64 = 0.15;

/// The threshold NAB's sweep starts from: above every score, so nothing is detected.
pub const NO_DETECTION_THRESHOLD: f64 = 1.1;

/// The logistic function, as NAB writes it: `1 / (1 + exp(-x))`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// NAB's reward curve over a relative position: -1.0 (a window's first row) gives 0.98661,
/// 0.0 (just past its last row) gives 0, 1.0 gives -0.98661, and beyond 3.0 it is -1.
pub fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position > 3.0 {
        -1.0
    } else {
        2.0 * sigmoid(-5.0 * relative_position) - 1.0
    }
}

/// The number of leading rows NAB does not score: `min(floor(0.15 * rows), 0.15 * 5000)`.
pub fn probationary_length(rows: usize) -> usize {
    // Both terms are whole numbers in f64 (0.15 * 5000 rounds to exactly 750.0), so comparing a
    // row index against the integer is comparing it against NAB's float.
    let length = (PROBATION_PERCENT * rows as f64)
        .floor()
        .min(PROBATION_PERCENT * 5000.0);
    length as usize
}

/// Which window of which file a row lies in; unique across a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowId {
    /// The file's index in the corpus being swept.
    pub file: usize,
    /// The window's index in that file's window list.
    pub window: usize,
}

/// How a row counts when it is detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointRole {
    /// In the probationary period: never scored, never counted.
    Probationary,
    /// Outside every window: a detection is a false positive, its absence a true negative.
    Outside,
    /// Inside a window: a detection is a true positive, its absence a false negative.
    InWindow(WindowId),
}

/// One row after the sweep's first pass (NAB's `AnomalyPoint`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyPoint {
    /// The detector's anomaly score for the row.
    pub anomaly_score: f64,
    /// The weighted reward (positive in a window) or cost (negative outside) of detecting it.
    pub sweep_score: f64,
    /// How the row counts.
    pub role: PointRole,
}

/// Row counts at a threshold, the probationary period left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Detected rows inside windows.
    pub true_positives: usize,
    /// Undetected rows outside windows.
    pub true_negatives: usize,
    /// Detected rows outside windows.
    pub false_positives: usize,
    /// Undetected rows inside windows.
    pub false_negatives: usize,
}

impl Counts {
    /// The number of scored rows (every row after the probationary period).
    pub fn scored(&self) -> usize {
        self.true_positives + self.true_negatives + self.false_positives + self.false_negatives
    }
}

/// The outcome of detecting every row scored at or above `threshold` (NAB's `ThresholdScore`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdScore {
    /// The threshold: a row is detected when its anomaly score is at least this.
    pub threshold: f64,
    /// The raw NAB score: window rewards and costs plus false-positive costs.
    pub score: f64,
    /// The row counts.
    pub counts: Counts,
}

fn first_index(timestamps: &[Timestamp], time: Timestamp) -> Result<usize, NabError> {
    timestamps
        .iter()
        .position(|&t| t == time)
        .ok_or_else(|| NabError::WindowLimitMissing(time.to_string()))
}

/// Checks a series before sweeping it: one score per timestamp, each a number in [0, 1].
pub fn check_series(timestamps: &[Timestamp], scores: &[f64]) -> Result<(), NabError> {
    if timestamps.len() != scores.len() {
        return Err(NabError::LengthMismatch {
            timestamps: timestamps.len(),
            scores: scores.len(),
        });
    }
    match scores.iter().position(|score| !(0.0..=1.0).contains(score)) {
        Some(row) => Err(NabError::ScoreOutOfRange {
            row,
            score: scores.get(row).copied().unwrap_or(f64::NAN),
        }),
        None => Ok(()),
    }
}

struct OpenWindow {
    id: WindowId,
    end: Timestamp,
    right_index: usize,
    width: f64,
}

/// NAB's `calcSweepScore`: each row's role and the weighted reward of detecting it. `file` names
/// the file's windows so several files can be swept together.
///
/// In a window of width `w` ending at row `r`, row `i` earns
/// `scaled_sigmoid(-(r - i + 1) / w) * tp / scaled_sigmoid(-1)`; outside, a row costs
/// `fp * scaled_sigmoid(|r' - i| / (w' - 1))` after a window (`r'`, `w'`) and `-fp` before any.
/// Windows are entered in label order when a row's timestamp equals the next window's start and
/// left at the row equal to its end; both limits must be timestamps of the series.
pub fn calc_sweep_score(
    file: usize,
    windows: &[Window],
    timestamps: &[Timestamp],
    scores: &[f64],
    costs: &CostMatrix,
) -> Result<Vec<AnomalyPoint>, NabError> {
    check_series(timestamps, scores)?;
    // Window limits as row indices (first occurrence, as Python's `list.index`).
    let limits = windows
        .iter()
        .map(|window| {
            Ok((
                first_index(timestamps, window.start)?,
                first_index(timestamps, window.end)?,
            ))
        })
        .collect::<Result<Vec<_>, NabError>>()?;
    let max_tp = scaled_sigmoid(-1.0);
    let probation = probationary_length(timestamps.len());
    let mut pending = windows.iter().zip(&limits).enumerate().peekable();
    let mut current: Option<OpenWindow> = None;
    let mut previous: Option<(usize, f64)> = None;
    let mut points = Vec::with_capacity(timestamps.len());
    for (i, (&time, &anomaly_score)) in timestamps.iter().zip(scores).enumerate() {
        if let Some(&(window, (w, &(left_index, right_index)))) = pending.peek() {
            if time == w.start {
                pending.next();
                current = Some(OpenWindow {
                    id: WindowId { file, window },
                    end: w.end,
                    right_index,
                    width: (right_index as f64 - left_index as f64) + 1.0,
                });
            }
        }
        let sweep_score = match &current {
            Some(open) => {
                let rows_to_end = open.right_index as f64 - i as f64 + 1.0;
                let position = -rows_to_end / open.width;
                scaled_sigmoid(position) * costs.tp_weight / max_tp
            }
            None => {
                let unweighted = match previous {
                    None => -1.0,
                    // A one-row window makes this 1/0 = inf, i.e. -1 (NAB's Python would raise).
                    Some((right_index, width)) => {
                        let distance = (right_index as f64 - i as f64).abs();
                        scaled_sigmoid(distance / (width - 1.0))
                    }
                };
                unweighted * costs.fp_weight
            }
        };
        let role = if i < probation {
            PointRole::Probationary
        } else {
            current
                .as_ref()
                .map_or(PointRole::Outside, |open| PointRole::InWindow(open.id))
        };
        points.push(AnomalyPoint {
            anomaly_score,
            sweep_score,
            role,
        });
        if let Some(open) = current.take_if(|open| open.end == time) {
            previous = Some((i, open.width));
        }
    }
    Ok(points)
}

/// NAB's `calcScoreByThreshold`: the score and counts at every distinct anomaly score, from
/// [`NO_DETECTION_THRESHOLD`] (nothing detected) down to the lowest score (everything detected),
/// in that order. Rows are swept by descending score, ties in input order; each window counts
/// its best detection (or `-fn` without one), false positives add up; probationary rows are
/// left out. Sums run in NAB's order (false positives first, then windows as first reached).
pub fn scores_by_threshold(points: &[AnomalyPoint], costs: &CostMatrix) -> Vec<ThresholdScore> {
    let mut scorable: Vec<&AnomalyPoint> = points
        .iter()
        .filter(|point| point.role != PointRole::Probationary)
        .collect();
    // Stable, so ties keep their input order, as Python's `sorted(..., reverse=True)`.
    scorable.sort_by(|a, b| {
        b.anomaly_score
            .partial_cmp(&a.anomaly_score)
            .unwrap_or(Ordering::Equal)
    });
    // parts[0] is the false positives' sum; then one part per window, in order of first sight.
    let mut parts = vec![0.0_f64];
    let mut slots: BTreeMap<WindowId, usize> = BTreeMap::new();
    for point in &scorable {
        if let PointRole::InWindow(id) = point.role {
            slots.entry(id).or_insert_with(|| {
                parts.push(-costs.fn_weight);
                parts.len() - 1
            });
        }
    }
    let in_windows = scorable
        .iter()
        .filter(|point| matches!(point.role, PointRole::InWindow(_)))
        .count();
    let mut counts = Counts {
        true_positives: 0,
        true_negatives: scorable.len() - in_windows,
        false_positives: 0,
        false_negatives: in_windows,
    };
    let total = |parts: &[f64]| parts.iter().fold(0.0, |sum, part| sum + part);
    let mut threshold = NO_DETECTION_THRESHOLD;
    let mut rows = Vec::new();
    for point in scorable {
        if point.anomaly_score != threshold {
            rows.push(ThresholdScore {
                threshold,
                score: total(&parts),
                counts,
            });
            threshold = point.anomaly_score;
        }
        let slot = match point.role {
            PointRole::InWindow(id) => {
                counts.true_positives += 1;
                counts.false_negatives = counts.false_negatives.saturating_sub(1);
                slots.get(&id).copied()
            }
            _ => {
                counts.false_positives += 1;
                counts.true_negatives = counts.true_negatives.saturating_sub(1);
                None
            }
        };
        match slot {
            Some(slot) => {
                if let Some(part) = parts.get_mut(slot) {
                    if point.sweep_score > *part {
                        *part = point.sweep_score;
                    }
                }
            }
            None => {
                if let Some(part) = parts.first_mut() {
                    *part += point.sweep_score;
                }
            }
        }
    }
    rows.push(ThresholdScore {
        threshold,
        score: total(&parts),
        counts,
    });
    rows
}

/// NAB's choice among [`scores_by_threshold`]'s rows for `threshold`: the row with exactly that
/// threshold, else the one just above it, i.e. detections are the rows scored `>= threshold`.
/// Beyond NAB (whose Python fails there): a threshold above every row gets the first row (no
/// detection) and one below every score the last (everything detected).
pub fn row_at(rows: &[ThresholdScore], threshold: f64) -> Option<ThresholdScore> {
    rows.iter()
        .take_while(|row| row.threshold >= threshold)
        .last()
        .or(rows.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_at_the_window_edges_the_scaled_sigmoid_should_match_nab() {
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_3).abs() < 1e-15);
        assert!((scaled_sigmoid(-0.5) - 0.848_283_639_957_512_9).abs() < 1e-15);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!((scaled_sigmoid(1.0) + 0.986_614_298_151_430_3).abs() < 1e-15);
        assert!(scaled_sigmoid(3.0) > -1.0);
        assert_eq!(scaled_sigmoid(3.000_001), -1.0);
        assert_eq!(sigmoid(0.0), 0.5);
    }

    #[test]
    fn when_earlier_in_a_window_the_scaled_sigmoid_should_be_larger() {
        let positions = [-1.0, -0.75, -0.5, -0.25, -0.01];
        for pair in positions.windows(2) {
            assert!(scaled_sigmoid(pair[0]) > scaled_sigmoid(pair[1]));
        }
    }

    #[test]
    fn when_counting_the_probationary_period_should_floor_15_percent_capped_at_750() {
        assert_eq!(probationary_length(100), 15);
        assert_eq!(probationary_length(4032), 604);
        assert_eq!(probationary_length(1243), 186);
        assert_eq!(probationary_length(5000), 750);
        assert_eq!(probationary_length(22695), 750);
        assert_eq!(probationary_length(0), 0);
    }

    #[test]
    fn when_thresholds_fall_between_scores_should_detect_scores_at_or_above() {
        let row = |threshold, score| ThresholdScore {
            threshold,
            score,
            counts: Counts::default(),
        };
        let rows = [row(1.1, 0.0), row(0.9, 1.0), row(0.5, 2.0), row(0.1, 3.0)];
        assert_eq!(row_at(&rows, 0.5).unwrap().score, 2.0);
        assert_eq!(row_at(&rows, 0.6).unwrap().score, 1.0);
        assert_eq!(row_at(&rows, 0.95).unwrap().score, 0.0);
        assert_eq!(row_at(&rows, 2.0).unwrap().score, 0.0);
        assert_eq!(row_at(&rows, 0.0).unwrap().score, 3.0);
    }
}
