//! Facts read from an API Gateway request, the same way for REST v1 and HTTP v2 payloads.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use application::ServiceError;

/// The media type JSON routes read and every response is written in.
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// The id that ties a response and its log line to the invocation: the Lambda request id when
/// running in Lambda, else API Gateway's, else `"unknown"`.
pub fn request_id(request: &Request) -> String {
    if let Some(context) = request.lambda_context_ref() {
        if !context.request_id.is_empty() {
            return context.request_id.clone();
        }
    }
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => c.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
        _ => None,
    };
    from_gateway
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The path routes are matched on: the path the caller sent, without a named API Gateway stage
/// prefix, so `/prod/health` and `/health` both reach `/health`.
pub fn route_path(request: &Request) -> String {
    let raw = request.raw_http_path();
    let path = if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    };
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => c.stage.clone(),
        Some(RequestContext::ApiGatewayV2(c)) => c.stage.clone(),
        _ => None,
    };
    if let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") {
        let prefix = format!("/{stage}");
        if let Some(rest) = path.strip_prefix(&prefix) {
            if rest.starts_with('/') {
                return rest.to_owned();
            }
        }
    }
    path.to_owned()
}

/// A request's `Content-Type`, reduced to its lowercase essence (`text/csv; charset=utf-8` is
/// `text/csv`); `None` when the header is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType(pub Option<String>);

impl MediaType {
    /// Reads the request's `Content-Type` header.
    pub fn of(request: &Request) -> Self {
        Self(request.headers().get(CONTENT_TYPE).map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        }))
    }

    /// Whether the body is JSON (`application/json`, any `+json` type, or no header at all).
    pub fn is_json(&self) -> bool {
        match &self.0 {
            None => true,
            Some(t) => t == JSON_MEDIA_TYPE || t.ends_with("+json"),
        }
    }

    /// Whether the body is this exact media type.
    pub fn is(&self, expected: &str) -> bool {
        self.0.as_deref() == Some(expected)
    }

    /// The 415 error naming what was sent and what the route accepts.
    pub fn unsupported(&self, accepted: &str) -> ServiceError {
        ServiceError::UnsupportedMediaType(format!(
            "content type '{}' is not supported here; send {accepted}",
            self.0.as_deref().unwrap_or("").escape_default()
        ))
    }
}

/// Refuses a body that is not JSON with 415.
pub fn require_json(request: &Request) -> Result<(), ServiceError> {
    let media = MediaType::of(request);
    if media.is_json() {
        Ok(())
    } else {
        Err(media.unsupported(JSON_MEDIA_TYPE))
    }
}

/// The request body, refused with 413 when above `max_bytes` (`NOMALY_MAX_BODY_BYTES`).
pub fn body_bytes(request: &Request, max_bytes: usize) -> Result<&[u8], ServiceError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(ServiceError::TooLarge(format!(
            "request body of {} bytes exceeds the limit of {max_bytes} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The first value of a query-string parameter, if given and not blank.
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A text query parameter that must not be blank when given: `None` when absent, a 400 naming
/// it when empty (`?after=`), so an empty cursor is never taken for none.
pub fn query_text(request: &Request, name: &str) -> Result<Option<String>, ServiceError> {
    match request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
    {
        None => Ok(None),
        Some(value) if value.trim().is_empty() => Err(ServiceError::BadRequest(format!(
            "query parameter '{name}' is empty; leave it out or give a value"
        ))),
        Some(value) => Ok(Some(value.trim().to_owned())),
    }
}

/// A whole-number query parameter: `None` when absent, a 400 naming it when empty (`?limit=`)
/// or not a number.
pub fn query_number<T: std::str::FromStr>(
    request: &Request,
    name: &str,
) -> Result<Option<T>, ServiceError> {
    query_text(request, name)?
        .map(|raw| {
            raw.parse().map_err(|_| {
                ServiceError::BadRequest(format!(
                    "query parameter '{name}' must be a whole number, not '{}'",
                    raw.escape_default()
                ))
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v2(path: &str, stage: &str, content_type: Option<&str>) -> Request {
        let mut headers = json!({"host": "h.example"});
        if let Some(ct) = content_type {
            headers["content-type"] = json!(ct);
        }
        let event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path,
            "rawQueryString": "model=%20payments%20&version=", "headers": headers,
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "h.example",
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "t"},
                "requestId": "rid-7", "routeKey": "$default", "stage": stage,
                "time": "22/Nov/2026:00:00:00 +0000", "timeEpoch": 0},
            "body": "abcdef", "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn when_stage_named_should_route_on_path_without_it() {
        assert_eq!(route_path(&v2("/prod/health", "prod", None)), "/health");
        assert_eq!(route_path(&v2("/health", "$default", None)), "/health");
        assert_eq!(route_path(&v2("/production", "prod", None)), "/production");
        assert_eq!(request_id(&v2("/health", "$default", None)), "rid-7");
    }

    #[test]
    fn when_content_type_has_parameters_should_compare_its_essence() {
        let csv = MediaType::of(&v2("/", "$default", Some("Text/CSV; charset=utf-8")));
        assert!(csv.is("text/csv") && !csv.is_json());
        assert!(MediaType::of(&v2("/", "$default", None)).is_json());
        assert!(MediaType::of(&v2("/", "$default", Some("application/problem+json"))).is_json());
        let plain = v2("/", "$default", Some("text/plain"));
        assert_eq!(require_json(&plain).unwrap_err().status(), 415);
    }

    #[test]
    fn when_body_over_limit_should_be_413_and_blank_query_values_absent() {
        let request = v2("/", "$default", None);
        assert_eq!(body_bytes(&request, 6).unwrap(), b"abcdef");
        assert_eq!(body_bytes(&request, 5).unwrap_err().status(), 413);
        assert_eq!(query_param(&request, "model").as_deref(), Some("payments"));
        assert_eq!(query_param(&request, "version"), None);
    }

    #[test]
    fn when_a_number_parameter_is_blank_should_be_400_not_absent() {
        let request = v2("/", "$default", None);
        let blank = query_number::<usize>(&request, "version").unwrap_err();
        assert_eq!((blank.status(), blank.code()), (400, "bad_request"));
        assert_eq!(query_number::<usize>(&request, "limit").unwrap(), None);
        assert_eq!(
            query_number::<usize>(&request, "model")
                .unwrap_err()
                .status(),
            400
        );
    }
}
