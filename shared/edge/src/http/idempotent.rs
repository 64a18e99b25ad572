//! Creating `POST`s that honour an `Idempotency-Key` header: the request is admitted against its
//! record ([`IdempotencyGuard`]), served once, and its answer kept for replay; a repeat answers
//! the kept answer with `Idempotent-Replayed: true`.

use std::future::Future;

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use application::domain::Tenant;
use application::workflows::idempotency::{Admission, IdempotencyGuard};
use application::ServiceError;

use crate::http::request::{route_path, JSON_MEDIA_TYPE};

/// The request header carrying the caller's key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The response header marking a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// How a route keeps its answers: the top-level JSON fields it never stores (a new key's
/// secret is shown once and never kept; a replay answers `null` in its place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idempotent {
    /// Fields blanked in the kept answer.
    pub redact: &'static [&'static str],
}

/// The `Idempotency-Key` header's value, when the request has one (a 400 when it is not text).
pub fn idempotency_key(request: &Request) -> Result<Option<String>, ServiceError> {
    request
        .headers()
        .get(IDEMPOTENCY_KEY_HEADER)
        .map(|v| {
            v.to_str().map(str::to_owned).map_err(|_| {
                ServiceError::BadRequest("Idempotency-Key must be printable ASCII".into())
            })
        })
        .transpose()
}

/// Serves `request` through `serve` at most once per `key` and payload for `tenant`.
pub async fn serve_once<F, Fut>(
    guard: &IdempotencyGuard,
    rule: Idempotent,
    tenant: &Tenant,
    key: &str,
    request: Request,
    serve: F,
) -> Result<Response<Body>, ServiceError>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ServiceError>>,
{
    let route = format!("{} {}", request.method(), route_path(&request));
    let query = request
        .query_string_parameters_ref()
        .map_or_else(String::new, |q| {
            let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.sort();
            pairs.join("&")
        });
    let mut payload = format!("{route}?{query}\n").into_bytes();
    payload.extend_from_slice(request.body().as_ref());
    let record = match guard.begin(tenant, &route, key, &payload).await? {
        Admission::Replay(answer) => return Ok(replayed(answer.status, answer.body)),
        Admission::Fresh(record) => record,
    };
    match serve(request).await {
        Ok(response) if response.status().is_success() => {
            let kept = kept_body(response.body(), rule.redact);
            guard
                .complete(record, response.status().as_u16(), kept)
                .await;
            Ok(response)
        }
        other => {
            guard.release(&record).await;
            other
        }
    }
}

/// The body to keep: the JSON answer without the redacted fields.
fn kept_body(body: &Body, redact: &[&str]) -> String {
    let text = String::from_utf8_lossy(body.as_ref()).into_owned();
    if redact.is_empty() {
        return text;
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(mut map)) => {
            for field in redact {
                if let Some(slot) = map.get_mut(*field) {
                    *slot = Value::Null;
                }
            }
            Value::Object(map).to_string()
        }
        _ => text,
    }
}

fn replayed(status: u16, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_MEDIA_TYPE));
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_answer_kept_should_blank_redacted_fields_only() {
        let body = Body::from(r#"{"id":"k1","key":"nmly_secret","scopes":["read"]}"#);
        let kept: Value = serde_json::from_str(&kept_body(&body, &["key"])).unwrap();
        assert_eq!(kept["key"], Value::Null);
        assert_eq!(kept["id"], "k1");
        assert!(!kept.to_string().contains("nmly_secret"));
        assert_eq!(kept_body(&Body::from("plain"), &[]), "plain");
    }
}
