//! What fitting and scoring an ensemble costs: its members' costs, one after the other, plus
//! the calibration sample each member scores to standardize its scores.

use super::params::EnsembleParams;
use crate::budget::{bytes_of, FitCost, ScoreCost, WorkEstimate};

/// Fitting every member on `rows x columns` and scoring the calibration sample with each, and
/// scoring with every member.
pub(super) fn fit_cost(params: &EnsembleParams, rows: usize, columns: usize) -> FitCost {
    let sample = rows.min(params.calibration_rows);
    let sample_bytes = if rows > sample {
        bytes_of::<f64>((sample * columns) as f64)
    } else {
        0.0
    };
    // Members whose parameters do not parse fail the fit before any work.
    let members: Vec<FitCost> = params
        .members
        .iter()
        .filter_map(|member| member.params().ok())
        .map(|member| member.fit_cost(rows, columns))
        .collect();
    let fit = members.iter().fold(WorkEstimate::default(), |fit, member| {
        fit.then(member.fit.then(member.scoring.for_rows(sample, false)))
    });
    FitCost {
        fit: fit.holding(sample_bytes),
        scoring: score_cost(members.iter().map(|member| member.scoring)),
    }
}

/// Scoring with members of the given costs, one after the other: each member's scores and
/// their running total are held beside them.
pub(super) fn score_cost(members: impl Iterator<Item = ScoreCost>) -> ScoreCost {
    let total = members.fold(ScoreCost::default(), ScoreCost::plus);
    ScoreCost {
        bytes_per_row: total.bytes_per_row + bytes_of::<f64>(2.0),
        ..total
    }
}
