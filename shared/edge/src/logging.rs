//! JSON logs, one object per line, the way CloudWatch Logs reads them best.

/// Installs JSON logs (one object per line, CloudWatch-friendly), filtered by `RUST_LOG`
/// (default `info`); a second call is a no-op.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}
