//! Cold-start wiring of the `backup` function; the logic is in `handler`.

use std::time::Duration;

use backup::handler::HandlerDeps;
use edge::dispatch::invoke;
use edge::logging::init_logging;
use edge::startup::{access, config_or_exit, stores_or_exit, vault_or_exit};
use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = config_or_exit();
    let stores = stores_or_exit(&config).await;
    let vault = vault_or_exit(&stores);
    let deps = HandlerDeps::new(&stores, vault, config.retention, config.job_policy())
        .with_time_limit(Duration::from_secs(config.timeout_secs))
        .with_access(access(&config, &stores).await);
    // API Gateway requests, the schedule's `{"action":"backup"}` and direct restores arrive as
    // JSON; `invoke` dispatches them.
    run(service_fn(|event: LambdaEvent<Value>| invoke(&deps, event))).await
}
