//! Labelled data and ranking metrics: how the accuracy report and the tests judge detectors.

use std::io::Read;

use crate::error::InputError;
use crate::table::{Limits, Table};
use crate::tabular::align::{ColumnMapping, ExtraColumns};

/// A labelled benchmark set: the features and a 0/1 label per row (1 = anomaly).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledData {
    /// Feature columns (every column but `label`).
    pub table: Table,
    /// One label per row.
    pub labels: Vec<u8>,
}

impl LabelledData {
    /// Reads a CSV whose column `label` (0 or 1) holds the labels and every other column a feature.
    pub fn from_csv<R: Read>(reader: R) -> Result<Self, InputError> {
        let limits = Limits {
            max_rows: 10_000_000,
            max_values: usize::MAX,
            ..Limits::DEFAULT
        };
        let all = crate::tabular::csv::parse_csv(reader, &limits)?;
        let label = vec!["label".to_string()];
        let features: Vec<String> = all
            .columns()
            .iter()
            .filter(|c| **c != "label")
            .cloned()
            .collect();
        let labels = ColumnMapping::new(all.columns(), &label, ExtraColumns::Ignore)?
            .apply(all.values().view());
        let labels = labels
            .iter()
            .enumerate()
            .map(|(row, v)| match *v {
                0.0 => Ok(0),
                1.0 => Ok(1),
                _ => Err(InputError::Malformed {
                    format: "CSV",
                    message: format!("row {}, column 'label': labels are 0 or 1", row + 1),
                }),
            })
            .collect::<Result<Vec<u8>, _>>()?;
        let values = ColumnMapping::new(all.columns(), &features, ExtraColumns::Ignore)?
            .apply(all.values().view());
        Ok(Self {
            table: Table::new(features, values)?,
            labels,
        })
    }
}

/// Area under the ROC curve of `scores` against binary `labels` (1 = anomaly), with ties counted
/// half (the Mann-Whitney statistic; equals scikit-learn's `roc_auc_score`). `None` unless both
/// classes are present and the lengths agree.
#[allow(clippy::indexing_slicing)] // `order` is a permutation of the score indices and `i <= j < len`.
pub fn roc_auc(scores: &[f64], labels: &[u8]) -> Option<f64> {
    if scores.len() != labels.len() {
        return None;
    }
    let positives = labels.iter().filter(|&&l| l == 1).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let order = ascending(scores);
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 are tied: each gets their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        rank_sum += mean_rank * order[i..=j].iter().filter(|&&k| labels[k] == 1).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Average precision (area under the precision-recall curve, as scikit-learn's
/// `average_precision_score`: precision at each distinct score, weighted by the recall gained).
/// `None` without positives or when the lengths disagree.
#[allow(clippy::indexing_slicing)] // `order` is a permutation of the score indices and `i <= j < len`.
pub fn average_precision(scores: &[f64], labels: &[u8]) -> Option<f64> {
    if scores.len() != labels.len() {
        return None;
    }
    let positives = labels.iter().filter(|&&l| l == 1).count();
    if positives == 0 {
        return None;
    }
    let mut order = ascending(scores);
    order.reverse();
    let (mut true_pos, mut seen, mut ap) = (0usize, 0usize, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let gained = order[i..=j].iter().filter(|&&k| labels[k] == 1).count();
        true_pos += gained;
        seen += j - i + 1;
        ap += (gained as f64 / positives as f64) * (true_pos as f64 / seen as f64);
        i = j + 1;
    }
    Some(ap)
}

#[allow(clippy::indexing_slicing)] // `a` and `b` are indices of `scores` (0..len).
fn ascending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_ranking_is_perfect_should_score_one() {
        let scores = [0.1, 0.2, 0.9, 0.8];
        let labels = [0, 0, 1, 1];
        assert_eq!(roc_auc(&scores, &labels), Some(1.0));
        assert_eq!(average_precision(&scores, &labels), Some(1.0));
    }

    #[test]
    fn when_compared_with_sklearn_examples_should_agree() {
        // sklearn docs: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        let scores = [0.1, 0.4, 0.35, 0.8];
        let labels = [0, 0, 1, 1];
        assert_eq!(roc_auc(&scores, &labels), Some(0.75));
        // sklearn docs: average_precision_score(same) == 0.8333...
        let ap = average_precision(&scores, &labels).unwrap();
        assert!((ap - 0.833_333_333_333_333_4).abs() < 1e-12);
    }

    #[test]
    fn when_scores_tie_should_count_half() {
        assert_eq!(roc_auc(&[0.5, 0.5], &[0, 1]), Some(0.5));
        assert_eq!(
            roc_auc(&[1.0, 1.0, 1.0, 0.0], &[1, 0, 0, 0]),
            Some(2.0 / 3.0)
        );
    }

    #[test]
    fn when_one_class_missing_should_be_undefined() {
        assert_eq!(roc_auc(&[0.1, 0.2], &[0, 0]), None);
        assert_eq!(average_precision(&[0.1, 0.2], &[0, 0]), None);
        assert_eq!(roc_auc(&[0.1], &[0, 1]), None);
    }
}
