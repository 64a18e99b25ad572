//! Cold-start wiring of the `detect` function; the logic is in `handler`.

use detect::handler::HandlerDeps;
use edge::dispatch::invoke;
use edge::logging::init_logging;
use edge::startup::{access, config_or_exit, stores_or_exit};
use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = config_or_exit();
    let stores = stores_or_exit(&config).await;
    let access = access(&config, &stores).await;
    let deps = HandlerDeps::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs,
        &config,
    )
    .with_labels(
        stores.registry,
        stores.labels,
        stores.blobs.clone(),
        &config,
    )
    .with_series(stores.objects, stores.admin, stores.series, &config)
    .with_idempotency(stores.idempotency)
    .with_streams(stores.ledger, stores.alerts, stores.dead_letters, &config)
    .with_blobs(stores.blobs)
    .with_signer(stores.signer, &config)
    .with_jobs_engine(stores.engine, &config)
    .with_access(access);
    // Every trigger (API Gateway, S3, Kinesis, SQS) arrives as JSON; `invoke` dispatches it.
    run(service_fn(|event: LambdaEvent<Value>| invoke(&deps, event))).await
}
