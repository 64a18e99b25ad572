//! JSON responses and the error envelope, built the same way by every function.

use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::http::request::JSON_MEDIA_TYPE;
use application::error::MAX_ANSWER_BYTES;
use application::ServiceError;

/// Seconds a caller is told to wait (`Retry-After`) when a dependency is down.
pub const RETRY_AFTER_SECS: u32 = 5;

/// A JSON response with `status` and `value` as the body; a body above [`MAX_ANSWER_BYTES`] is
/// a 413 saying how to ask for less instead.
pub fn json_response(status: u16, value: &impl Serialize) -> Response<Body> {
    let (status, text) = match serde_json::to_string(value) {
        Ok(text) if text.len() > MAX_ANSWER_BYTES => (
            StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::answer_too_large(text.len())
                .envelope("unknown")
                .to_string(),
        ),
        Ok(text) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            text,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ServiceError::Internal(format!("could not encode the response: {e}"))
                .envelope("unknown")
                .to_string(),
        ),
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_MEDIA_TYPE));
    response
}

/// The error envelope with the error's status, and `Retry-After` on a 503 (a dependency is down).
pub fn error_response(error: &ServiceError, request_id: &str) -> Response<Body> {
    let mut response = json_response(error.status(), &error.envelope(request_id));
    if error.status() == 503 {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_error_retryable_should_add_retry_after_and_envelope() {
        let response = error_response(&ServiceError::Unavailable("down".into()), "r1");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[RETRY_AFTER], "5");
        assert_eq!(response.headers()[CONTENT_TYPE], JSON_MEDIA_TYPE);
        let v: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(v["error"]["code"], "unavailable");
        let response = error_response(&ServiceError::UnsupportedMediaType("x".into()), "r1");
        assert_eq!(response.status(), 415);
        assert!(!response.headers().contains_key(RETRY_AFTER));
    }
}
