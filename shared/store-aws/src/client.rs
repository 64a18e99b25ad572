//! The SDK configuration every AWS adapter shares: where to connect (the environment, or a local
//! endpoint such as moto), and the timeouts and retries every call is held to.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

/// Region used with a local endpoint when none is configured.
pub const LOCAL_REGION: &str = "us-east-1";

/// Timeouts and retries of every SDK call. The defaults fit a Lambda behind API Gateway (29 s):
/// a call gives up after [`operation_timeout`](Self::operation_timeout) whatever happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTuning {
    /// Most time to open a connection.
    pub connect_timeout: Duration,
    /// Most time of one attempt (request and response).
    pub attempt_timeout: Duration,
    /// Most time of a whole call, retries included.
    pub operation_timeout: Duration,
    /// Most attempts of one call (standard retry mode: throttling, 5xx, I/O errors).
    pub max_attempts: u32,
    /// Backoff envelope of the first retry (jittered, doubling).
    pub initial_backoff: Duration,
    /// Largest backoff between attempts.
    pub max_backoff: Duration,
}

impl Default for AwsTuning {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(8),
            operation_timeout: Duration::from_secs(20),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl AwsTuning {
    /// The SDK timeout configuration.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// The SDK retry configuration: standard mode, jittered exponential backoff.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }
}

/// Where the SDK connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkTarget {
    /// Region, credentials and endpoint from the environment (`AWS_REGION`, the Lambda role,
    /// `AWS_ENDPOINT_URL` to point at an emulator).
    Environment,
    /// A local emulator at `endpoint_url` (moto), with static dummy credentials and
    /// [`LOCAL_REGION`]; never reads credentials from the environment or instance metadata.
    Local {
        /// For example `http://127.0.0.1:5000`.
        endpoint_url: String,
    },
}

/// Loads the SDK configuration for `target` with `tuning`'s timeouts and retries.
pub async fn load_sdk_config(target: &SdkTarget, tuning: &AwsTuning) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(tuning.timeout_config())
        .retry_config(tuning.retry_config());
    let loader = match target {
        SdkTarget::Environment => loader,
        SdkTarget::Local { endpoint_url } => loader
            .endpoint_url(endpoint_url)
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(Credentials::new(
                "nomaly-local",
                "nomaly-local",
                None,
                None,
                "nomaly-local",
            )),
    };
    loader.load().await
}
