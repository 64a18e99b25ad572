//! The keys handler driven by the `events/` fixtures against a temp-dir local store: a tenant's
//! first key issued by direct invocation, then created, listed and revoked over HTTP within the
//! caller's tenant; operator keys never over HTTP; the secret shown once and stored nowhere.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::Arc;

use application::ports::{KeyStore, NoUsagePlan};
use application::workflows::authenticate::Authenticator;
use edge::access::Access;
use edge::dispatch::{handle, invoke};
use fixtures::{body, fixture, request, tenant};
use keys::handler::HandlerDeps;
use lambda_http::{Context, LambdaEvent};
use serde_json::{json, Value};
use store_local::LocalStores;

fn deps() -> (tempfile::TempDir, HandlerDeps, LocalStores) {
    let dir = tempfile::tempdir().unwrap();
    let stores = LocalStores::open(dir.path()).unwrap();
    let deps = HandlerDeps::new(stores.items.clone(), Arc::new(NoUsagePlan))
        .with_idempotency(stores.items.clone());
    (dir, deps, stores)
}

async fn direct(deps: &HandlerDeps, payload: Value) -> Value {
    invoke(deps, LambdaEvent::new(payload, Context::default()))
        .await
        .expect("an answer, not an error")
}

/// `event` with the authorizer context of `tenant` holding `scopes`.
fn as_caller(mut event: Value, tenant: &str, scopes: &str) -> Value {
    event["requestContext"]["authorizer"] =
        json!({"tenant": tenant, "scopes": scopes, "credential_id": "k", "principalId": "k"});
    event
}

#[tokio::test]
async fn when_first_key_issued_directly_should_authenticate_as_the_tenant_admin() {
    let (_dir, deps, stores) = deps();
    let issued = direct(&deps, fixture("keys-issue.json")).await;
    assert_eq!(issued["tenant"], "acme", "{issued}");
    assert_eq!(issued["scopes"], json!(["admin"]));
    let token = issued["key"].as_str().unwrap();
    assert!(token.starts_with("nmly_acme."), "{token}");
    let authenticator = Authenticator::new(stores.items.clone(), None);
    let principal = authenticator
        .authenticate(Some(&format!("Bearer {token}")))
        .await
        .unwrap();
    assert_eq!(principal.tenant, tenant());
    assert_eq!(principal.scope_string(), "admin");
    // The secret is nowhere in the table: only its hash.
    let secret = token.rsplit('.').next().unwrap();
    let db = std::fs::read(_dir.path().join("nomaly.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(secret),
        "the secret is stored"
    );
}

#[tokio::test]
async fn when_issue_payload_is_bad_should_refuse_and_write_nothing() {
    let (_dir, deps, stores) = deps();
    for payload in [
        json!({"action": "issue_key"}),
        json!({"action": "issue_key", "tenant": "Bad_Tenant"}),
        json!({"action": "issue_key", "tenant": "acme", "scopes": ["operator"]}),
        json!({"action": "issue_key", "tenant": "nomaly-system", "scopes": ["admin"]}),
        json!({"action": "issue_key", "tenant": "acme", "scopes": ["root"]}),
        json!({"action": "issue_key", "tenant": "acme", "scopes": []}),
        json!({"action": "issue_key", "tenant": "acme", "extra": 1}),
        json!({"action": "nope"}),
    ] {
        let answer = direct(&deps, payload.clone()).await;
        assert_eq!(answer["status"], "refused", "{payload}: {answer}");
    }
    use application::ports::KeyStore;
    assert!(stores.items.list_keys(&tenant()).await.unwrap().is_empty());
    let ops = direct(
        &deps,
        json!({"action": "issue_key", "tenant": "nomaly-system", "name": "ops", "scopes": ["operator"]}),
    )
    .await;
    assert_eq!(ops["scopes"], json!(["operator"]), "{ops}");
}

#[tokio::test]
async fn when_admin_manages_keys_should_create_list_and_revoke_within_its_tenant() {
    let (_dir, deps, stores) = deps();
    let response = handle(&deps, request(&fixture("keys-create.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", body(&response));
    let created = body(&response);
    let token = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["scopes"], json!(["read", "detect"]));

    let listed = body(
        &handle(&deps, request(&fixture("keys-list.json")))
            .await
            .unwrap(),
    );
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], id.as_str());
    assert!(
        keys[0].get("key").is_none() && keys[0].get("secret_sha256").is_none(),
        "{listed}"
    );
    assert!(!listed
        .to_string()
        .contains(token.rsplit('.').next().unwrap()));

    // Another tenant's admin sees none of them and cannot revoke them (404, as for no key).
    let other = as_caller(fixture("keys-list.json"), "beta", "admin");
    let theirs = body(&handle(&deps, request(&other)).await.unwrap());
    assert_eq!(theirs["keys"], json!([]));
    let mut revoke = fixture("keys-revoke.json");
    revoke["path"] = json!(format!("/api/v1/keys/{id}"));
    revoke["pathParameters"] = json!({"id": id});
    let foreign = handle(&deps, request(&as_caller(revoke.clone(), "beta", "admin")))
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404, "{}", body(&foreign));
    let authenticator = Authenticator::new(stores.items.clone(), None);
    let header = format!("Bearer {token}");
    assert!(authenticator.authenticate(Some(&header)).await.is_ok());

    let revoked = handle(&deps, request(&revoke)).await.unwrap();
    assert_eq!(revoked.status(), 200, "{}", body(&revoked));
    assert!(body(&revoked)["revoked_at"].as_u64().is_some());
    let e = authenticator.authenticate(Some(&header)).await.unwrap_err();
    assert_eq!(e.status(), 401);
    assert!(e.to_string().contains("revoked"), "{e}");
    let unknown = handle(&deps, request(&fixture("keys-revoke.json")))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(body(&unknown)["error"]["code"], "key_not_found");
}

