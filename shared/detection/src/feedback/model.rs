//! Labelled rows and the fitted feedback layer that re-ranks a detector's scores with them.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::params::{FeedbackParams, MAX_LABELS};
use crate::detector::Detector;
use crate::error::{ArtifactError, DetectionError, InputError};
use crate::sampling::sample_rows;

/// Rows an analyst labelled, features in the model's order: what feedback learns from.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRows {
    x: Array2<f64>,
    anomaly: Vec<bool>,
}

impl LabelledRows {
    /// Labelled rows: `x` holds one row per label, `anomaly[i]` says whether row `i` is one;
    /// at most [`MAX_LABELS`] rows of finite values.
    pub fn new(x: Array2<f64>, anomaly: Vec<bool>) -> Result<Self, DetectionError> {
        if x.nrows() != anomaly.len() {
            return Err(DetectionError::param(
                "labels",
                format!("{} rows for {} labels", x.nrows(), anomaly.len()),
            ));
        }
        if anomaly.len() > MAX_LABELS {
            return Err(DetectionError::param(
                "labels",
                format!("at most {MAX_LABELS} labelled rows"),
            ));
        }
        if let Some(row) = x
            .rows()
            .into_iter()
            .position(|r| r.iter().any(|v| !v.is_finite()))
        {
            return Err(InputError::NotFinite {
                row: row + 1,
                column: "labels".into(),
            }
            .into());
        }
        Ok(Self { x, anomaly })
    }

    /// How many rows are labelled.
    pub fn len(&self) -> usize {
        self.anomaly.len()
    }

    /// Whether no row is labelled.
    pub fn is_empty(&self) -> bool {
        self.anomaly.is_empty()
    }
}

/// A fitted feedback layer: the labelled rows in standardized units with their kernel widths,
/// and the unit of the detector's scores that the weights are counted in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    center: Vec<f64>,
    scale: Vec<f64>,
    /// Labelled rows, standardized, row after row.
    #[serde(
        deserialize_with = "crate::serde_bounded::at_most::<_, _, { MAX_LABELS * crate::model::MAX_FEATURES }>"
    )]
    anchors: Vec<f64>,
    #[serde(deserialize_with = "crate::serde_bounded::at_most::<_, _, MAX_LABELS>")]
    anomaly: Vec<bool>,
    #[serde(deserialize_with = "crate::serde_bounded::at_most::<_, _, MAX_LABELS>")]
    width: Vec<f64>,
    /// The spread of the detector's training scores from their median to their 99th
    /// percentile: a label moves scores by at most its weight times this.
    unit: f64,
    anomaly_weight: f64,
    normal_weight: f64,
}

impl Feedback {
    /// Fits the layer for `detector` (fitted on `x`) from `labels`: standardization, kernel
    /// widths and the rank table come from a seeded sample of `x`.
    pub fn fit(
        params: &FeedbackParams,
        detector: &impl Detector,
        x: ArrayView2<'_, f64>,
        labels: &LabelledRows,
    ) -> Result<Self, DetectionError> {
        params.check()?;
        if labels.x.ncols() != x.ncols() {
            return Err(InputError::RaggedRow {
                row: 1,
                found: labels.x.ncols(),
                expected: x.ncols(),
            }
            .into());
        }
        let sample = sample_rows(x, params.reference_rows, params.seed);
        let (center, scale) = robust_scale(sample.view());
        let reference = standardize(sample.view(), &center, &scale);
        let anchors = standardize(labels.x.view(), &center, &scale);
        let k = params.neighbours.min(reference.nrows().saturating_sub(1));
        let width = anchors
            .rows()
            .into_iter()
            .zip(&labels.anomaly)
            .map(|(a, &anomaly)| {
                // A label reaches no further than halfway to the nearest label saying otherwise.
                let opposite = anchors
                    .rows()
                    .into_iter()
                    .zip(&labels.anomaly)
                    .filter(|(_, &other)| other != anomaly)
                    .map(|(b, _)| distance(a, b))
                    .fold(f64::INFINITY, f64::min);
                kernel_width(a, reference.view(), k)
                    .min(opposite / 2.0)
                    .max(1e-6)
            })
            .collect();
        let mut scores = detector.calibration_scores(sample.view()).to_vec();
        scores.sort_by(f64::total_cmp);
        let unit = score_unit(&scores);
        Ok(Self {
            center,
            scale,
            anchors: anchors.into_iter().collect(),
            anomaly: labels.anomaly.clone(),
            width,
            unit,
            anomaly_weight: params.anomaly_weight,
            normal_weight: params.normal_weight,
        })
    }

    /// How many labelled rows the layer learned from.
    pub fn labels(&self) -> usize {
        self.anomaly.len()
    }

