//! The `text/csv` form of `POST /api/v1/detect`: the model and options come from the query
//! string (`?model=payments&version=3&explain=true&top_k=2`), the rows from the body.

use detection::tabular::parse_csv;
use detection::{Limits, Table};
use lambda_http::Request;
use service::http::query_param;
use service::workflows::detect::DetectOptions;
use service::ServiceError;

/// The media type of the CSV form.
pub const CSV_MEDIA_TYPE: &str = "text/csv";

/// A parsed CSV scoring request.
#[derive(Debug)]
pub struct CsvDetect {
    /// Model name, from `?model=`.
    pub model: String,
    /// Version, from `?version=`; the latest when absent.
    pub version: Option<u32>,
    /// Scoring options, from `?explain=` and `?top_k=`.
    pub options: DetectOptions,
    /// The rows.
    pub table: Table,
}

impl CsvDetect {
    /// Reads the query string and parses `body` within `limits`.
    pub fn parse(request: &Request, body: &[u8], limits: &Limits) -> Result<Self, ServiceError> {
        let model = query_param(request, "model").ok_or_else(|| {
            ServiceError::BadRequest("a text/csv body needs the model in '?model='".into())
        })?;
        let version = query_param(request, "version")
            .map(|v| number::<u32>("version", &v))
            .transpose()?;
        let explain = match query_param(request, "explain").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ServiceError::BadRequest(format!(
                    "query parameter 'explain' must be true or false, not '{}'",
                    other.escape_default()
                )))
            }
        };
        let top_k = query_param(request, "top_k")
            .map(|v| number::<usize>("top_k", &v))
            .transpose()?;
        let table = parse_csv(body, limits)?;
        Ok(Self {
            model,
            version,
            options: DetectOptions { explain, top_k },
            table,
        })
    }
}

fn number<T: std::str::FromStr>(name: &str, raw: &str) -> Result<T, ServiceError> {
    raw.parse().map_err(|_| {
        ServiceError::BadRequest(format!(
            "query parameter '{name}' must be a whole number, not '{}'",
            raw.escape_default()
        ))
    })
}
