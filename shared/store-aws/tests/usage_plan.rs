//! Per-key metering on API Gateway, on a moto server: a key created through the key management
//! workflow gets its own gateway key in the usage plan (what the authorizer hands API Gateway as
//! `usageIdentifierKey`), and revoking the key deletes it. Skipped when `moto_server` is not on
//! PATH, unless `NOMALY_REQUIRE_TOOLS=1`.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::Arc;

use application::domain::principal::parse_scopes;
use application::domain::{Principal, Tenant};
use application::ports::{KeyStore, UsagePlan};
use application::workflows::api_keys::{ApiKeyAdmin, CreateKeyRequest};
use application::workflows::authenticate::Authenticator;
use aws_sdk_apigateway::Client;
use fixtures::aws_env::AwsEnv;
use store_aws::ApiGatewayUsagePlan;

async fn plan_keys(client: &Client, plan: &str) -> Vec<String> {
    client
        .get_usage_plan_keys()
        .usage_plan_id(plan)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter_map(|k| k.id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn when_a_key_is_created_and_revoked_should_get_and_lose_its_own_usage_plan_key() {
    let Some(env) = AwsEnv::on_moto().await else {
        return;
    };
    let client = Client::new(&env.sdk);
    let plan = client
        .create_usage_plan()
        .name("nomaly-test")
        .send()
        .await
        .unwrap()
        .id
        .unwrap();
    let usage: Arc<dyn UsagePlan> = Arc::new(ApiGatewayUsagePlan::new(client.clone(), &plan));
    let keys: Arc<dyn KeyStore> = env.stores.items.clone();
    let admin = ApiKeyAdmin::new(keys.clone(), usage);
    let caller = Principal {
        tenant: Tenant::parse("acme").unwrap(),
        scopes: parse_scopes("admin"),
        credential_id: "k".into(),
    };
    let issued = admin
        .create(
            &caller,
            CreateKeyRequest {
                name: "ci".into(),
                scopes: vec!["read".into()],
            },
        )
        .await
        .unwrap();
    let stored = keys
        .get_key(&caller.tenant, &issued.view.id)
        .await
        .unwrap()
        .unwrap();
    let usage_key = stored.usage_key.clone().expect("a usage-plan key");
    assert_eq!(plan_keys(&client, &plan).await, vec![usage_key.id.clone()]);
    let gateway_key = client
        .get_api_key()
        .api_key(&usage_key.id)
        .include_value(true)
        .send()
        .await
        .unwrap();
    assert_eq!(gateway_key.value(), Some(usage_key.value.as_str()));
    assert!(gateway_key.enabled());
    // What the authorizer answers API Gateway for this key.
    let admitted = Authenticator::new(keys.clone(), None)
        .admit(Some(&format!("Bearer {}", issued.key)))
        .await
        .unwrap();
    assert_eq!(
        admitted.usage_key.as_deref(),
        Some(usage_key.value.as_str())
    );
    // The gateway key is not the secret, and the secret is not in the gateway.
    let secret = issued.key.rsplit('.').next().unwrap();
    assert_ne!(usage_key.value, secret);

    admin.revoke(&caller.tenant, &issued.view.id).await.unwrap();
    assert!(plan_keys(&client, &plan).await.is_empty());
    assert!(client
        .get_api_key()
        .api_key(&usage_key.id)
        .send()
        .await
        .is_err());
}
