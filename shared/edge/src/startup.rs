//! The composition root every function's `main` shares: configuration that exits naming the bad
//! variable, and the stores the configuration selects, opened once per cold start. The AWS store
//! is compiled in only with the `aws` feature (the Lambda builds); without it, asking for it
//! exits with a message saying how to build it.

use std::sync::Arc;

use application::ports::{ObjectAdmin, Stores};
use store_local::{JsonLinesAlerts, JsonLinesDeadLetters, LocalObjectStore, LocalStores};

use crate::access::Access;
use crate::config::{AuthMode, Config, StoreKind};
use application::ports::TokenVerifier;
use application::workflows::authenticate::Authenticator;

use crate::jwt::{JwksVerifier, JwtSettings};

/// The local vault's directory under the data directory.
pub const LOCAL_VAULT_DIR: &str = "backup-vault";

/// Exit status of a function that cannot start (bad configuration or unreachable store).
pub const STARTUP_FAILURE: i32 = 2;

/// The configuration from the environment; on error, logs the message (which names the
/// variable) and exits.
pub fn config_or_exit() -> Config {
    match Config::from_env() {
        Ok(config) => config,
        Err(e) => fail(&format!("invalid configuration: {e}")),
    }
}

/// The local adapters under `data_dir`, with the vault in its `backup-vault/` directory, and
/// alerts and dead letters appended to `alerts.jsonl` and `dead-letters.jsonl` there.
pub fn local_stores(data_dir: &std::path::Path) -> Result<Stores, application::ports::StoreError> {
    let stores = LocalStores::open(data_dir)?;
    let vault: Arc<dyn ObjectAdmin> =
        Arc::new(LocalObjectStore::open(data_dir.join(LOCAL_VAULT_DIR))?);
    let mut ports = Stores::over(stores.objects, stores.items, Some(vault));
    ports.alerts = Arc::new(JsonLinesAlerts::new(data_dir));
    ports.dead_letters = Arc::new(JsonLinesDeadLetters::new(data_dir));
    Ok(ports)
}

/// The stores `config` selects, opened once per cold start; on error, logs and exits. The AWS
/// clients connect lazily, so an unreachable AWS store shows in the first request (503) and in
/// the readiness check, not here.
pub async fn stores_or_exit(config: &Config) -> Stores {
    match config.store {
        StoreKind::Local => match local_stores(&config.data_dir) {
            Ok(stores) => {
                tracing::info!(store = "local", data_dir = %config.data_dir.display(), "stores opened");
                stores
            }
            Err(e) => fail(&format!(
                "cannot open the local store in {}: {e}",
                config.data_dir.display()
            )),
        },
        StoreKind::Aws => aws_stores(config).await,
    }
}

/// The S3 and DynamoDB adapters named by `config`, with the backup bucket as the vault, alerts
/// on the EventBridge bus and dead letters on the SQS queue when configured.
#[cfg(feature = "aws")]
async fn aws_stores(config: &Config) -> Stores {
    use store_aws::{
        load_sdk_config, AwsStores, AwsTuning, EventBridgeAlerts, S3ObjectStore, SdkTarget,
        SqsDeadLetters,
    };

    let Some(names) = &config.aws else {
        fail("NOMALY_BUCKET and NOMALY_TABLE are required when NOMALY_STORE is 'aws'")
    };
    let sdk = load_sdk_config(&SdkTarget::Environment, &AwsTuning::default()).await;
    tracing::info!(
        store = "aws",
        bucket = %names.bucket,
        table = %names.table,
        backup_bucket = config.backup_bucket.as_deref().unwrap_or("(none)"),
        event_bus = config.event_bus.as_deref().unwrap_or("(none)"),
        dead_letter_queue = config.dead_letter_queue_url.as_deref().unwrap_or("(none)"),
        region = sdk.region().map(|r| r.as_ref()).unwrap_or("(none)"),
        endpoint = sdk.endpoint_url().unwrap_or("(default AWS endpoints)"),
        "stores opened"
    );
    let stores = AwsStores::new(&sdk, &names.bucket, &names.table);
    let vault = config.backup_bucket.as_deref().map(|bucket| {
        Arc::new(S3ObjectStore::new(stores.objects.client().clone(), bucket))
            as Arc<dyn ObjectAdmin>
    });
    let mut ports = Stores::over(stores.objects, stores.items, vault);
    if let Some(arn) = &config.jobs_state_machine_arn {
        ports.engine = Some(Arc::new(store_aws::StepFunctionsRunner::new(
            aws_sdk_sfn::Client::new(&sdk),
            arn,
        )));
    }
    if let Some(plan) = &config.usage_plan_id {
        ports.usage = Arc::new(store_aws::ApiGatewayUsagePlan::new(
            aws_sdk_apigateway::Client::new(&sdk),
            plan,
        ));
    }
    if let Some(bus) = &config.event_bus {
        ports.alerts = Arc::new(EventBridgeAlerts::from_sdk(&sdk, bus));
    }
    if let Some(queue_url) = &config.dead_letter_queue_url {
        ports.dead_letters = Arc::new(SqsDeadLetters::from_sdk(&sdk, queue_url));
    }
    ports
}

/// Without the `aws` feature there is no AWS adapter to open: exit saying how to get one.
#[cfg(not(feature = "aws"))]
async fn aws_stores(_config: &Config) -> Stores {
    fail("NOMALY_STORE is 'aws', but this build has no AWS store: build the functions with `--features aws` (as the Lambda builds and `cargo lambda watch --features aws` do)")
}

/// The credential check `config` sets up: API keys in the key store, and JWTs when an issuer is
/// configured (its keys fetched now; exits naming the variable when they cannot be had). The
/// authorizer function runs it, and so do the functions in `inline` mode.
pub async fn authenticator_or_exit(config: &Config, stores: &Stores) -> Authenticator {
    let tokens = match &config.jwt {
        None => None,
        Some(jwt) => {
            let settings = JwtSettings {
                issuer: jwt.issuer.clone(),
                audience: jwt.audience.clone(),
                tenant_claim: jwt.tenant_claim.clone(),
                scopes_claim: jwt.scopes_claim.clone(),
                scope_prefix: jwt.scope_prefix.clone(),
                ..JwtSettings::new(jwt.issuer.clone(), jwt.audience.clone())
            };
            match JwksVerifier::load(settings, jwt.jwks.clone()).await {
                Ok(verifier) => Some(Arc::new(verifier) as Arc<dyn TokenVerifier>),
                Err(e) => fail(&format!("NOMALY_JWT_JWKS_URL / NOMALY_JWT_JWKS: {e}")),
            }
        }
    };
    Authenticator::new(stores.keys.clone(), tokens)
        .with_token_usage_key(config.jwt_usage_key.clone())
}

/// How the function admits callers, as `config` says: the authorizer's context, or the same check
/// run here.
pub async fn access(config: &Config, stores: &Stores) -> Access {
    match config.auth {
        AuthMode::Authorizer => Access::Authorizer,
        AuthMode::Inline => Access::Inline(authenticator_or_exit(config, stores).await),
    }
}

/// The backup vault of `stores`; exits naming `NOMALY_BACKUP_BUCKET` when there is none.
pub fn vault_or_exit(stores: &Stores) -> Arc<dyn ObjectAdmin> {
    match &stores.vault {
        Some(vault) => vault.clone(),
        None => fail(
            "NOMALY_BACKUP_BUCKET is required by the backup function when NOMALY_STORE is 'aws'",
        ),
    }
}

fn fail(message: &str) -> ! {
    tracing::error!(message);
    eprintln!("{message}");
    std::process::exit(STARTUP_FAILURE)
}
