//! Tenancy through `cargo lambda watch`, where each function checks the credential itself as the
//! authorizer does in AWS: two tenants on one deployment, keys of every scope.
//! - Isolation: a second tenant, with a key of every scope, gets the same 404 as for nothing on
//!   the first tenant's model, versions and jobs, never sees them listed, cannot score with them,
//!   cannot revoke the first tenant's keys, and training its own model of the same name does not
//!   move the first tenant's `LATEST`.
//! - Scopes: every route, with a key of each single scope: allowed, or 403 `insufficient_scope`;
//!   with no, a malformed, an unknown or a revoked credential: 401 `unauthorized`; health stays
//!   public.
//! - No secret a test created appears in the functions' output.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use e2e::http::{call, get, issue_key, Caller};
use e2e::tools;
use e2e::watch::WatchServer;
use serde_json::{json, Value};

const SCOPES: [&str; 4] = ["read", "detect", "train", "admin"];

fn small_data() -> Value {
    let rows: Vec<Vec<f64>> = (0..60)
        .map(|i| vec![f64::from(i % 10), f64::from((i * 7) % 13)])
        .collect();
    json!({"columns": ["a", "b"], "rows": rows})
}

/// A tenant route: method, path, body, and the scope it needs.
struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    scope: &'static str,
}

fn routes(job_id: &str) -> Vec<Route> {
    let route = |method, path: &str, body: Option<Value>, scope| Route {
        method,
        path: path.to_owned(),
        body,
        scope,
    };
    vec![
        route(
            "POST",
            "/api/v1/models",
            Some(json!({"name": "scoped", "algorithm": "ecod", "data": small_data()})),
            "train",
        ),
        route("GET", "/api/v1/models", None, "read"),
        route("GET", "/api/v1/models/shared", None, "read"),
        route(
            "POST",
            "/api/v1/detect",
            Some(json!({"model": "shared", "data": [{"a": 1, "b": 2}]})),
            "detect",
        ),
        route("GET", &format!("/api/v1/jobs/{job_id}"), None, "read"),
        route(
            "POST",
            "/api/v1/keys",
            Some(json!({"name": "k", "scopes": ["read"]})),
            "admin",
        ),
        route("GET", "/api/v1/keys", None, "admin"),
        route("DELETE", "/api/v1/keys/0123456789abcdef", None, "admin"),
        route("POST", "/api/v1/backups", None, "operator"),
        route("GET", "/api/v1/backups", None, "operator"),
    ]
}

fn send(caller: &Caller, route: &Route) -> (u16, Value) {
    let bytes = route.body.as_ref().map(|b| b.to_string().into_bytes());
    let reply = caller.call(
        route.method,
        &route.path,
        bytes.as_deref().map(|b| ("application/json", b)),
    );
    (reply.status, reply.json())
}

fn key_id(caller: &Caller) -> String {
    caller.token.split('.').nth(1).expect("a key id").to_owned()
}

