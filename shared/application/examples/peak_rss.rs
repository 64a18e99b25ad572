//! Measures the peak resident memory (`VmHWM` of `/proc/self/status`) of training and of scoring
//! under the worst request each algorithm's HTTP path accepts, to check that every accepted
//! request fits the function's memory (the `TrainMemorySize` and `DetectMemorySize` defaults of
//! `template.yaml`). The budgets only bound the fit's and the scoring's own allocations
//! (half the memory); this tool measures everything the function would hold: the request body,
//! its parsed JSON tree, the table, the fit or scoring, the artifact and the answer.
//!
//! For each algorithm (the ensemble too) and each request shape an HTTP body can carry
//! (at most `NOMALY_MAX_ROWS` = 100,000 rows and 6 MiB of JSON), the parameters start at their
//! maxima and are lowered as the train budget's own refusals say (`OverBudget` names the
//! parameter and the largest value that fits) until `check_fit` accepts. Each accepted request
//! is then fitted in a fresh child process (this example run again with arguments, so each
//! `VmHWM` is its own), which writes the model's artifact; a second child loads it, as the
//! detect function does, and scores as many rows as a body and `check_score` accept, with
//! `explain` and `top_k` 3. Run in release mode, alone on the machine:
//!
//! ```text
//! cargo run --release -p application --example peak_rss [-- [plan] [FILTER]]
//! ```
//!
//! `plan` only prints the accepted requests and their estimates, without fitting anything;
//! `FILTER` keeps the requests whose `algorithm/variant shape` (as the plan prints the shape
//! asked for, e.g. `ecod/max 100000x30 1B`) contains it. The whole run takes about nine
//! minutes on two cores; requests that would not fit in that time are listed as skipped.
#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use application::error::MAX_ANSWER_BYTES;
use application::workflows::budgets::WorkBudgets;
use application::workflows::detect::{
    answer_bytes, Anomaly, DetectRequest, DetectResponse, DetectSummary,
};
use application::workflows::train::TrainRequest;
use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::detectors::{ecod, gmm, hbos, isolation_forest, knn};
use detection::model::{Model, ModelSpec};
use detection::tabular::table_from_json_value;
use detection::threshold::Severity;
use detection::{artifact, DetectionError, Limits, WorkBudget, WorkEstimate};
use serde_json::{json, Value};

/// `TrainMemorySize` and `TrainEventsMemorySize` defaults in `template.yaml`, MB.
const TRAIN_MB: u64 = 2048;
/// `DetectMemorySize` and `DetectEventsMemorySize` defaults in `template.yaml`, MB.
const DETECT_MB: u64 = 1024;
/// `TrainTimeout` and `DetectTimeout` defaults: API functions, cut by API Gateway at 29 s.
const API_TIMEOUT_SECS: u64 = 29;
/// `NOMALY_MAX_ROWS` default.
const MAX_ROWS: usize = 100_000;
/// `NOMALY_MAX_BODY_BYTES` default (6 MiB, Lambda's synchronous payload limit).
const MAX_BODY: usize = 6 * 1024 * 1024;
/// Bytes kept for the body's fields other than the rows (name, parameters, column names are
/// counted apart).
const BODY_PREFIX: usize = 8192;
/// Features listed per anomaly.
const TOP_K: usize = 3;
/// Wall seconds the whole run may take; measurements that would not fit are skipped.
const RUN_SECONDS: f64 = 500.0;
/// Wall seconds one child may take: the API functions time out at 29 s, so a child still working
/// at 30 s is stopped, and its `VmHWM` until then is reported.
const CHILD_SECONDS: u64 = 30;

/// A request shape: rows, columns, and how values are written (`compact`: one digit each,
/// the most values a body can carry; otherwise `-d.ddddd`, about 9 bytes with its comma).
#[derive(Debug, Clone, Copy)]
struct Shape {
    rows: usize,
    cols: usize,
    compact: bool,
}

impl Shape {
    fn label(&self) -> String {
        format!(
            "{}x{}{}",
            self.rows,
            self.cols,
            if self.compact { " 1B" } else { "" }
        )
    }
}

