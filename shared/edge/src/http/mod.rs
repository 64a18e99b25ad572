//! What every HTTP function shares around API Gateway requests (REST v1 and HTTP v2 payloads):
//! route matching with 404/405, request facts (id, path, media type, size-checked body), JSON
//! bodies parsed into typed requests, JSON responses and the error envelope, and the per-request wrapper that turns every expected
//! failure into an `Ok` response and logs one line.

mod body;
mod idempotent;
mod request;
mod response;
mod routes;
mod serve;

pub use body::parse_json_body;
pub use idempotent::{
    idempotency_key, serve_once, Idempotent, IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER,
};
pub use request::{
    body_bytes, query_number, query_param, query_text, request_id, require_json, route_path,
    MediaType, JSON_MEDIA_TYPE,
};
pub use response::{error_response, json_response, RETRY_AFTER_SECS};
pub use routes::{match_route, Matched, RouteSpec};
pub use serve::serve;
