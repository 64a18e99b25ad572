//! Cold-start wiring of the `detect` function; the logic is in `handler`.

use std::sync::Arc;

use detect::handler::{handle, HandlerDeps};
use lambda_http::{run, service_fn, Error, Request};
use service::startup::{config_or_exit, init_logging, stores_or_exit};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = config_or_exit();
    let stores = stores_or_exit(&config).await;
    let deps = HandlerDeps::new(
        Arc::new(stores.objects),
        Arc::new(stores.registry),
        Arc::new(stores.jobs),
        &config,
    );
    run(service_fn(|request: Request| handle(&deps, request))).await
}
