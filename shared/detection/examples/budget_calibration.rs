//! Measures what fitting and scoring cost on this machine, beside what the budget estimates
//! say, one JSON object per case: the figures the time constants in `detectors/*/cost.rs` were
//! calibrated from. Run in release mode, alone on the machine:
//!
//! ```text
//! cargo run --release -p detection --example budget_calibration [-- FILTER]
//! ```
//!
//! Peak memory is counted by a global allocator (bytes allocated beyond those live when the
//! step starts), so it is exact for this process.
#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::model::{Model, ModelSpec};
use detection::Table;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The system allocator, counting live and peak bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`, returning its result, seconds and peak bytes allocated beyond those live before.
fn measure<T>(f: impl FnOnce() -> T) -> (T, f64, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let t = Instant::now();
    let out = f();
    let secs = t.elapsed().as_secs_f64();
    (out, secs, PEAK.load(Ordering::Relaxed) - before)
}

/// `rows x cols` values: a few Gaussian-ish clusters, so mixtures and PCA have structure.
fn data(rows: usize, cols: usize) -> Table {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let centers: Vec<f64> = (0..4 * cols).map(|_| rng.gen_range(-5.0..5.0)).collect();
    let x = Array2::from_shape_fn((rows, cols), |(i, j)| {
        let c = (i * 7919) % 4;
        centers[c * cols + j] + rng.gen_range(-1.0..1.0) + rng.gen_range(-1.0..1.0)
    });
    Table::new((0..cols).map(|j| format!("f{j}")).collect(), x).unwrap()
}

fn case(algorithm: Algorithm, params: serde_json::Value, rows: usize, cols: usize) {
    let spec = ModelSpec::new(AlgorithmParams::from_json(algorithm, Some(&params)).unwrap());
    let table = data(rows, cols);
    let estimate = spec.estimate_fit(rows, cols);
    let (model, fit_s, fit_peak) = measure(|| Model::fit(&spec, &table).unwrap());
    let score_rows = rows.min(100_000);
    let x = table
        .values()
        .slice(ndarray::s![..score_rows, ..])
        .to_owned();
    let score_estimate = model.estimate_score(score_rows, false);
    let (_, score_s, score_peak) = measure(|| model.score(x.view()).unwrap());
    let explain_rows = score_rows.min(1_000);
    let explain_estimate = model.estimate_score(explain_rows, true);
    let (_, explain_s, explain_peak) = measure(|| {
        let scores = model
            .score(x.slice(ndarray::s![..explain_rows, ..]))
            .unwrap();
        for (i, _) in scores.iter().enumerate() {
            model.explain(x.row(i), 3).unwrap();
        }
    });
    println!(
        "{}",
        serde_json::json!({
            "algorithm": algorithm.as_str(), "params": params, "rows": rows, "columns": cols,
            "fit": {
                "seconds": fit_s, "estimated_seconds": estimate.seconds,
                "peak_mb": fit_peak as f64 / 1e6, "estimated_peak_mb": estimate.peak_bytes as f64 / 1e6,
                "model_mb": model.heap_bytes() as f64 / 1e6,
                "estimated_model_mb": estimate.model_bytes as f64 / 1e6,
            },
            "score": {
                "rows": score_rows, "seconds": score_s, "estimated_seconds": score_estimate.seconds,
                "peak_mb": (score_peak + model.heap_bytes()) as f64 / 1e6,
                "estimated_peak_mb": score_estimate.peak_bytes as f64 / 1e6,
            },
            "explain": {
                "rows": explain_rows, "seconds": explain_s,
                "estimated_seconds": explain_estimate.seconds,
                "peak_mb": (explain_peak + model.heap_bytes()) as f64 / 1e6,
                "estimated_peak_mb": explain_estimate.peak_bytes as f64 / 1e6,
            },
        })
    );
}

fn main() {
    use serde_json::json;
    let filter = std::env::args().nth(1).unwrap_or_default();
    let cases: Vec<(Algorithm, serde_json::Value, usize, usize)> = vec![
        (Algorithm::IsolationForest, json!({}), 100_000, 50),
        (
            Algorithm::IsolationForest,
            json!({"n_estimators": 1000}),
            100_000,
            50,
        ),
        (
            Algorithm::IsolationForest,
            json!({"max_samples": 4096}),
            20_000,
            10,
        ),
        (
            Algorithm::IsolationForest,
            json!({"n_estimators": 300, "max_samples": 4096}),
            100_000,
            50,
        ),
        (Algorithm::IsolationForest, json!({}), 2_000, 1_555),
        (Algorithm::Ecod, json!({}), 100_000, 50),
        (Algorithm::Ecod, json!({"n_quantiles": 4096}), 200_000, 10),
        (Algorithm::Ecod, json!({}), 5_000, 1_555),
        (Algorithm::Hbos, json!({}), 100_000, 50),
        (Algorithm::Hbos, json!({"n_bins": 1000}), 100_000, 50),
        (Algorithm::Hbos, json!({"n_bins": 100}), 2_000, 1_555),
        (Algorithm::Pca, json!({}), 100_000, 50),
        (Algorithm::Pca, json!({}), 20_000, 200),
        (Algorithm::Pca, json!({}), 3_000, 500),
        (Algorithm::Pca, json!({}), 2_000, 1_000),
        (Algorithm::Pca, json!({}), 10_000, 300),
        (Algorithm::Pca, json!({}), 200_000, 20),
        (Algorithm::Knn, json!({}), 100_000, 50),
        (Algorithm::Knn, json!({"max_samples": 20_000}), 50_000, 50),
        (Algorithm::Knn, json!({}), 100_000, 3),
        (
            Algorithm::Knn,
            json!({"k": 100, "max_samples": 20_000}),
            100_000,
            3,
        ),
        (Algorithm::Gmm, json!({}), 100_000, 50),
        (
            Algorithm::Gmm,
            json!({"n_components": 16, "max_samples": 20_000}),
            20_000,
            10,
        ),
        (Algorithm::Gmm, json!({"n_components": 8}), 100_000, 20),
        // EM that never converges: the worst case the estimate covers.
        (
            Algorithm::Gmm,
            json!({"tolerance": 1e-300, "max_iter": 50}),
            100_000,
            50,
        ),
        (
            Algorithm::Gmm,
            json!({"n_components": 8, "tolerance": 1e-300, "max_iter": 50}),
            100_000,
            20,
        ),
        (
            Algorithm::Gmm,
            json!({"n_components": 16, "tolerance": 1e-300, "max_iter": 20}),
            20_000,
            10,
        ),
        (
            Algorithm::Gmm,
            json!({"n_components": 64, "max_samples": 50_000}),
            50_000,
            1,
        ),
        (Algorithm::Ensemble, json!({}), 100_000, 50),
    ];
    for (algorithm, params, rows, cols) in cases {
        let name = format!("{algorithm} {params} {rows}x{cols}");
        if name.contains(&filter) {
            case(algorithm, params, rows, cols);
        }
    }
    let series_cases = [
        (json!({}), 1, 10_000),
        (json!({"detector": "rcf"}), 1, 10_000),
        (json!({"number_of_trees": 100}), 4, 5_000),
        (
            json!({"number_of_trees": 100, "shingle_size": 8}),
            16,
            1_000,
        ),
        (json!({"detector": "rcf", "shingle_size": 32}), 4, 2_000),
        (json!({"seasonality": 1_000, "shingle_size": 4}), 8, 3_000),
    ];
    for (params, values, points) in series_cases {
        let name = format!("series {params} {values}x{points}");
        if name.contains(&filter) {
            series_case(params, values, points);
        }
    }
}

/// One series detector judging and learning `points` points of `values` values, beside
/// [`detection::series::SeriesSettings::estimate`].
fn series_case(params: serde_json::Value, values: usize, points: usize) {
    use detection::series::{SeriesDetector, SeriesParams};
    let params_given = params.clone();
    let settings = serde_json::from_value::<SeriesParams>(params)
        .unwrap()
        .check(values)
        .unwrap();
    let estimate = settings.estimate(points);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let rows: Vec<Vec<f64>> = (0..points)
        .map(|i| {
            (0..values)
                .map(|v| (i as f64 / 24.0 + v as f64).sin() * 10.0 + rng.gen_range(-1.0..1.0))
                .collect()
        })
        .collect();
    let (_, seconds, peak) = measure(|| {
        let mut detector = SeriesDetector::new(settings).unwrap();
        for (i, row) in rows.iter().enumerate() {
            detector.observe(i as i64 * 60_000, row).unwrap();
        }
        detector
    });
    println!(
        "{}",
        serde_json::json!({
            "series": params_given, "values": values, "points": points,
            "seconds": seconds, "estimated_seconds": estimate.seconds,
            "peak_mb": peak as f64 / 1e6, "estimated_peak_mb": estimate.peak_bytes as f64 / 1e6,
        })
    );
}