/// Most bytes a body of `rows x cols` takes (values at their widest).
fn body_bound(rows: usize, cols: usize, compact: bool) -> usize {
    let width = if compact { 1 } else { 8 };
    let names: usize = (0..cols).map(|j| name(j).len() + 3).sum();
    BODY_PREFIX + names + rows * (cols * (width + 1) + 2)
}

/// Most columns a body of `rows` rows can carry.
fn max_cols(rows: usize, compact: bool) -> usize {
    let mut cols = 1;
    while body_bound(rows, cols + 1, compact) <= MAX_BODY {
        cols += 1;
    }
    cols
}

/// Most rows a body of `cols` columns can carry (and a request may send).
fn max_rows(cols: usize, compact: bool) -> usize {
    let per_row = cols * (if compact { 2 } else { 9 }) + 2;
    let names: usize = (0..cols).map(|j| name(j).len() + 3).sum();
    (MAX_BODY.saturating_sub(BODY_PREFIX + names) / per_row).min(MAX_ROWS)
}

fn name(j: usize) -> String {
    format!("f{j}")
}

/// The shapes tried for every algorithm: from long and narrow to short and wide, each as wide
/// as a 6 MiB body allows, and the most values a body can carry (one digit each).
fn shapes() -> Vec<Shape> {
    let mut shapes: Vec<Shape> = [100_000, 10_000, 1_000, 100]
        .into_iter()
        .map(|rows| Shape {
            rows,
            cols: max_cols(rows, false),
            compact: false,
        })
        .collect();
    shapes.push(Shape {
        rows: MAX_ROWS,
        cols: max_cols(MAX_ROWS, true),
        compact: true,
    });
    shapes
}

/// The API train budget (2,048 MB, 29 s) and the API detect budget (1,024 MB, 29 s).
fn train_budget() -> WorkBudget {
    WorkBudgets::for_function(TRAIN_MB, API_TIMEOUT_SECS).request
}

fn detect_budget() -> WorkBudget {
    WorkBudgets::for_function(DETECT_MB, API_TIMEOUT_SECS).request
}

fn limits() -> Limits {
    Limits {
        max_rows: MAX_ROWS,
        ..Limits::default()
    }
}

/// Every sizing parameter of an algorithm at its maximum.
fn max_params(algorithm: Algorithm) -> Value {
    match algorithm {
        Algorithm::IsolationForest => json!({
            "n_estimators": isolation_forest::MAX_ESTIMATORS,
            "max_samples": isolation_forest::MAX_SAMPLES_LIMIT,
            "max_features": isolation_forest::MAX_FEATURES_FRACTION,
        }),
        Algorithm::Ecod => json!({"n_quantiles": ecod::MAX_QUANTILES}),
        Algorithm::Hbos => json!({"n_bins": hbos::MAX_BINS}),
        // No parameter sizes PCA's fit; all the variance keeps the most components.
        Algorithm::Pca => json!({"variance": 1.0}),
        Algorithm::Knn => json!({"k": knn::MAX_K, "max_samples": knn::MAX_SAMPLES}),
        // Default tolerance: EM may converge before max_iter (time only, not memory).
        Algorithm::Gmm => json!({
            "n_components": gmm::MAX_COMPONENTS,
            "max_samples": gmm::MAX_SAMPLES,
            "max_iter": gmm::MAX_ITER,
        }),
        Algorithm::Ensemble => {
            let kinds: Vec<Algorithm> = Algorithm::ALL
                .into_iter()
                .filter(|a| *a != Algorithm::Ensemble)
                .collect();
            let members: Vec<Value> = (0..detection::detectors::ensemble::MAX_MEMBERS)
                .map(|i| {
                    let a = kinds[i % kinds.len()];
                    json!({"algorithm": a.as_str(), "params": max_params(a)})
                })
                .collect();
            json!({
                "members": members,
                "calibration_rows": detection::detectors::ensemble::MAX_CALIBRATION_ROWS,
            })
        }
    }
}

