//! The series workflow over real stores (SQLite + directory, and S3 + DynamoDB on moto):
//! appends resumed from stored state score exactly as one uninterrupted run, concurrent appends
//! lose no point, bad points are refused whole with a clear 4xx, and a tenant sees only its own
//! series.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use application::cache::SeriesCache;
use application::domain::SeriesRecord;
use application::domain::Tenant;
use application::ports::{SeriesPage, SeriesScanPage, SeriesStore, StoreError, Stores};
use application::workflows::series::{NamedPoint, SeriesWorkflow};
use async_trait::async_trait;
use detection::series::{SeriesDetector, SeriesOrdering, SeriesParams};
use fixtures::aws_env::{aws_stores, AwsEnv};
use fixtures::local_env::{local_stores, LocalEnv};
use fixtures::tenant;
use store_local::{LocalObjectStore, LocalStores};

/// Five minutes, in milliseconds.
const STEP_MS: i64 = 300_000;

/// A store under test, kept alive with whatever it runs on.
struct Env {
    stores: Stores,
    _local: Option<LocalEnv>,
    _moto: Option<AwsEnv>,
}

impl Env {
    fn local() -> Self {
        let env = LocalEnv::new();
        let vault = Arc::new(LocalObjectStore::open(env.data_dir().join("vault")).unwrap());
        let stores = local_stores(LocalStores::open(env.data_dir()).unwrap(), vault);
        Self {
            stores,
            _local: Some(env),
            _moto: None,
        }
    }

    async fn moto() -> Option<Self> {
        let env = AwsEnv::on_moto().await?;
        let stores = aws_stores(env.stores.clone(), None);
        Some(Self {
            stores,
            _local: None,
            _moto: Some(env),
        })
    }

    /// A workflow with its own cache (`cache_bytes` 0 keeps nothing warm: every append loads the
    /// stored state, as a fresh container does).
    fn workflow(&self, cache_bytes: usize) -> SeriesWorkflow {
        SeriesWorkflow::new(
            self.stores.objects.clone(),
            self.stores.admin.clone(),
            self.stores.series.clone(),
            Arc::new(SeriesCache::new(cache_bytes)),
        )
    }
}

fn value(i: usize) -> f64 {
    50.0 + 20.0 * ((i % 48) as f64 / 48.0 * std::f64::consts::TAU).sin() + (i % 7) as f64
}

fn points(range: std::ops::Range<usize>) -> Vec<NamedPoint> {
    range
        .map(|i| NamedPoint {
            timestamp: i as i64 * STEP_MS,
            values: BTreeMap::from([("cpu".to_string(), value(i))]),
            entity: None,
        })
        .collect()
}

async fn resumed_appends_score_as_one_run(env: &Env) {
    let params = SeriesParams::default();
    let mut uninterrupted = SeriesDetector::new(params.clone().check(1).unwrap()).unwrap();
    let expected: Vec<_> = (0..900)
        .map(|i| {
            uninterrupted
                .observe(i as i64 * STEP_MS, &[value(i)])
                .unwrap()
        })
        .collect();
    let mut got = Vec::new();
    for chunk in [0..250, 250..251, 251..600, 600..900] {
        // A fresh workflow and an empty cache each time: every append resumes from the store.
        let outcome = env
            .workflow(0)
            .append(&tenant(), "cpu", Some(params.clone()), &points(chunk))
            .await
            .unwrap();
        got.extend(outcome.verdicts);
    }
    assert_eq!(got, expected);
    let record = env.workflow(0).describe(&tenant(), "cpu").await.unwrap();
    assert_eq!((record.sequence, record.points_seen), (4, 900));
    assert_eq!(record.last_timestamp, Some(899 * STEP_MS));
    let states = env.stores.admin.list_keys("series/").await.unwrap();
    assert_eq!(
        states,
        std::slice::from_ref(&record.state_key),
        "superseded states are deleted"
    );
}

#[tokio::test]
async fn when_appends_resume_from_the_local_store_should_score_exactly_as_one_run() {
    resumed_appends_score_as_one_run(&Env::local()).await;
}

#[tokio::test]
async fn when_appends_resume_from_moto_should_score_exactly_as_one_run() {
    let Some(env) = Env::moto().await else {
        return;
    };
    resumed_appends_score_as_one_run(&env).await;
}

