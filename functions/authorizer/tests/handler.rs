//! The authorizer driven by the `events/authorizer-request.json` fixture against a temp-dir local
//! store: a valid key answers an `Allow` policy whose context the functions admit; a missing,
//! unknown, wrong or revoked key answers `Unauthorized`; the answer never carries the secret.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use application::domain::principal::parse_scopes;
use application::domain::{NewKey, Tenant, UsageKey};
use application::ports::KeyStore;
use application::workflows::authenticate::Authenticator;
use authorizer::handler::{Authorizer, AuthorizerError};
use edge::access::{Access, RouteAccess};
use fixtures::{fixture, request, tenant};
use serde_json::{json, Value};
use store_local::LocalStores;

fn event_with(token: Option<&str>) -> Value {
    let mut event = fixture("authorizer-request.json");
    event["headers"] = json!({"Host": "abc123.execute-api.us-east-1.amazonaws.com"});
    if let Some(token) = token {
        event["headers"]["Authorization"] = json!(format!("Bearer {token}"));
    }
    event
}

#[tokio::test]
async fn when_key_valid_should_allow_the_stage_and_hand_tenant_and_scopes_to_the_functions() {
    let dir = tempfile::tempdir().unwrap();
    let stores = LocalStores::open(dir.path()).unwrap();
    let mut key = NewKey::generate(&tenant(), "ci", parse_scopes("read detect"), 1);
    key.key.usage_key = Some(UsageKey {
        id: "gw1".into(),
        value: "usage-plan-key-of-ci-0123456789".into(),
    });
    stores.items.put_key_if_absent(&key.key).await.unwrap();
    let authorizer = Authorizer::new(Authenticator::new(stores.items.clone(), None));

    let answer = authorizer
        .authorize(&event_with(Some(&key.token)))
        .await
        .unwrap();
    // API Gateway meters the request under the key's own usage-plan key.
    assert_eq!(
        answer["usageIdentifierKey"],
        "usage-plan-key-of-ci-0123456789"
    );
    assert_eq!(answer["principalId"], key.key.id.as_str());
    let statement = &answer["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Resource"],
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*"
    );
    assert_eq!(
        answer["context"],
        json!({"tenant": "acme", "scopes": "read detect", "credential_id": key.key.id})
    );
    let secret = key.token.rsplit('.').next().unwrap();
    assert!(
        !answer.to_string().contains(secret),
        "the answer carries the secret"
    );
    // The key's use is recorded.
    let stored = stores
        .items
        .get_key(&tenant(), &key.key.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.last_used_at.is_some());

    // What API Gateway hands the function from this answer is admitted as that caller.
    let mut routed = fixture("detect-json-rest.json");
    let mut context = answer["context"].clone();
    context["principalId"] = answer["principalId"].clone();
    routed["requestContext"]["authorizer"] = context;
    let principal = Access::Authorizer
        .admit(
            RouteAccess::Requires(application::domain::Scope::Detect),
            &request(&routed),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.tenant, tenant());
    let denied = Access::Authorizer
        .admit(
            RouteAccess::Requires(application::domain::Scope::Train),
            &request(&routed),
        )
        .await
        .unwrap_err();
    assert_eq!(denied.status(), 403);
}

#[tokio::test]
async fn when_key_missing_unknown_wrong_or_revoked_should_answer_unauthorized() {
    let dir = tempfile::tempdir().unwrap();
    let stores = LocalStores::open(dir.path()).unwrap();
    let key = NewKey::generate(&tenant(), "ci", parse_scopes("read"), 1);
    stores.items.put_key_if_absent(&key.key).await.unwrap();
    let authorizer = Authorizer::new(Authenticator::new(stores.items.clone(), None));
    let (prefix, _) = key.token.rsplit_once('.').unwrap();
    let wrong_secret = format!("{prefix}.{}", "f".repeat(64));
    let other_tenant = key.token.replacen("nmly_acme.", "nmly_beta.", 1);
    for (name, token) in [
        ("missing", None),
        ("garbled", Some("nmly_acme.x.y")),
        ("wrong secret", Some(wrong_secret.as_str())),
        ("other tenant", Some(other_tenant.as_str())),
        ("jwt, none configured", Some("eyJhbGciOiJub25lIn0.e30.")),
    ] {
        let e = authorizer.authorize(&event_with(token)).await.unwrap_err();
        assert!(matches!(e, AuthorizerError::Unauthorized), "{name}: {e:?}");
        assert_eq!(e.to_string(), "Unauthorized");
    }
    assert!(authorizer
        .authorize(&event_with(Some(&key.token)))
        .await
        .is_ok());
    stores
        .items
        .revoke_key(&Tenant::parse("acme").unwrap(), &key.key.id, 2)
        .await
        .unwrap();
    let e = authorizer
        .authorize(&event_with(Some(&key.token)))
        .await
        .unwrap_err();
    assert!(matches!(e, AuthorizerError::Unauthorized), "{e:?}");
    let not_request = json!({"type": "TOKEN", "methodArn": "arn:aws:execute-api:r:1:a/s/GET/x"});
    assert!(matches!(
        authorizer.authorize(&not_request).await,
        Err(AuthorizerError::BadEvent(_))
    ));
}
