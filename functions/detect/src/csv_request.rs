//! The `text/csv` form of `POST /api/v1/detect`: the model and options come from the query
//! string (`?model=payments&version=3&explain=true&top_k=2`), the rows from the body.

use application::workflows::detect::DetectOptions;
use application::ServiceError;
use detection::tabular::parse_csv;
use detection::{Limits, Table};
use edge::http::{query_number, query_param};
use lambda_http::{Request, RequestExt};

/// The media type of the CSV form.
pub const CSV_MEDIA_TYPE: &str = "text/csv";

/// Query parameters only the CSV form reads.
pub const CSV_QUERY_PARAMS: [&str; 4] = ["model", "version", "explain", "top_k"];

/// A JSON request carrying CSV-form query parameters is refused rather than silently ignoring
/// them (a `?version=2` beside a JSON body would otherwise score the latest version).
pub fn reject_csv_query(request: &Request) -> Result<(), ServiceError> {
    let given: Vec<&str> = CSV_QUERY_PARAMS
        .into_iter()
        .filter(|name| {
            request
                .query_string_parameters_ref()
                .is_some_and(|q| q.first(name).is_some())
        })
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(ServiceError::BadRequest(format!(
        "query parameters {} apply to text/csv bodies only; give them in the JSON body",
        given.join(", ")
    )))
}

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
        let version = query_number::<u32>(request, "version")?;
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
        let top_k = query_number::<usize>(request, "top_k")?;
        let table = parse_csv(body, limits)?;
        Ok(Self {
            model,
            version,
            options: DetectOptions { explain, top_k },
            table,
        })
    }
}