/// The starting parameters tried for an algorithm: every size at its maximum; for the mixture
/// also one EM step (so the budget's time goes to components and columns, the memory); for the
/// ensemble the most members, mixed and then all of one algorithm.
fn starts(algorithm: Algorithm) -> Vec<(String, Value)> {
    let mut starts = vec![("max".to_owned(), max_params(algorithm))];
    let one_step = || {
        let mut p = max_params(Algorithm::Gmm);
        p["max_iter"] = json!(1);
        p
    };
    match algorithm {
        Algorithm::Gmm => starts.push(("max_iter=1".to_owned(), one_step())),
        Algorithm::Ensemble => {
            for member in Algorithm::ALL {
                if member == Algorithm::Ensemble {
                    continue;
                }
                let params = if member == Algorithm::Gmm {
                    one_step()
                } else {
                    max_params(member)
                };
                let members: Vec<Value> = (0..detection::detectors::ensemble::MAX_MEMBERS)
                    .map(|_| json!({"algorithm": member.as_str(), "params": params}))
                    .collect();
                starts.push((
                    format!("16x{}", member.as_str()),
                    json!({
                        "members": members,
                        "calibration_rows": detection::detectors::ensemble::MAX_CALIBRATION_ROWS,
                    }),
                ));
            }
        }
        _ => {}
    }
    starts
}

/// Sets the size `parameter` (`n_bins`, or `members[3].max_samples` in an ensemble).
fn set_param(params: &mut Value, parameter: &str, value: usize) {
    if let Some(rest) = parameter.strip_prefix("members[") {
        let (index, field) = rest.split_once("].").expect("members[i].name");
        let index: usize = index.parse().expect("member index");
        let member = &mut params["members"][index]["params"];
        if member.is_null() {
            *member = json!({});
        }
        member[field] = json!(value);
    } else {
        params[parameter] = json!(value);
    }
}

/// A request the train budget accepts, lowered from the maxima by the budget's own refusals.
struct Accepted {
    algorithm: Algorithm,
    /// Which starting parameters (`max`, or an ensemble's members).
    variant: String,
    shape: Shape,
    params: Value,
    estimate: WorkEstimate,
    /// The refusals followed, as `parameter=limit`.
    lowered: Vec<String>,
}

