//! Cold-start wiring of the `train` function; the logic is in `handler`.

use edge::dispatch::invoke;
use edge::logging::init_logging;
use edge::startup::{access, config_or_exit, stores_or_exit};
use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use train::handler::HandlerDeps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = config_or_exit();
    let stores = stores_or_exit(&config).await;
    let access = access(&config, &stores).await;
    let deps = HandlerDeps::new(stores.objects, stores.registry, stores.jobs, &config)
        .with_labels(stores.labels)
        .with_blobs(stores.blobs)
        .with_jobs_engine(stores.engine, &config)
        .with_idempotency(stores.idempotency)
        .with_access(access);
    // Every trigger (API Gateway, S3, EventBridge) arrives as JSON; `invoke` dispatches it.
    run(service_fn(|event: LambdaEvent<Value>| invoke(&deps, event))).await
}
