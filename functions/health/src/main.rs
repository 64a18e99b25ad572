//! Cold-start wiring of the `health` function; the logic is in `handler`.

use health::handler::{handle, HandlerDeps};
use lambda_http::{run, service_fn, Error, Request};
use service::startup::{config_or_exit, init_logging, stores_or_exit};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = config_or_exit();
    let stores = stores_or_exit(&config).await;
    let deps = HandlerDeps::new(stores.objects, stores.registry);
    run(service_fn(|request: Request| handle(&deps, request))).await
}