async fn concurrent_appends_lose_nothing(env: &Env) {
    let params = SeriesParams {
        ordering: SeriesOrdering::Arrival,
        ..SeriesParams::default()
    };
    let writers = 8;
    let per_writer = 25;
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            // Each writer is its own container: its own workflow and cache.
            let workflow = env.workflow(64 << 20);
            let params = params.clone();
            tokio::spawn(async move {
                let from = writer * per_writer;
                workflow
                    .append(
                        &tenant(),
                        "cpu",
                        Some(params),
                        &points(from..from + per_writer),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut sequences = Vec::new();
    for task in tasks {
        sequences.push(task.await.unwrap().record.sequence);
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=writers as u64).collect::<Vec<_>>());
    let record = env.workflow(0).describe(&tenant(), "cpu").await.unwrap();
    assert_eq!(record.points_seen, (writers * per_writer) as u64);
    let states = env.stores.admin.list_keys("series/").await.unwrap();
    assert_eq!(
        states,
        [record.state_key],
        "losers' and superseded states are deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_appends_race_on_the_local_store_should_lose_no_point() {
    concurrent_appends_lose_nothing(&Env::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_appends_race_on_moto_should_lose_no_point() {
    let Some(env) = Env::moto().await else {
        return;
    };
    concurrent_appends_lose_nothing(&env).await;
}

/// The real series store of a test, answering one read with a record captured earlier: the
/// view of a writer that read the record just before another writer superseded it.
struct StaleOnce {
    inner: Arc<dyn SeriesStore>,
    stale: Mutex<Option<SeriesRecord>>,
}

#[async_trait]
impl SeriesStore for StaleOnce {
    async fn series(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> Result<Option<SeriesRecord>, StoreError> {
        if let Some(stale) = self.stale.lock().unwrap().take() {
            return Ok(Some(stale));
        }
        self.inner.series(tenant, name).await
    }

    async fn put_series(&self, tenant: &Tenant, record: &SeriesRecord) -> Result<bool, StoreError> {
        self.inner.put_series(tenant, record).await
    }

    async fn list_series(
        &self,
        tenant: &Tenant,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<SeriesPage, StoreError> {
        self.inner.list_series(tenant, limit, cursor).await
    }

    async fn scan_series(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SeriesScanPage, StoreError> {
        self.inner.scan_series(cursor, limit).await
    }

    async fn restore_series(
        &self,
        tenant: &Tenant,
        record: &SeriesRecord,
    ) -> Result<bool, StoreError> {
        self.inner.restore_series(tenant, record).await
    }
}

async fn superseded_state_is_read_again(env: &Env) {
    let first = env.workflow(0);
    let stale = first
        .append(&tenant(), "cpu", None, &points(0..10))
        .await
        .unwrap()
        .record;
    env.workflow(0)
        .append(&tenant(), "cpu", None, &points(10..20))
        .await
        .unwrap();
    assert!(
        env.stores
            .objects
            .get(&stale.state_key)
            .await
            .unwrap()
            .is_none(),
        "the superseded state is gone"
    );
    let late = SeriesWorkflow::new(
        env.stores.objects.clone(),
        env.stores.admin.clone(),
        Arc::new(StaleOnce {
            inner: env.stores.series.clone(),
            stale: Mutex::new(Some(stale)),
        }),
        Arc::new(SeriesCache::new(0)),
    );
    let outcome = late
        .append(&tenant(), "cpu", None, &points(20..30))
        .await
        .unwrap();
    assert_eq!(
        (outcome.record.sequence, outcome.record.points_seen),
        (3, 30)
    );
}

#[tokio::test]
async fn when_a_writer_reads_a_record_just_superseded_on_the_local_store_should_start_over() {
    superseded_state_is_read_again(&Env::local()).await;
}

#[tokio::test]
async fn when_a_writer_reads_a_record_just_superseded_on_moto_should_start_over() {
    let Some(env) = Env::moto().await else {
        return;
    };
    superseded_state_is_read_again(&env).await;
}

/// The local store with the default tenant's series `cpu` of 10 points, and a warm workflow.
async fn local_cpu_series() -> (Env, SeriesWorkflow) {
    let env = Env::local();
    let workflow = env.workflow(64 << 20);
    workflow
        .append(&tenant(), "cpu", None, &points(0..10))
        .await
        .unwrap();
    (env, workflow)
}

#[tokio::test]
async fn when_points_are_bad_should_refuse_the_whole_request_with_a_clear_4xx() {
    let (_env, workflow) = local_cpu_series().await;
    let mut nan = points(10..20);
    nan[3].values.insert("cpu".into(), f64::NAN);
    let mut long_entity = points(10..20);
    long_entity[2].entity = Some("e".repeat(257));
    let mut renamed = points(10..20);
    renamed[5].values = BTreeMap::from([("memory".to_string(), 1.0)]);
    let cases = [
        (nan, 422, "invalid_input", "point 3"),
        (points(5..8), 409, "out_of_order", "point 0"),
        (renamed, 422, "invalid_input", "point 5"),
        (long_entity, 400, "bad_request", "point 2"),
        (Vec::new(), 400, "bad_request", "no points"),
        (points(10..10_011), 413, "too_large", "10001 points"),
    ];
    for (batch, status, code, names) in cases {
        let error = workflow
            .append(&tenant(), "cpu", None, &batch)
            .await
            .unwrap_err();
        assert_eq!((error.status(), error.code()), (status, code), "{error}");
        assert!(error.to_string().contains(names), "{error}");
    }
    let other = SeriesParams {
        shingle_size: 4,
        ..SeriesParams::default()
    };
    let error = workflow
        .append(&tenant(), "cpu", Some(other), &points(10..12))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "conflict");
    let record = workflow.describe(&tenant(), "cpu").await.unwrap();
    assert_eq!(
        (record.sequence, record.points_seen),
        (1, 10),
        "nothing was learned"
    );
    let bad_name = workflow
        .append(&tenant(), "../cpu", None, &points(0..1))
        .await
        .unwrap_err();
    assert_eq!(bad_name.status(), 400);
    let bad_params = SeriesParams {
        number_of_trees: Some(0),
        ..SeriesParams::default()
    };
    let error = workflow
        .append(&tenant(), "fresh", Some(bad_params), &points(0..1))
        .await
        .unwrap_err();
    assert_eq!((error.status(), error.code()), (422, "invalid_parameter"));
    assert_eq!(
        workflow
            .describe(&tenant(), "fresh")
            .await
            .unwrap_err()
            .status(),
        404
    );
}

#[tokio::test]
async fn when_another_tenant_asks_should_not_find_the_series() {
    let (_env, workflow) = local_cpu_series().await;
    let stranger = Tenant::parse("globex").unwrap();
    let error = workflow.describe(&stranger, "cpu").await.unwrap_err();
    assert_eq!((error.status(), error.code()), (404, "series_not_found"));
    let created = workflow
        .append(&stranger, "cpu", None, &points(0..3))
        .await
        .unwrap();
    assert!(created.created, "the stranger's series is its own");
    let mine = workflow.describe(&tenant(), "cpu").await.unwrap();
    assert_eq!(mine.points_seen, 10);
}

#[tokio::test]
async fn when_series_are_listed_should_page_by_name_and_refuse_a_forged_cursor() {
    let (_env, workflow) = local_cpu_series().await;
    for name in ["disk", "memory", "net"] {
        workflow
            .append(&tenant(), name, None, &points(0..3))
            .await
            .unwrap();
    }
    let first = workflow.list(&tenant(), 2, None).await.unwrap();
    let names: Vec<&str> = first.series.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["cpu", "disk"]);
    let cursor = first.next_cursor.unwrap();
    let second = workflow.list(&tenant(), 2, Some(&cursor)).await.unwrap();
    let names: Vec<&str> = second.series.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["memory", "net"]);
    assert_eq!(second.next_cursor, None);
    for (limit, cursor) in [(2, Some("../x")), (0, None), (101, None)] {
        let error = workflow.list(&tenant(), limit, cursor).await.unwrap_err();
        assert_eq!(error.status(), 400, "{limit} {cursor:?}: {error}");
    }
    let stranger = Tenant::parse("globex").unwrap();
    assert!(workflow
        .list(&stranger, 10, None)
        .await
        .unwrap()
        .series
        .is_empty());
}

#[tokio::test]
async fn when_a_whole_series_is_detected_should_match_appending_it_and_store_nothing() {
    let env = Env::local();
    let workflow = env.workflow(0);
    let whole = workflow
        .detect(SeriesParams::default(), &points(0..400))
        .unwrap();
    assert_eq!(whole.values, ["cpu"]);
    assert!(workflow.describe(&tenant(), "cpu").await.is_err());
    let appended = workflow
        .append(&tenant(), "cpu", None, &points(0..400))
        .await
        .unwrap();
    let whole_verdicts: Vec<_> = whole.results.into_iter().map(|r| r.verdict).collect();
    assert_eq!(whole_verdicts, appended.verdicts);
    let spiked: Vec<NamedPoint> = points(0..400)
        .into_iter()
        .enumerate()
        .map(|(i, mut point)| {
            if i == 350 {
                point.values.insert("cpu".into(), 400.0);
            }
            point
        })
        .collect();
    let detected = workflow.detect(SeriesParams::default(), &spiked).unwrap();
    assert_eq!(detected.anomalies, 1, "{:?}", detected.results);
    assert!(
        detected.results[350].verdict.is_anomaly,
        "{:?}",
        detected.results[350]
    );
}

#[tokio::test]
async fn when_a_request_would_pass_the_work_budget_or_the_answer_limit_should_refuse_it_before_any_work(
) {
    let env = Env::local();
    let tight = env.workflow(0).with_budget(detection::WorkBudget {
        seconds: 0.05,
        memory_bytes: 1 << 30,
    });
    let wide = SeriesParams {
        number_of_trees: Some(100),
        shingle_size: 8,
        ..SeriesParams::default()
    };
    let error = tight
        .append(&tenant(), "wide", Some(wide.clone()), &points(0..5_000))
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (422, "over_budget"),
        "{error}"
    );
    assert!(error.to_string().contains("send at most"), "{error}");
    assert!(
        tight.describe(&tenant(), "wide").await.is_err(),
        "nothing was created"
    );
    let error = tight.detect(wide, &points(0..5_000)).unwrap_err();
    assert_eq!(error.code(), "over_budget", "{error}");
    let sixteen: Vec<NamedPoint> = (0..10_000)
        .map(|i| NamedPoint {
            timestamp: i as i64 * STEP_MS,
            values: (0..16)
                .map(|v| (format!("v{v:02}"), value(i + v)))
                .collect(),
            entity: None,
        })
        .collect();
    let error = env
        .workflow(0)
        .detect(SeriesParams::default(), &sixteen)
        .unwrap_err();
    assert_eq!(
        (error.status(), error.code()),
        (413, "answer_too_large"),
        "{error}"
    );
    assert!(error.to_string().contains("send at most"), "{error}");
}

#[tokio::test]
async fn when_a_delivery_is_redelivered_should_learn_each_point_once_and_reject_misfits_alone() {
    let env = Env::local();
    let workflow = env.workflow(0);
    let mut delivery = points(0..50);
    delivery[20].values = BTreeMap::from([("memory".to_string(), 1.0)]);
    let first = workflow
        .append_delivered(&tenant(), "cpu", &delivery)
        .await
        .unwrap();
    assert_eq!(first.learned.len(), 49);
    assert_eq!(first.rejected.len(), 1);
    assert_eq!(first.rejected[0].0, 20);
    assert_eq!(first.rejected[0].1.code(), "invalid_input");
    assert!(first.duplicates.is_empty());
    let again = workflow
        .append_delivered(&tenant(), "cpu", &delivery)
        .await
        .unwrap();
    assert!(again.outcome.is_none(), "a redelivery writes nothing");
    assert_eq!(again.duplicates.len(), 50, "the misfit too: {again:?}");
    let mut overlapping = points(40..60);
    overlapping.swap(15, 16);
    let next = workflow
        .append_delivered(&tenant(), "cpu", &overlapping)
        .await
        .unwrap();
    assert_eq!(next.learned.len(), 9, "{next:?}");
    assert_eq!(
        next.duplicates.len(),
        11,
        "10 redelivered, 1 behind the point before it"
    );
    let record = workflow.describe(&tenant(), "cpu").await.unwrap();
    assert_eq!((record.points_seen, record.sequence), (58, 2));
}