fn accept(
    algorithm: Algorithm,
    variant: &str,
    start: &Value,
    shape: Shape,
) -> Result<Accepted, String> {
    let mut params = start.clone();
    let mut shape = shape;
    let mut lowered = Vec::new();
    let budget = train_budget();
    for _ in 0..500 {
        let parsed =
            AlgorithmParams::from_json(algorithm, Some(&params)).map_err(|e| e.to_string())?;
        match ModelSpec::new(parsed).check_fit(shape.rows, shape.cols, &budget) {
            Ok(estimate) => {
                return Ok(Accepted {
                    algorithm,
                    variant: variant.to_owned(),
                    shape,
                    params,
                    estimate,
                    lowered,
                })
            }
            Err(DetectionError::OverBudget {
                parameter, limit, ..
            }) => {
                let value: usize = limit.parse().map_err(|_| format!("limit {limit}"))?;
                match parameter.as_str() {
                    "rows" => shape.rows = value,
                    "columns" => shape.cols = value,
                    p => set_param(&mut params, p, value),
                }
                lowered.push(format!("{parameter}={limit}"));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("no accepted request after 500 refusals".into())
}

/// `VmHWM` (peak resident set) of this process, in bytes.
fn vm_hwm() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kb * 1024
}

/// A seeded linear congruential generator: uniform in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// About a standard normal (sum of four uniforms, scaled).
    fn gaussian(&mut self) -> f64 {
        (self.next() + self.next() + self.next() + self.next() - 2.0) * 1.732
    }
}

/// The `data` object of a body, `{"columns": [...], "rows": [[...], ...]}`: four clusters of
/// Gaussian-ish values (the same clusters whatever the seed, so scored rows look like the
/// training rows), every 997th row pushed far out on one column.
fn write_data(out: &mut String, columns: &[String], rows: usize, compact: bool, seed: u64) {
    let cols = columns.len();
    let mut centers_rng = Lcg(7);
    let centers: Vec<f64> = (0..4 * cols)
        .map(|_| centers_rng.next() * 4.0 - 2.0)
        .collect();
    let mut rng = Lcg(seed);
    out.push_str("{\"columns\":[");
    for (j, c) in columns.iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{c}\"");
    }
    out.push_str("],\"rows\":[");
    for i in 0..rows {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for j in 0..cols {
            if j > 0 {
                out.push(',');
            }
            let mut v = centers[(i % 4) * cols + j] + rng.gaussian();
            if i % 997 == 0 && j == i % cols {
                v += 7.0;
            }
            if compact {
                let digit = (v + 5.0).round().clamp(0.0, 9.0) as u8;
                out.push(char::from(b'0' + digit));
            } else {
                let _ = write!(out, "{:.5}", v.clamp(-9.99999, 9.99999));
            }
        }
        out.push(']');
    }
    out.push_str("]}");
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Child: builds the train body, parses it as the train function does, checks the fit against
/// the train budget, fits, encodes the artifact and writes it to `path`.
fn child_fit(algorithm: Algorithm, shape: Shape, params: &str, path: &Path) {
    let hwm_start = vm_hwm();
    let started = Instant::now();
    let columns: Vec<String> = (0..shape.cols).map(name).collect();
    let mut body = format!(
        "{{\"name\":\"worst\",\"algorithm\":\"{}\",\"params\":{params},\"data\":",
        algorithm.as_str()
    );
    body.reserve(body_bound(shape.rows, shape.cols, shape.compact));
    write_data(&mut body, &columns, shape.rows, shape.compact, 1);
    body.push('}');
    let body = body.into_bytes();
    assert!(body.len() <= MAX_BODY, "body of {} bytes", body.len());
    // Held throughout, as the handler holds the body and the workflow the request.
    let request: TrainRequest = serde_json::from_slice(&body).expect("train body");
    let parsed =
        AlgorithmParams::from_json(request.algorithm, request.params.as_ref()).expect("params");
    let table = table_from_json_value(request.data.as_ref().expect("inline data"), &limits())
        .expect("table");
    let hwm_parsed = vm_hwm();
    let spec = ModelSpec::new(parsed).threshold(request.threshold_rule().expect("threshold"));
    let estimate = spec
        .check_fit(table.n_rows(), table.columns().len(), &train_budget())
        .expect("accepted fit");
    let fit_started = Instant::now();
    let model = Model::fit(&spec, &table).expect("fit");
    let fit_secs = fit_started.elapsed().as_secs_f64();
    // The train workflow encodes before storing; an artifact over the payload limit is refused
    // there, after the fit, and nothing is stored (so nothing can be scored).
    let (artifact_bytes, refused) = match artifact::encode(&model) {
        Ok(bytes) => {
            std::fs::write(path, &bytes).expect("write artifact");
            (bytes.len(), "-".to_owned())
        }
        Err(e) => (0, format!("{e:?}").replace(' ', "")),
    };
    let hwm_end = vm_hwm();
    println!(
        "RESULT rows={} cols={} body_bytes={} est_peak={} est_model={} est_secs={:.2} heap={} \
         artifact={artifact_bytes} artifact_refused={refused} table={} hwm_start={hwm_start} \
         hwm_parsed={hwm_parsed} hwm={hwm_end} work_secs={fit_secs:.2} wall_secs={:.2}",
        table.n_rows(),
        table.columns().len(),
        body.len(),
        estimate.peak_bytes,
        estimate.model_bytes,
        estimate.seconds,
        model.heap_bytes(),
        table.n_rows() * table.columns().len() * 8,
        started.elapsed().as_secs_f64(),
    );
    drop((request, table, model, body));
}