#[tokio::test]
async fn when_caller_is_not_admin_or_asks_for_operator_should_be_403() {
    let (_dir, deps, _stores) = deps();
    for name in ["keys-create.json", "keys-list.json", "keys-revoke.json"] {
        let event = as_caller(fixture(name), "acme", "read detect train");
        let response = handle(&deps, request(&event)).await.unwrap();
        assert_eq!(response.status(), 403, "{name}");
        assert_eq!(body(&response)["error"]["code"], "insufficient_scope");
    }
    let mut operator = fixture("keys-create.json");
    operator["body"] = json!(json!({"name": "x", "scopes": ["operator"]}).to_string());
    let response = handle(&deps, request(&operator)).await.unwrap();
    assert_eq!(response.status(), 403, "{}", body(&response));
    let mut bad = fixture("keys-create.json");
    bad["body"] = json!(json!({"name": "", "scopes": ["read"]}).to_string());
    assert_eq!(handle(&deps, request(&bad)).await.unwrap().status(), 400);
}

#[tokio::test]
async fn when_checked_inline_should_answer_401_without_a_credential() {
    let (_dir, deps, stores) = deps();
    let deps = deps.with_access(Access::Inline(Authenticator::new(
        stores.items.clone(),
        None,
    )));
    let mut event = fixture("keys-list.json");
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    for (name, value) in [
        ("none", None),
        ("basic", Some("Basic dXNlcjpwYXNz")),
        ("garbled", Some("Bearer nmly_acme.xyz")),
        ("unknown", Some("Bearer nmly_acme.0123456789abcdef.0000000000000000000000000000000000000000000000000000000000000000")),
        ("jwt without issuer", Some("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln")),
    ] {
        let mut e = event.clone();
        e["headers"] = json!({});
        e["multiValueHeaders"] = json!({});
        if let Some(v) = value {
            e["headers"]["Authorization"] = json!(v);
            e["multiValueHeaders"]["Authorization"] = json!([v]);
        }
        let response = handle(&deps, request(&e)).await.unwrap();
        assert_eq!(response.status(), 401, "{name}: {}", body(&response));
        assert_eq!(body(&response)["error"]["code"], "unauthorized");
        if let Some(v) = value {
            assert!(!body(&response).to_string().contains(v), "{name}: the credential is echoed");
        }
    }
}

#[tokio::test]
async fn when_a_key_creation_is_retried_with_its_idempotency_key_should_issue_one_key_and_never_replay_the_secret(
) {
    let (dir, deps, stores) = deps();
    let mut event = fixture("keys-create.json");
    event["headers"]["idempotency-key"] = json!("ci-key-1");
    let first = handle(&deps, request(&event)).await.unwrap();
    assert_eq!(first.status(), 201, "{}", body(&first));
    let issued = body(&first);
    assert!(issued["key"].as_str().unwrap().starts_with("nmly_acme."));
    let again = handle(&deps, request(&event)).await.unwrap();
    assert_eq!(again.status(), 201, "{}", body(&again));
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let replayed = body(&again);
    assert_eq!(replayed["id"], issued["id"]);
    assert_eq!(
        replayed["key"],
        Value::Null,
        "the secret was kept: {replayed}"
    );
    let secret = issued["key"].as_str().unwrap();
    for file in files_under(dir.path()) {
        let stored = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&stored).contains(secret),
            "the secret reached {}",
            file.display()
        );
    }
    let held = stores.items.list_keys(&tenant()).await.unwrap();
    assert_eq!(held.len(), 1, "a second key was issued");
}

/// Every file under `dir` (the database, its write-ahead log, the objects).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
