//! The issuer's keys: a JWKS given inline or fetched from its URL at cold start, and fetched again
//! (at most once a minute) when a token names a key the verifier has not seen, which is how key
//! rotation shows. A fetch that fails keeps the keys already held.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use application::domain::Principal;
use application::ports::{TokenRejected, TokenVerifier};
use async_trait::async_trait;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_http::http::{Request, StatusCode, Uri};
use thiserror::Error;

use super::verifier::{JwtSettings, JwtVerifier};

/// Largest JWKS document read (an issuer publishes a few keys of about 1 KB each).
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How long a JWKS fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Least time between two fetches prompted by unknown key ids (any caller can send one).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Why the issuer's keys could not be had.
#[derive(Debug, Error)]
pub enum JwksError {
    /// The URL is not one this build can fetch.
    #[error("JWKS URL '{0}' is not usable: {1}")]
    BadUrl(String, String),
    /// The fetch failed or timed out.
    #[error("fetching the JWKS failed: {0}")]
    Fetch(String),
    /// The document does not give a usable key set.
    #[error("the JWKS is not usable: {0}")]
    Document(String),
}

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS document in the configuration (`NOMALY_JWT_JWKS`); never refetched.
    Inline(String),
    /// The issuer's JWKS URL (`NOMALY_JWT_JWKS_URL`).
    Url(String),
}

/// A [`TokenVerifier`] over one issuer: verifies with the keys it holds, and on a token naming an
/// unknown key refetches the JWKS (rate-limited) and tries once more.
pub struct JwksVerifier {
    source: JwksSource,
    current: RwLock<JwtVerifier>,
    last_fetch: RwLock<Instant>,
    refresh_interval: Duration,
}

impl JwksVerifier {
    /// The verifier for `settings`, with the keys of `source` (fetched now for a URL).
    pub async fn load(settings: JwtSettings, source: JwksSource) -> Result<Self, JwksError> {
        let document = match &source {
            JwksSource::Inline(document) => document.clone(),
            JwksSource::Url(url) => fetch_jwks(url).await?,
        };
        let verifier = JwtVerifier::new(settings, &document)
            .map_err(|e| JwksError::Document(e.to_string()))?;
        tracing::info!(keys = verifier.key_count(), "JWT verifier ready");
        Ok(Self {
            source,
            current: RwLock::new(verifier),
            last_fetch: RwLock::new(Instant::now()),
            refresh_interval: REFRESH_INTERVAL,
        })
    }

    /// The same verifier refetching at most once per `interval` (tests use zero).
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    fn snapshot(&self) -> Result<JwtVerifier, TokenRejected> {
        self.current
            .read()
            .map(|v| v.clone())
            .map_err(|_| TokenRejected("the token verifier is unavailable".into()))
    }

    /// Refetches the keys if the source is a URL and the last fetch is old enough; whether the
    /// held keys changed.
    async fn refresh(&self) -> bool {
        let JwksSource::Url(url) = &self.source else {
            return false;
        };
        let due = self
            .last_fetch
            .read()
            .map(|at| at.elapsed() >= self.refresh_interval)
            .unwrap_or(false);
        if !due {
            return false;
        }
        if let Ok(mut at) = self.last_fetch.write() {
            *at = Instant::now();
        }
        let fetched = match fetch_jwks(url).await {
            Ok(document) => document,
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys held");
                return false;
            }
        };
        let Ok(current) = self.snapshot() else {
            return false;
        };
        match current.with_jwks(&fetched) {
            Ok(fresh) => {
                tracing::info!(keys = fresh.key_count(), "JWKS refreshed");
                if let Ok(mut slot) = self.current.write() {
                    *slot = fresh;
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "refreshed JWKS is not usable; keeping the keys held");
                false
            }
        }
    }
}

#[async_trait]
impl TokenVerifier for JwksVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, TokenRejected> {
        match self.snapshot()?.verify(token) {
            Ok(principal) => Ok(principal),
            Err(e) if e.needs_jwks_refresh() && self.refresh().await => self
                .snapshot()?
                .verify(token)
                .map_err(|e| TokenRejected(e.to_string())),
            Err(e) => Err(TokenRejected(e.to_string())),
        }
    }
}

/// Fetches a JWKS document (GET, at most [`MAX_JWKS_BYTES`], within [`FETCH_TIMEOUT`]). `http://`
/// works in every build (the tests serve one on 127.0.0.1); `https://` needs the `aws` feature,
/// which brings the TLS stack the Lambda builds already have.
pub async fn fetch_jwks(url: &str) -> Result<String, JwksError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| JwksError::BadUrl(url.to_owned(), format!("{e}")))?;
    let request = Request::get(uri.clone())
        .header("accept", "application/json")
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| JwksError::BadUrl(url.to_owned(), e.to_string()))?;
    let response = match uri.scheme_str() {
        Some("http") => {
            let client = Client::builder(TokioExecutor::new())
                .build(hyper_util::client::legacy::connect::HttpConnector::new());
            tokio::time::timeout(FETCH_TIMEOUT, client.request(request)).await
        }
        Some("https") => https_get(url, request).await?,
        _ => {
            return Err(JwksError::BadUrl(
                url.to_owned(),
                "use an http:// or https:// URL".into(),
            ))
        }
    }
    .map_err(|_| JwksError::Fetch(format!("no answer within {FETCH_TIMEOUT:?}")))?
    .map_err(|e| JwksError::Fetch(e.to_string()))?;
    if response.status() != StatusCode::OK {
        return Err(JwksError::Fetch(format!(
            "the issuer answered {}",
            response.status()
        )));
    }
    let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
        .collect()
        .await
        .map_err(|e| JwksError::Fetch(format!("reading the JWKS: {e}")))?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|_| JwksError::Document("not UTF-8".into()))
}

type Answer = Result<
    Result<lambda_http::http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error>,
    tokio::time::error::Elapsed,
>;

/// GET over TLS (native roots, aws-lc-rs), in builds with the `aws` feature.
#[cfg(feature = "aws")]
async fn https_get(url: &str, request: Request<Empty<bytes::Bytes>>) -> Result<Answer, JwksError> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| JwksError::BadUrl(url.to_owned(), format!("TLS roots: {e}")))?
        .https_only()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build(connector);
    Ok(tokio::time::timeout(FETCH_TIMEOUT, client.request(request)).await)
}

/// Without the `aws` feature there is no TLS stack: say how to get one.
#[cfg(not(feature = "aws"))]
async fn https_get(url: &str, _request: Request<Empty<bytes::Bytes>>) -> Result<Answer, JwksError> {
    Err(JwksError::BadUrl(
        url.to_owned(),
        "https needs a build with the `aws` feature (the Lambda builds have it), or give the JWKS inline in NOMALY_JWT_JWKS".into(),
    ))
}