/// Child: loads the artifact at `path` as the detect function does, lowers the rows until the
/// detect budget accepts scoring them with explanations, builds and parses the detect body,
/// scores, explains the flagged rows and serializes the answer.
fn child_score(path: &Path, compact: bool) {
    let hwm_start = vm_hwm();
    let started = Instant::now();
    let model = {
        let bytes = std::fs::read(path).expect("read artifact");
        artifact::decode(&bytes).expect("decode artifact")
    };
    let hwm_model = vm_hwm();
    let columns = model.features().to_vec();
    let budget = detect_budget();
    let mut rows = max_rows(columns.len(), compact);
    let mut lowered = Vec::new();
    let estimate = loop {
        match model.check_score(rows, true, &budget) {
            Ok(estimate) => break estimate,
            Err(DetectionError::OverBudget {
                parameter, limit, ..
            }) if parameter == "rows" => {
                rows = limit.parse().expect("rows limit");
                lowered.push(format!("rows={limit}"));
            }
            Err(e) => panic!("scoring refused: {e}"),
        }
    };
    let mut body = String::with_capacity(body_bound(rows, columns.len(), compact));
    body.push_str("{\"model\":\"worst\",\"explain\":true,\"top_k\":3,\"data\":");
    write_data(&mut body, &columns, rows, compact, 2);
    body.push('}');
    let body = body.into_bytes();
    assert!(body.len() <= MAX_BODY, "body of {} bytes", body.len());
    let request: DetectRequest = serde_json::from_slice(&body).expect("detect body");
    let table = table_from_json_value(&request.data, &limits()).expect("table");
    let hwm_parsed = vm_hwm();
    // What `DetectWorkflow::detect_table` does once the model is loaded (columns in order).
    let work_started = Instant::now();
    let x = table.values();
    let scores = model.score(x.view()).expect("score");
    let flagged = scores.iter().filter(|s| model.assess(**s).0 == 1).count();
    let longest = columns.iter().map(String::len).max().unwrap_or(0);
    let answer_bound = answer_bytes(rows, flagged, TOP_K.min(columns.len()), longest);
    let mut labels = Vec::with_capacity(scores.len());
    let mut anomalies = Vec::new();
    for (row, &score) in scores.iter().enumerate() {
        let (label, _, severity) = model.assess(score);
        labels.push(label);
        if label == 1 {
            anomalies.push(Anomaly {
                row,
                score,
                severity: severity.unwrap_or(Severity::Low),
                top_features: model.explain(x.row(row), TOP_K).expect("explain"),
            });
        }
    }
    let response = DetectResponse {
        job_id: "job".into(),
        model: "worst".into(),
        version: 1,
        threshold: model.calibration().threshold(),
        scores: scores.to_vec(),
        labels,
        summary: DetectSummary {
            rows,
            anomalies: anomalies.len(),
            duration_ms: 0.0,
        },
        anomalies,
    };
    let answer = serde_json::to_vec(&response).expect("answer");
    let work_secs = work_started.elapsed().as_secs_f64();
    let hwm_end = vm_hwm();
    println!(
        "RESULT rows={rows} cols={} body_bytes={} est_peak={} est_model=0 est_secs={:.2} heap={} \
         artifact=0 table={} hwm_start={hwm_start} hwm_model={hwm_model} hwm_parsed={hwm_parsed} \
         hwm={hwm_end} work_secs={work_secs:.2} wall_secs={:.2} flagged={flagged} \
         answer_bytes={} answer_refused={} lowered={}",
        columns.len(),
        body.len(),
        estimate.peak_bytes,
        estimate.seconds,
        model.heap_bytes(),
        rows * columns.len() * 8,
        started.elapsed().as_secs_f64(),
        answer.len(),
        answer_bound > MAX_ANSWER_BYTES,
        if lowered.is_empty() {
            "-".to_owned()
        } else {
            lowered.join(",")
        },
    );
    drop((request, table, response, answer, body));
}

