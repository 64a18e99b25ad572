//! The per-request wrapper every handler runs in: it reads the request id, method and path
//! before the route takes the request, turns an error into the envelope response (and, as a
//! last line of defence, a panic into a 500 envelope rather than a bare gateway error), logs
//! one summary line per request (no payloads) and writes the invocation's EMF metrics once.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt;

use lambda_http::{Body, Request, Response};

use crate::http::request::{request_id, route_path};
use crate::http::response::error_response;
use application::metrics::{self, Counter};
use application::ServiceError;

use crate::emf::{self, Invocation};

/// Runs `route` on `request` for the function named `function`; always a response, never an
/// error.
pub async fn serve<F, Fut>(function: &'static str, request: Request, route: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ServiceError>>,
{
    let started = Instant::now();
    let cold_start = emf::take_cold_start();
    let id = request_id(&request);
    let method = request.method().clone();
    let path = route_path(&request);
    let (outcome, counts) = metrics::measure(AssertUnwindSafe(route(request)).catch_unwind()).await;
    let outcome = outcome.unwrap_or_else(|_| {
        Err(ServiceError::Internal(
            "the request handler panicked".into(),
        ))
    });
    let (response, code, detail) = match outcome {
        Ok(response) => (response, None, None),
        Err(error) => (
            error_response(&error, &id),
            Some(error.code()),
            // A 5xx answers a generic message; its details go to this log line only.
            (error.status() >= 500).then(|| error.to_string()),
        ),
    };
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (model, version) = counts.model().unzip();
    let rows = counts.get(Counter::RowsScored);
    let anomalies = counts.anomalies();
    if status >= 500 {
        tracing::error!(function, request_id = %id, %method, path = %path.escape_default(), status, code, error = detail.as_deref(), model, version, rows, anomalies, duration_ms, cold_start, "request failed");
    } else {
        tracing::info!(function, request_id = %id, %method, path = %path.escape_default(), status, code, model, version, rows, anomalies, duration_ms, cold_start, "request");
    }
    let status_text = status.to_string();
    emf::emit(
        &Invocation {
            function,
            status: &status_text,
            duration_ms,
            cold_start,
        },
        &counts,
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        let mut request = Request::new(lambda_http::Body::Empty);
        *request.uri_mut() = "/health".parse().unwrap();
        request
    }

    #[tokio::test]
    async fn when_route_fails_or_panics_should_answer_the_envelope() {
        let response = serve("test", request(), |_| async {
            Err(ServiceError::JobNotFound("j".into()))
        })
        .await;
        assert_eq!(response.status(), 404);
        let response = serve("test", request(), |_| async {
            if true {
                panic!("boom");
            }
            Err(ServiceError::Internal("unreachable".into()))
        })
        .await;
        assert_eq!(response.status(), 500);
        let v: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(v["error"]["code"], "internal");
    }
}