#[test]
fn when_two_tenants_share_a_deployment_should_never_reach_each_other_and_scopes_should_hold() {
    let Some(cargo_lambda) = tools::require("cargo-lambda", "pip install cargo-lambda") else {
        return;
    };
    let server = WatchServer::start(&cargo_lambda, &[]);
    let port = server.port();
    let a = issue_key(port, "tenant-a", &SCOPES);
    let b = issue_key(port, "tenant-b", &SCOPES);
    let b_single: Vec<(&str, Caller)> = SCOPES
        .iter()
        .map(|scope| (*scope, issue_key(port, "tenant-b", &[scope])))
        .collect();

    // Tenant A: a model "shared" (version 1) and a detect job.
    let trained = a.json(
        "POST",
        "/api/v1/models",
        &json!({"name": "shared", "algorithm": "ecod", "data": small_data()}),
    );
    assert_eq!(trained.status, 201, "{}", trained.json());
    let scored = a.json(
        "POST",
        "/api/v1/detect",
        &json!({"model": "shared", "data": [{"a": 1, "b": 2}]}),
    );
    assert_eq!(scored.status, 200, "{}", scored.json());
    let a_job = scored.json()["job_id"].as_str().unwrap().to_owned();

    // Isolation: B, with every key it holds, never reaches A's things.
    let mut b_callers: Vec<&Caller> = b_single.iter().map(|(_, c)| c).collect();
    b_callers.push(&b);
    for caller in &b_callers {
        for (method, path, body) in [
            ("GET", "/api/v1/models/shared".to_owned(), None),
            ("GET", "/api/v1/models/shared?before=2".to_owned(), None),
            ("GET", format!("/api/v1/jobs/{a_job}"), None),
            (
                "POST",
                "/api/v1/detect".to_owned(),
                Some(json!({"model": "shared", "data": [{"a": 1, "b": 2}]})),
            ),
            (
                "POST",
                "/api/v1/detect".to_owned(),
                Some(json!({"model": "shared", "version": 1, "data": [{"a": 1, "b": 2}]})),
            ),
            ("DELETE", format!("/api/v1/keys/{}", key_id(&a)), None),
        ] {
            let bytes = body.map(|b: Value| b.to_string().into_bytes());
            let reply = caller.call(
                method,
                &path,
                bytes.as_deref().map(|b| ("application/json", b)),
            );
            let v = reply.json();
            // Allowed by scope: the 404 of something that does not exist; otherwise 403.
            assert!(
                reply.status == 404
                    || (reply.status == 403 && v["error"]["code"] == "insufficient_scope"),
                "{method} {path}: {} {v}",
                reply.status
            );
        }
    }
    let listed = b.get("/api/v1/models").json();
    assert_eq!(listed["models"], json!([]), "B lists A's models: {listed}");
    let keys = b.get("/api/v1/keys").json();
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != key_id(&a).as_str()),
        "B lists A's keys: {keys}"
    );
    // B trains its own "shared": A's LATEST stays at 1, and A still scores with its own.
    let b_trained = b.json("POST", "/api/v1/models", &json!({"name": "shared", "algorithm": "hbos", "data": {"columns": ["x"], "rows": (0..40).map(|i| vec![i]).collect::<Vec<_>>()}}));
    assert_eq!(b_trained.status, 201, "{}", b_trained.json());
    assert_eq!(b_trained.json()["version"], 1);
    let b_again = b.json("POST", "/api/v1/models", &json!({"name": "shared", "algorithm": "hbos", "data": {"columns": ["x"], "rows": (0..40).map(|i| vec![i]).collect::<Vec<_>>()}}));
    assert_eq!(b_again.json()["version"], 2);
    let a_detail = a.get("/api/v1/models/shared").json();
    assert_eq!(a_detail["latest_version"], 1, "{a_detail}");
    let a_scores = a.json(
        "POST",
        "/api/v1/detect",
        &json!({"model": "shared", "data": [{"a": 1, "b": 2}]}),
    );
    assert_eq!(
        (a_scores.status, a_scores.json()["version"].clone()),
        (200, json!(1))
    );

    // Scopes: each single-scope key on every route.
    for (scope, caller) in &b_single {
        for route in routes(&a_job) {
            let (status, v) = send(caller, &route);
            if route.scope == *scope {
                assert!(
                    status != 401 && status != 403,
                    "{scope} on {} {}: {status} {v}",
                    route.method,
                    route.path
                );
            } else {
                assert_eq!(
                    (status, v["error"]["code"].clone()),
                    (403, json!("insufficient_scope")),
                    "{scope} on {} {}",
                    route.method,
                    route.path
                );
            }
        }
    }

    // No credential, a malformed one, an unknown one, a revoked one: 401 everywhere.
    let revocable = issue_key(port, "tenant-b", &SCOPES);
    let revoked = b.call(
        "DELETE",
        &format!("/api/v1/keys/{}", key_id(&revocable)),
        None,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.json());
    let unknown = format!("nmly_tenant-b.{}.{}", "0".repeat(16), "0".repeat(64));
    for route in routes(&a_job) {
        let bytes = route.body.as_ref().map(|b| b.to_string().into_bytes());
        let body = bytes.as_deref().map(|b| ("application/json", b));
        let anonymous = call(port, route.method, &route.path, body).unwrap();
        assert_eq!(
            anonymous.status,
            401,
            "anonymous {} {}: {}",
            route.method,
            route.path,
            anonymous.json()
        );
        assert_eq!(anonymous.json()["error"]["code"], "unauthorized");
        for token in ["garbage", unknown.as_str(), revocable.token.as_str()] {
            let caller = Caller {
                port,
                token: token.to_owned(),
            };
            let (status, v) = send(&caller, &route);
            assert_eq!(status, 401, "{} {}: {v}", route.method, route.path);
            assert!(
                !v.to_string().contains(token),
                "the credential is echoed: {v}"
            );
        }
    }
    assert_eq!(get(port, "/health").status, 200);
    assert_eq!(get(port, "/health/ready").status, 200);

    let log = server.log();
    for caller in b_callers.iter().copied().chain([&a, &revocable]) {
        let secret = caller.token.rsplit('.').next().unwrap();
        assert!(!log.contains(secret), "a key's secret is in the watch log");
    }
}
