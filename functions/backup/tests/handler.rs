//! The backup handler driven by the `events/` fixtures against a temp-dir local store: the two
//! HTTP routes, the schedule, direct backups and restores (dry run, real, refused), and bad
//! payloads answered as refusals, never as errors.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::Arc;

use application::domain::{JobPolicy, Tenant};
use application::ports::Stores;
use application::workflows::retention::RetentionPolicy;
use backup::handler::HandlerDeps;
use edge::dispatch::{handle, invoke};
use fixtures::local_env::local_stores;
use fixtures::{body, event, fixture, request, tenant};
use lambda_http::{Context, LambdaEvent};
use serde_json::{json, Value};
use store_local::{LocalObjectStore, LocalStores};

fn deps() -> (tempfile::TempDir, HandlerDeps, Stores) {
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(LocalObjectStore::open(dir.path().join("backup-vault")).unwrap());
    let stores = local_stores(LocalStores::open(dir.path()).unwrap(), vault.clone());
    let deps = HandlerDeps::new(
        &stores,
        vault,
        RetentionPolicy::default(),
        JobPolicy::default(),
    );
    (dir, deps, stores)
}

async fn direct(deps: &HandlerDeps, payload: Value) -> Value {
    invoke(deps, LambdaEvent::new(payload, Context::default()))
        .await
        .expect("an answer, not an error")
}

/// Trains one model through the train workflow, so there is something to back up.
async fn train_one(stores: &Stores) {
    let train = application::workflows::train::TrainWorkflow::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
        detection::Limits::default(),
    );
    let rows: Vec<Vec<f64>> = (0..50)
        .map(|i| vec![f64::from(i % 7), f64::from(i % 5)])
        .collect();
    let request = serde_json::from_value(
        json!({"name": "payments", "algorithm": "ecod", "data": {"columns": ["a", "b"], "rows": rows}}),
    )
    .unwrap();
    train.train(&tenant(), request).await.unwrap();
}

