//! The fitted KnnDistance and how it is fitted.

use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::cost::score_cost;
use super::params::KnnDistanceParams;
use crate::budget::ScoreCost;
use crate::detector::Detector;
use crate::detectors::params::Checked;
use crate::detectors::shared::{
    check_bounded, check_training_data, finite_contribution, finite_score, sample_rows,
    scale_bounded,
};
use crate::error::{ArtifactError, DetectionError};
use crate::preprocess::{check_len, RobustDeviation, StandardScaler};

pub(super) const ALGORITHM: &str = "knn";

/// Elements of the query × sample distance block the brute-force search fills at a time
/// (2 MiB of f64: stays in cache).
pub(super) const BLOCK_ELEMS: usize = 1 << 18;

/// Above this many features a k-d tree prunes too little: brute force wins (measured with a
/// 2000-row sample, measured in release on 20,000 rows of 4 to 64 features).
pub(super) const TREE_MAX_FEATURES: usize = 5;

/// Below this many query rows building the tree costs more than it saves.
pub(super) const TREE_MIN_ROWS: usize = 100;

crate::detectors::params::params_of!(KnnDistanceParams => KnnDistance, seeded by seed);

impl Checked<KnnDistanceParams> {
    /// Fits the detector on training rows (at least 2, finite).
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<KnnDistance, DetectionError> {
        check_training_data(ALGORITHM, x)?;
        let scaler = StandardScaler::fit(x);
        let deviation = RobustDeviation::fit(x);
        let sample = scale_bounded(&scaler, sample_rows(x, self.max_samples, self.seed).view());
        let k = self.k.min(sample.nrows() - 1);
        Ok(KnnDistance {
            scaler,
            deviation,
            k,
            sample,
        })
    }
}

/// Fitted k-NN distance detector: scaler, robust deviation for explanations, and the sampled
/// training rows (already scaled) that queries are compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnDistance {
    pub(super) scaler: StandardScaler,
    pub(super) deviation: RobustDeviation,
    /// Neighbour rank of the score; always less than the number of sample rows.
    pub(super) k: usize,
    /// Scaled training rows (at most `max_samples`, in training order).
    pub(super) sample: Array2<f64>,
}

/// How neighbours are found for one batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Search {
    /// A linfa-nn k-d tree built over the sample.
    Tree,
    /// Blocked distance matrix through a matrix product.
    Brute,
}

impl KnnDistance {
    /// Default hyperparameters, to adjust with the builder methods and then fit.
    pub fn params() -> KnnDistanceParams {
        KnnDistanceParams::default()
    }

    /// Neighbour rank of the score (after clamping to the sample size).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of training rows kept as neighbours.
    pub fn sample_size(&self) -> usize {
        self.sample.nrows()
    }

    /// Scores scaled rows `z`; with `leave_self_out`, a zero-distance neighbour (the row's own
    /// copy in the sample) is skipped once.
    pub(super) fn kth_distances(&self, z: &Array2<f64>, leave_self_out: bool) -> Array1<f64> {
        let search = if z.ncols() <= TREE_MAX_FEATURES && z.nrows() >= TREE_MIN_ROWS {
            Search::Tree
        } else {
            Search::Brute
        };
        self.kth_distances_with(z, leave_self_out, search)
    }

    pub(super) fn kth_distances_with(
        &self,
        z: &Array2<f64>,
        leave_self_out: bool,
        search: Search,
    ) -> Array1<f64> {
        let wanted = if leave_self_out {
            self.k.saturating_add(1)
        } else {
            self.k
        };
        let tree = match search {
            Search::Tree => self.tree_search(z, wanted, leave_self_out),
            Search::Brute => None,
        };
        tree.unwrap_or_else(|| self.brute_search(z, wanted, leave_self_out))
            .mapv_into(finite_score)
    }

    /// k-NN through a linfa-nn k-d tree; `None` if the index cannot be built or queried.
    pub(super) fn tree_search(
        &self,
        z: &Array2<f64>,
        wanted: usize,
        leave_self_out: bool,
    ) -> Option<Array1<f64>> {
        let index = CommonNearestNeighbour::KdTree
            .from_batch(&self.sample, L2Dist)
            .ok()?;
        let mut exact = Vec::with_capacity(wanted);
        let mut out = Array1::zeros(z.nrows());
        for (q, o) in z.rows().into_iter().zip(out.iter_mut()) {
            let found = index.k_nearest(q, wanted).ok()?;
            exact.clear();
            exact.extend(found.iter().map(|(p, _)| squared_distance(q, p.view())));
            *o = self.pick(q, &mut exact, leave_self_out);
        }
        Some(out)
    }

