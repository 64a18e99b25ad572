//! Cold-start wiring of the `keys` function; the logic is in `handler`.

use edge::dispatch::invoke;
use edge::logging::init_logging;
use edge::startup::{access, config_or_exit, stores_or_exit};
use keys::handler::HandlerDeps;
use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = config_or_exit();
    let stores = stores_or_exit(&config).await;
    let deps = HandlerDeps::new(stores.keys.clone(), stores.usage.clone())
        .with_idempotency(stores.idempotency.clone())
        .with_access(access(&config, &stores).await);
    // API Gateway requests and direct `{"action":"issue_key"}` invocations arrive as JSON.
    run(service_fn(|event: LambdaEvent<Value>| invoke(&deps, event))).await
}
