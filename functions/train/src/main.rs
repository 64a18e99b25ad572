//! Cold-start wiring of the `train` function; the logic is in `handler`.

use lambda_http::{run, service_fn, Error, Request};
use service::startup::{config_or_exit, init_logging, stores_or_exit};
use train::handler::{handle, HandlerDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = config_or_exit();
    let stores = stores_or_exit(&config);
    let deps = HandlerDeps::new(stores.objects, stores.items.clone(), stores.items, &config);
    run(service_fn(|request: Request| handle(&deps, request))).await
}