#[tokio::test]
async fn when_backup_posted_should_answer_201_and_list_it() {
    let (_dir, deps, stores) = deps();
    train_one(&stores).await;
    let response = handle(&deps, event("backups-create.json")).await.unwrap();
    assert_eq!(response.status(), 201, "{}", body(&response));
    let created = body(&response);
    assert_eq!(created["backup"]["status"], "succeeded");
    assert_eq!(created["backup"]["objects"], 1);
    assert_eq!(
        created["backup"]["items"],
        json!({"models": 1, "versions": 1, "jobs": 1, "keys": 0, "series": 0, "labels": 0})
    );
    assert_eq!(created["pruned"], json!([]));

    let response = handle(&deps, event("backups-list.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    let listed = body(&response);
    assert_eq!(listed["backups"].as_array().unwrap().len(), 1);
    assert_eq!(listed["backups"][0], created["backup"]);

    // The backup is a job too.
    let id = created["backup"]["id"].as_str().unwrap();
    let job = stores
        .jobs
        .get_job(&Tenant::system(), id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::to_value(job.kind).unwrap(), "backup");
    assert!(
        stores.jobs.get_job(&tenant(), id).await.unwrap().is_none(),
        "a tenant sees the system's backup job"
    );
}

#[tokio::test]
async fn when_a_tenant_admin_asks_for_backups_should_be_403_insufficient_scope() {
    let (_dir, deps, _stores) = deps();
    for fixture_name in ["backups-create.json", "backups-list.json"] {
        let mut event = fixture(fixture_name);
        event["requestContext"]["authorizer"]["lambda"] =
            json!({"tenant": "acme", "scopes": "read detect train admin", "credential_id": "k"});
        let response = handle(&deps, request(&event)).await.unwrap();
        assert_eq!(
            response.status(),
            403,
            "{fixture_name}: {}",
            body(&response)
        );
        assert_eq!(body(&response)["error"]["code"], "insufficient_scope");
    }
}

#[tokio::test]
async fn when_scheduled_or_asked_directly_should_back_up() {
    let (_dir, deps, stores) = deps();
    train_one(&stores).await;
    let scheduled = direct(&deps, fixture("schedule-backup.json")).await;
    assert_eq!(scheduled["backup"]["status"], "succeeded", "{scheduled}");
    let direct_run = direct(&deps, fixture("backup-run.json")).await;
    assert_eq!(direct_run["backup"]["status"], "succeeded", "{direct_run}");
    assert_ne!(scheduled["backup"]["id"], direct_run["backup"]["id"]);
}

#[tokio::test]
async fn when_the_sweep_is_invoked_should_report_what_it_failed_and_deleted() {
    let (_dir, deps, stores) = deps();
    train_one(&stores).await;
    let report = direct(&deps, fixture("backup-sweep.json")).await;
    assert_eq!(
        report,
        json!({"jobs_expired": 0, "artifacts_deleted": 0}),
        "{report}"
    );
    let refused = direct(&deps, json!({"action": "sweep", "now": 1})).await;
    assert_eq!(refused["status"], "refused", "{refused}");
}

#[tokio::test]
async fn when_restore_invoked_should_dry_run_then_restore_then_find_nothing_to_do() {
    let (_dir, deps, stores) = deps();
    train_one(&stores).await;
    let created = direct(&deps, fixture("backup-run.json")).await;
    let id = created["backup"]["id"].clone();

    let mut dry = fixture("backup-restore-dry-run.json");
    dry["backup_id"] = id.clone();
    let report = direct(&deps, dry).await;
    assert_eq!(report["status"], "dry_run", "{report}");
    // Nothing is missing from the live store, so nothing would be written.
    assert_eq!(
        report["versions"],
        json!({"written": 0, "unchanged": 1, "kept": 0})
    );

    let mut real = fixture("backup-restore.json");
    real["backup_id"] = id;
    let report = direct(&deps, real).await;
    assert_eq!(report["status"], "restored", "{report}");
    assert_eq!(report["objects"]["unchanged"], 1);
    assert_eq!(report["jobs"]["unchanged"], 1);
}

#[tokio::test]
async fn when_restore_payload_is_bad_or_backup_unknown_should_refuse_with_a_code() {
    let (_dir, deps, _stores) = deps();
    let unknown = direct(&deps, fixture("backup-restore.json")).await;
    assert_eq!(unknown["status"], "refused");
    assert_eq!(unknown["error"]["code"], "backup_not_found", "{unknown}");

    for payload in [
        json!({"action": "restore"}),
        json!({"action": "restore", "backup_id": "x", "colour": 1}),
        json!({"action": "explode"}),
        json!({"action": 7}),
        json!({"action": "backup", "now": true}),
        json!({"hello": "world"}),
    ] {
        let answer = direct(&deps, payload.clone()).await;
        assert_eq!(answer["status"], "refused", "{payload} -> {answer}");
        assert_eq!(
            answer["error"]["code"], "bad_request",
            "{payload} -> {answer}"
        );
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn when_restore_is_attempted_over_http_should_not_be_routed() {
    let (_dir, deps, _stores) = deps();
    let mut request = fixture("backups-create.json");
    request["rawPath"] = json!("/api/v1/backups/restore");
    request["requestContext"]["http"]["path"] = json!("/api/v1/backups/restore");
    let response = handle(&deps, fixtures::request(&request)).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(body(&response)["error"]["code"], "not_found");
}

#[tokio::test]
async fn when_the_time_limit_is_spent_should_answer_continuing_and_continue_on_request_and_on_sweep(
) {
    let (_dir, deps, stores) = deps();
    let deps = deps.with_time_limit(std::time::Duration::ZERO);
    train_one(&stores).await;
    // Every invocation makes one step, then checkpoints.
    let first = direct(&deps, json!({"action": "backup"})).await;
    assert_eq!(first["status"], "continuing", "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    let next = direct(&deps, json!({"action": "backup", "continue": id})).await;
    assert_eq!(next["status"], "continuing", "{next}");
    assert_eq!(next["invocations"], 2, "{next}");
    // The sweep continues it too, until it ends.
    let mut swept = direct(&deps, fixture("backup-sweep.json")).await;
    for _ in 0..10 {
        if swept["backups_continued"][0]["backup"]["status"] == "succeeded" {
            break;
        }
        swept = direct(&deps, fixture("backup-sweep.json")).await;
    }
    assert_eq!(
        swept["backups_continued"][0]["backup"]["id"],
        id.as_str(),
        "{swept}"
    );
    assert_eq!(swept["jobs_expired"], 0, "{swept}");
    let done = direct(&deps, json!({"action": "backup", "continue": id})).await;
    assert_eq!(done["error"]["code"], "backup_not_found", "{done}");
    let refused = direct(&deps, json!({"action": "backup", "continue": 7})).await;
    assert_eq!(refused["status"], "refused", "{refused}");
    // A restore continues when asked again.
    let request = json!({"action": "restore", "backup_id": id, "dry_run": true});
    let mut answer = direct(&deps, request.clone()).await;
    let mut continued = 0;
    while answer["status"] == "continuing" {
        continued += 1;
        answer = direct(&deps, request.clone()).await;
    }
    assert!(continued >= 2, "{continued}");
    assert_eq!(answer["status"], "dry_run", "{answer}");
    assert_eq!(answer["versions"]["unchanged"], 1, "{answer}");
}
