//! Cold-start wiring of the `authorizer` function; the logic is in `handler`.

use authorizer::handler::Authorizer;
use edge::logging::init_logging;
use edge::startup::{authenticator_or_exit, config_or_exit, stores_or_exit};
use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let config = config_or_exit();
    let stores = stores_or_exit(&config).await;
    let authorizer = Authorizer::new(authenticator_or_exit(&config, &stores).await);
    run(service_fn(|event: LambdaEvent<Value>| {
        let authorizer = &authorizer;
        async move { Ok::<Value, Error>(authorizer.authorize(&event.payload).await?) }
    }))
    .await
}