    /// The re-ranked scores of rows `x` whose detector scores are `base`.
    pub fn adjust(&self, base: &Array1<f64>, x: ArrayView2<'_, f64>) -> Array1<f64> {
        let d = self.center.len();
        let mut z = vec![0.0; d];
        Array1::from_iter(base.iter().zip(x.rows()).map(|(&score, row)| {
            for ((z, v), (c, s)) in z
                .iter_mut()
                .zip(row)
                .zip(self.center.iter().zip(&self.scale))
            {
                *z = (v - c) / s;
            }
            let (mut near_anomaly, mut near_normal) = (0.0f64, 0.0f64);
            for ((anchor, &anomaly), &width) in self
                .anchors
                .chunks_exact(d.max(1))
                .zip(&self.anomaly)
                .zip(&self.width)
            {
                let d2: f64 = anchor.iter().zip(&z).map(|(a, b)| (a - b) * (a - b)).sum();
                let k = (-0.5 * d2 / (width * width)).exp();
                if anomaly {
                    near_anomaly = near_anomaly.max(k);
                } else {
                    near_normal = near_normal.max(k);
                }
            }
            score
                + self.unit
                    * (self.anomaly_weight * near_anomaly - self.normal_weight * near_normal)
        }))
    }

    /// Seconds of work per scored row: one distance per labelled row.
    pub fn seconds_per_row(&self) -> f64 {
        seconds_per_row(self.labels(), self.center.len())
    }

    /// Checks what scoring relies on, for layers decoded from untrusted bytes.
    pub fn validate(&self, n_features: usize) -> Result<(), ArtifactError> {
        let invalid = |what: &str| Err(ArtifactError::Invalid(format!("feedback: {what}")));
        if self.center.len() != n_features || self.scale.len() != n_features {
            return invalid("scales disagree with the features");
        }
        if self.anchors.len() != self.anomaly.len() * n_features
            || self.width.len() != self.anomaly.len()
        {
            return invalid("labelled rows disagree with their widths or features");
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if !finite(&self.center) || !finite(&self.anchors) {
            return invalid("values are not finite");
        }
        if self
            .scale
            .iter()
            .chain(&self.width)
            .any(|s| !(s.is_finite() && *s > 0.0))
        {
            return invalid("scales are not positive");
        }
        if !(self.unit.is_finite() && self.unit > 0.0) {
            return invalid("score unit is not positive");
        }
        if ![self.anomaly_weight, self.normal_weight]
            .iter()
            .all(|w| (0.0..=1.0).contains(w))
        {
            return invalid("weights are not in [0, 1]");
        }
        Ok(())
    }

    /// Bytes the layer takes in memory.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + 8 * (self.center.len() + self.scale.len() + self.anchors.len() + self.width.len())
            + self.anomaly.len()
    }
}

/// Seconds per scored row against `labels` labelled rows of `features` values (a subtraction,
/// a multiply-add per value and an exponential per label), measured on the bench machine.
pub(crate) fn seconds_per_row(labels: usize, features: usize) -> f64 {
    labels as f64 * (features as f64 * 1.5e-9 + 20e-9) + features as f64 * 5e-9
}

/// Per-feature median and spread (IQR / 1.349, else the standard deviation, else 1) of `x`.
fn robust_scale(x: ArrayView2<'_, f64>) -> (Vec<f64>, Vec<f64>) {
    x.columns()
        .into_iter()
        .map(|column| {
            let mut v = column.to_vec();
            v.sort_by(f64::total_cmp);
            let at = |q: f64| {
                v.get(((v.len().saturating_sub(1)) as f64 * q).round() as usize)
                    .copied()
                    .unwrap_or(0.0)
            };
            let median = at(0.5);
            let iqr = (at(0.75) - at(0.25)) / 1.349;
            let std = column.std(0.0);
            let spread = if iqr > 1e-12 {
                iqr
            } else if std > 1e-12 {
                std
            } else {
                1.0
            };
            (median, spread)
        })
        .unzip()
}

fn standardize(x: ArrayView2<'_, f64>, center: &[f64], scale: &[f64]) -> Array2<f64> {
    let mut z = x.to_owned();
    for mut row in z.rows_mut() {
        for ((v, c), s) in row.iter_mut().zip(center).zip(scale) {
            *v = (*v - c) / s;
        }
    }
    z
}

/// The Euclidean distance between two rows.
fn distance(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The distance from `anchor` to its `k`-th nearest reference row (0 is the nearest); the
/// nearest positive distance when that one is 0, and 1 when every row is at the anchor.
fn kernel_width(anchor: ArrayView1<'_, f64>, reference: ArrayView2<'_, f64>, k: usize) -> f64 {
    let mut distances: Vec<f64> = reference
        .rows()
        .into_iter()
        .map(|r| distance(anchor, r))
        .collect();
    if distances.is_empty() {
        return 1.0;
    }
    let k = k.min(distances.len() - 1);
    let (_, kth, _) = distances.select_nth_unstable_by(k, f64::total_cmp);
    let kth = *kth;
    if kth > 1e-12 {
        return kth;
    }
    distances
        .iter()
        .copied()
        .filter(|d| *d > 1e-12)
        .fold(f64::INFINITY, f64::min)
        .clamp(1e-6, 1.0)
}

/// The spread of sorted `scores` from their median to their 99th percentile; the whole range
/// when that is 0, and 1 when every score is equal.
fn score_unit(sorted: &[f64]) -> f64 {
    let at = |q: f64| {
        sorted
            .get((sorted.len().saturating_sub(1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    [at(0.99) - at(0.5), at(1.0) - at(0.0)]
        .into_iter()
        .find(|spread| spread.is_finite() && *spread > 1e-12)
        .unwrap_or(1.0)
}
