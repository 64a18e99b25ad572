//! Cold-start wiring every function's `main` shares: JSON logs, configuration that exits naming
//! the bad variable, and the stores opened once.

use crate::config::{Config, StoreKind};
use crate::local::LocalStores;

/// Exit status of a function that cannot start (bad configuration or unreachable store).
pub const STARTUP_FAILURE: i32 = 2;

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

/// The configuration from the environment; on error, logs the message (which names the
/// variable) and exits.
pub fn config_or_exit() -> Config {
    match Config::from_env() {
        Ok(config) => config,
        Err(e) => fail(&format!("invalid configuration: {e}")),
    }
}

/// The stores `config` selects, opened once per cold start; on error, logs and exits.
pub fn stores_or_exit(config: &Config) -> LocalStores {
    match config.store {
        StoreKind::Local => match LocalStores::open(&config.data_dir) {
            Ok(stores) => stores,
            Err(e) => fail(&format!(
                "cannot open the local store in {}: {e}",
                config.data_dir.display()
            )),
        },
        StoreKind::Aws => fail("NOMALY_STORE: 'aws' is not available in this build yet"),
    }
}

fn fail(message: &str) -> ! {
    tracing::error!(message);
    eprintln!("{message}");
    std::process::exit(STARTUP_FAILURE)
}