    /// k-NN by brute force: candidates ranked by `|s|² - 2 q·s` (the squared distance less
    /// the row's constant `|q|²`), a block of rows at a time through one matrix product; the
    /// `wanted` best candidates of each row then get their distances computed exactly.
    pub(super) fn brute_search(
        &self,
        z: &Array2<f64>,
        wanted: usize,
        leave_self_out: bool,
    ) -> Array1<f64> {
        let (n, m) = (z.nrows(), self.sample.nrows());
        let mut out = Array1::zeros(n);
        if n == 0 || m == 0 {
            return out;
        }
        let sample_sq = self.sample.map_axis(Axis(1), |r| r.dot(&r));
        let block = (BLOCK_ELEMS / m).clamp(1, n);
        let mut gram = Array2::zeros((block, m));
        let mut best: Vec<(f64, usize)> = Vec::with_capacity(wanted + 1);
        let mut exact = Vec::with_capacity(wanted);
        for (zb, ob) in z
            .axis_chunks_iter(Axis(0), block)
            .zip(out.axis_chunks_iter_mut(Axis(0), block))
        {
            let mut g = gram.slice_mut(s![..zb.nrows(), ..]);
            // g = |s|² - 2 q·s, row by row.
            g.assign(&sample_sq);
            general_mat_mul(-2.0, &zb, &self.sample.t(), 1.0, &mut g);
            for ((q, grow), o) in zb.rows().into_iter().zip(g.rows()).zip(ob) {
                best.clear();
                let mut worst = f64::INFINITY;
                for (j, &d) in grow.iter().enumerate() {
                    if d < worst {
                        if best.len() == wanted {
                            best.pop();
                        }
                        insert_sorted(&mut best, (d, j));
                        if best.len() == wanted {
                            worst = best.last().map_or(f64::INFINITY, |w| w.0);
                        }
                    }
                }
                exact.clear();
                exact.extend(
                    best.iter()
                        .map(|&(_, j)| squared_distance(q, self.sample.row(j))),
                );
                *o = self.pick(q, &mut exact, leave_self_out);
            }
        }
        out
    }

    /// The score from the candidates' exact squared distances: the k-th smallest, or the one
    /// after it when the smallest is the query's own copy and that copy is to be left out.
    pub(super) fn pick(
        &self,
        q: ArrayView1<'_, f64>,
        exact: &mut [f64],
        leave_self_out: bool,
    ) -> f64 {
        exact.sort_unstable_by(f64::total_cmp);
        let own_copy = leave_self_out
            && exact
                .first()
                .is_some_and(|&d0| d0 <= 1e-18 * (1.0 + q.dot(&q)));
        let rank = if own_copy {
            self.k
        } else {
            self.k.saturating_sub(1)
        };
        exact
            .get(rank)
            .or(exact.last())
            .map_or(0.0, |d2| d2.max(0.0).sqrt())
    }

    /// Scaled rows of `x`, or `None` if it has the wrong number of columns.
    pub(super) fn scaled(&self, x: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
        (x.ncols() == self.n_features()).then(|| scale_bounded(&self.scaler, x))
    }
}

/// Inserts into a vector sorted by distance, keeping it sorted.
pub(super) fn insert_sorted(best: &mut Vec<(f64, usize)>, item: (f64, usize)) {
    let at = best.partition_point(|b| b.0 <= item.0);
    best.insert(at, item);
}

/// Squared Euclidean distance of two equally long rows.
pub(super) fn squared_distance(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl Detector for KnnDistance {
    fn n_features(&self) -> usize {
        self.scaler.n_features()
    }

    /// Distance to the k-th nearest sampled training row, in scaled space. A matrix with the
    /// wrong number of columns (a caller bug) scores `f64::MAX` for every row.
    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        match self.scaled(x) {
            Some(z) => self.kth_distances(&z, false),
            None => Array1::from_elem(x.nrows(), f64::MAX),
        }
    }

    /// Robust per-feature deviation from the training medians.
    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        if row.len() != self.n_features() {
            return Array1::zeros(self.n_features());
        }
        self.deviation
            .deviations(row)
            .mapv_into(finite_contribution)
    }

    /// Like [`Detector::score`], but a row that is itself in the sample skips its own copy.
    fn calibration_scores(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        match self.scaled(x) {
            Some(z) => self.kth_distances(&z, true),
            None => Array1::from_elem(x.nrows(), f64::MAX),
        }
    }

    fn validate(&self) -> Result<(), ArtifactError> {
        let d = self.n_features();
        if d == 0 {
            return Err(ArtifactError::Invalid("knn model has no features".into()));
        }
        self.scaler.validate(d)?;
        self.deviation.validate(d)?;
        check_len("knn sample", self.sample.ncols(), d)?;
        let m = self.sample.nrows();
        if self.k == 0 || self.k >= m {
            return Err(ArtifactError::Invalid(format!(
                "knn k = {} needs 1 <= k < sample rows ({m})",
                self.k
            )));
        }
        check_bounded("knn sample", self.sample.iter())
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.scaler.heap_bytes()
            + self.deviation.heap_bytes()
            + self.sample.len() * std::mem::size_of::<f64>()
    }

    fn score_cost(&self) -> ScoreCost {
        score_cost(self.k, self.sample.nrows(), self.n_features())
    }
}