/// Runs this example with `args` and returns its `RESULT` fields, or what went wrong.
fn run_child(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(CHILD_SECONDS);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            // Lambda would have stopped it at the API's timeout: what it held until then.
            let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()));
            let hwm_kb = status.ok().and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            });
            let _ = child.kill();
            let _ = child.wait();
            return Ok(BTreeMap::from([
                ("stopped".to_owned(), CHILD_SECONDS.to_string()),
                (
                    "hwm".to_owned(),
                    hwm_kb.map_or("NaN".to_owned(), |kb| (kb * 1024).to_string()),
                ),
            ]));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if !status.success() {
        return Err(format!(
            "{status}: {}",
            err.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
        ));
    }
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("no result: {out}"))?;
    Ok(line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// The sizing parameters of a request, compactly (an ensemble's per run of equal members).
fn params_text(params: &Value) -> String {
    let text = |p: &Value| {
        p.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let Some(members) = params.get("members").and_then(Value::as_array) else {
        return text(params);
    };
    let mut runs: Vec<(usize, String)> = Vec::new();
    for m in members {
        let one = format!(
            "{}({})",
            m["algorithm"].as_str().unwrap_or("?"),
            text(&m["params"])
        );
        match runs.last_mut() {
            Some((n, last)) if *last == one => *n += 1,
            _ => runs.push((1, one)),
        }
    }
    let listed: Vec<String> = runs
        .into_iter()
        .map(|(n, m)| if n > 1 { format!("{n}x {m}") } else { m })
        .collect();
    format!(
        "calibration_rows={} members=[{}]",
        params["calibration_rows"],
        listed.join(" ")
    )
}

fn field(result: &BTreeMap<String, String>, key: &str) -> f64 {
    result
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn text(result: &BTreeMap<String, String>, key: &str) -> String {
    result.get(key).cloned().unwrap_or_else(|| "?".into())
}

/// One accepted request, fitted and then scored.
struct Measured<'a> {
    id: usize,
    request: &'a Accepted,
    fit: Result<BTreeMap<String, String>, String>,
    score: Result<BTreeMap<String, String>, String>,
}

fn print_table(measured: &[Measured<'_>]) {
    println!(
        "\n{:>3} {:<22} {:<5} {:>12} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>5} {:>6} {:>6} {:>6} note",
        "id",
        "algorithm/variant",
        "phase",
        "shape",
        "est_pk",
        "est_mdl",
        "heap",
        "table",
        "est+tbl",
        "hwm_in",
        "VmHWM",
        "fn_MB",
        "ratio",
        "work_s",
        "est_s"
    );
    for m in measured {
        let name = format!("{}/{}", m.request.algorithm.as_str(), m.request.variant);
        for (phase, result, function_mb) in
            [("fit", &m.fit, TRAIN_MB), ("score", &m.score, DETECT_MB)]
        {
            match result {
                Ok(r) if r.contains_key("stopped") => {
                    let hwm = field(r, "hwm") / (1024.0 * 1024.0);
                    println!(
                        "{:>3} {name:<22} {phase:<5} {:>12} {:>61.1} {function_mb:>5} {:>6.3} {:>6} {:>6.2} \
                         stopped at {CHILD_SECONDS} s (VmHWM so far)",
                        m.id,
                        m.request.shape.label(),
                        hwm,
                        hwm / function_mb as f64,
                        ">30",
                        m.request.estimate.seconds,
                    );
                }
                Ok(r) => {
                    let mb = |k: &str| field(r, k) / (1024.0 * 1024.0);
                    let note = if text(r, "artifact_refused") != "-"
                        && r.contains_key("artifact_refused")
                    {
                        format!("artifact refused: {}", text(r, "artifact_refused"))
                    } else if text(r, "answer_refused") == "true" {
                        "answer over MAX_ANSWER_BYTES".to_owned()
                    } else {
                        String::new()
                    };
                    println!(
                        "{:>3} {:<22} {:<5} {:>12} {:>8.1} {:>8.1} {:>8.1} {:>7.1} {:>8.1} {:>8.1} {:>8.1} {:>5} {:>6.3} {:>6.2} {:>6.2} {note}",
                        m.id,
                        name,
                        phase,
                        format!("{}x{}", text(r, "rows"), text(r, "cols")),
                        mb("est_peak"),
                        mb("est_model"),
                        mb("heap"),
                        mb("table"),
                        mb("est_peak") + mb("table"),
                        mb("hwm_parsed"),
                        mb("hwm"),
                        function_mb,
                        mb("hwm") / function_mb as f64,
                        field(r, "work_secs"),
                        field(r, "est_secs"),
                    );
                }
                Err(e) => println!("{:>3} {name:<22} {phase:<5} failed: {e}", m.id),
            }
        }
    }
}

/// The order to measure in: each algorithm's costliest request (estimated peak plus the table)
/// first, then each algorithm's request with the most values (one-digit values, 100,000 rows:
/// the largest parsed JSON tree), then each variant's costliest, then the rest, costliest first.
fn order(accepted: &[Accepted]) -> Vec<usize> {
    let cost = |a: &Accepted| a.estimate.peak_bytes + (a.shape.rows * a.shape.cols * 8) as u64;
    let mut by_cost: Vec<usize> = (0..accepted.len()).collect();
    by_cost.sort_by_key(|&i| std::cmp::Reverse(cost(&accepted[i])));
    let mut order: Vec<usize> = Vec::new();
    let mut pass = |key: &dyn Fn(&Accepted) -> Option<String>| {
        let mut seen = Vec::new();
        for &i in &by_cost {
            if let Some(k) = key(&accepted[i]) {
                if !seen.contains(&k) {
                    seen.push(k);
                    if !order.contains(&i) {
                        order.push(i);
                    }
                }
            }
        }
    };
    pass(&|a| Some(a.algorithm.as_str().to_owned()));
    pass(&|a| {
        (a.shape.compact && a.shape.rows == MAX_ROWS).then(|| a.algorithm.as_str().to_owned())
    });
    pass(&|a| Some(format!("{}/{}", a.algorithm.as_str(), a.variant)));
    for &i in &by_cost {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order
}

fn parent(plan_only: bool, filter: Option<&str>) {
    let planned = Instant::now();
    let (train, detect) = (train_budget(), detect_budget());
    println!(
        "train budget (API, {TRAIN_MB} MB, {API_TIMEOUT_SECS} s): {:.1} MiB, {:.2} s; detect budget \
         (API, {DETECT_MB} MB): {:.1} MiB, {:.2} s; serde_json::Value is {} bytes",
        mib(train.memory_bytes),
        train.seconds,
        mib(detect.memory_bytes),
        detect.seconds,
        std::mem::size_of::<Value>()
    );
    let mut accepted: Vec<Accepted> = Vec::new();
    for algorithm in Algorithm::ALL {
        for (variant, start) in starts(algorithm) {
            for shape in shapes() {
                let label = format!("{}/{variant} {}", algorithm.as_str(), shape.label());
                if filter.is_some_and(|f| !label.contains(f)) {
                    continue;
                }
                match accept(algorithm, &variant, &start, shape) {
                    Ok(a) => {
                        println!(
                            "plan {:<28} {:>12} -> {:>12}: est peak {:>6.1} MiB, model {:>6.1} MiB, \
                             {:>5.2} s; {}; lowered: {}",
                            format!("{}/{variant}", algorithm.as_str()),
                            shape.label(),
                            a.shape.label(),
                            mib(a.estimate.peak_bytes),
                            mib(a.estimate.model_bytes),
                            a.estimate.seconds,
                            params_text(&a.params),
                            lowered_text(&a.lowered),
                        );
                        accepted.push(a);
                    }
                    Err(e) => println!(
                        "plan {:<28} {:>12}: refused: {e}",
                        format!("{}/{variant}", algorithm.as_str()),
                        shape.label()
                    ),
                }
            }
        }
    }
    println!(
        "planned {} requests in {:.0} s",
        accepted.len(),
        planned.elapsed().as_secs_f64()
    );
    if plan_only {
        return;
    }
    let dir = PathBuf::from("/tmp/h-rss-target/peak_rss");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    let run_started = Instant::now();
    let mut measured: Vec<Measured<'_>> = Vec::new();
    let mut skipped = Vec::new();
    for i in order(&accepted) {
        let a = &accepted[i];
        let label = format!("{}/{} {}", a.algorithm.as_str(), a.variant, a.shape.label());
        let child = CHILD_SECONDS as f64;
        let expected = (a.estimate.seconds * 1.5).min(child) + detect.seconds.min(child) + 3.0;
        if run_started.elapsed().as_secs_f64() + expected > RUN_SECONDS {
            skipped.push(label);
            continue;
        }
        let path = dir.join(format!("{i}.nmly"));
        let fit = run_child(&[
            "fit".into(),
            a.algorithm.as_str().into(),
            a.shape.rows.to_string(),
            a.shape.cols.to_string(),
            a.shape.compact.to_string(),
            a.params.to_string(),
            path.display().to_string(),
        ]);
        let stored = match &fit {
            Ok(r) if r.contains_key("stopped") => Err("not fitted in time".to_owned()),
            Ok(r) if text(r, "artifact_refused") != "-" => {
                Err("no artifact stored (refused as too large)".to_owned())
            }
            Ok(_) => Ok(()),
            Err(_) => Err("not fitted".to_owned()),
        };
        let score = match stored {
            Ok(()) => run_child(&[
                "score".into(),
                path.display().to_string(),
                a.shape.compact.to_string(),
            ]),
            Err(why) => Err(why),
        };
        let _ = std::fs::remove_file(&path);
        eprintln!(
            "[{:>4.0} s] {label}: fit {}, score {}",
            run_started.elapsed().as_secs_f64(),
            outcome(&fit),
            outcome(&score),
        );
        measured.push(Measured {
            id: measured.len() + 1,
            request: a,
            fit,
            score,
        });
    }
    measured.sort_by_key(|m| (m.request.algorithm, m.request.variant.clone(), m.id));
    print_table(&measured);
    println!("\nrequests (id: train request; score request):");
    for m in &measured {
        let a = m.request;
        println!(
            "{:>3}: {}/{} {}: {}; lowered: {}",
            m.id,
            a.algorithm.as_str(),
            a.variant,
            a.shape.label(),
            params_text(&a.params),
            lowered_text(&a.lowered),
        );
        if let Some(f) = m.fit.as_ref().ok().filter(|f| !f.contains_key("stopped")) {
            println!(
                "     fit: body {:.2} MiB, artifact {:.1} MiB, VmHWM at start {:.1} MiB, after \
                 parse {:.1} MiB, child wall {:.1} s",
                field(f, "body_bytes") / 1048576.0,
                field(f, "artifact") / 1048576.0,
                field(f, "hwm_start") / 1048576.0,
                field(f, "hwm_parsed") / 1048576.0,
                field(f, "wall_secs"),
            );
        }
        if let Some(s) = m.score.as_ref().ok().filter(|s| !s.contains_key("stopped")) {
            println!(
                "     score: {} rows (refusals: {}), body {:.2} MiB, flagged {}, answer {:.2} MiB{}, \
                 VmHWM after loading the model {:.1} MiB, after parse {:.1} MiB, child wall {:.1} s",
                text(s, "rows"),
                text(s, "lowered"),
                field(s, "body_bytes") / 1048576.0,
                text(s, "flagged"),
                field(s, "answer_bytes") / 1048576.0,
                if text(s, "answer_refused") == "true" {
                    " (over MAX_ANSWER_BYTES: the workflow refuses it before explaining)"
                } else {
                    ""
                },
                field(s, "hwm_model") / 1048576.0,
                field(s, "hwm_parsed") / 1048576.0,
                field(s, "wall_secs"),
            );
        }
    }
    if !skipped.is_empty() {
        println!("\nskipped for time: {}", skipped.join("; "));
    }
    println!("measured in {:.0} s", run_started.elapsed().as_secs_f64());
}

fn outcome(result: &Result<BTreeMap<String, String>, String>) -> String {
    match result {
        Ok(r) if r.contains_key("stopped") => format!("stopped at {CHILD_SECONDS} s"),
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("failed ({e})"),
    }
}

fn lowered_text(lowered: &[String]) -> String {
    if lowered.is_empty() {
        "-".to_owned()
    } else {
        lowered.join(" ")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fit") => {
            let algorithm: Algorithm = args[1].parse().expect("algorithm");
            let shape = Shape {
                rows: args[2].parse().expect("rows"),
                cols: args[3].parse().expect("cols"),
                compact: args[4] == "true",
            };
            child_fit(algorithm, shape, &args[5], Path::new(&args[6]));
        }
        Some("score") => child_score(Path::new(&args[1]), args[2] == "true"),
        Some("plan") => parent(true, args.get(1).map(String::as_str)),
        filter => parent(false, filter),
    }
}
