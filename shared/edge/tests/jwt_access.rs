//! JWT callers through the edge, as a function admits them: a key pair and its JWKS made here,
//! the JWKS served over HTTP on 127.0.0.1 (stopped with the test) and fetched by the same start-up
//! code the functions run, a REST API request admitted or refused on its `Authorization` header,
//! and the issuer's key rotation picked up by refetching the JWKS.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use application::domain::Scope;
use application::ports::{Stores, TokenVerifier};
use application::workflows::authenticate::Authenticator;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use edge::access::{Access, RouteAccess};
use edge::jwt::{JwksSource, JwksVerifier, JwtSettings};
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{json, Value};

const ISSUER: &str = "https://idp.example/pool";
const AUDIENCE: &str = "nomaly";

/// A P-256 signing key and its public JWK.
fn key(kid: &str) -> (EncodingKey, Value) {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let point = secret.public_key().to_encoded_point(false);
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    (
        EncodingKey::from_ec_der(secret.to_pkcs8_der().unwrap().as_bytes()),
        json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
               "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())}),
    )
}

fn token(signing: &EncodingKey, kid: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    encode(&header, &claims, signing).unwrap()
}

fn claims(tenant: &str, scope: &str) -> Value {
    let now = get_current_timestamp();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "exp": now + 600, "iat": now,
           "tenant": tenant, "scope": scope})
}

/// Serves the JWKS in `document` on 127.0.0.1 (a free port) until the test ends; counts GETs.
fn serve_jwks(document: Arc<Mutex<String>>, fetches: Arc<Mutex<usize>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            *fetches.lock().unwrap() += 1;
            let body = document.lock().unwrap().clone();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn request(authorization: &str) -> lambda_http::Request {
    let event = json!({"resource": "/api/v1/models", "path": "/api/v1/models", "httpMethod": "GET",
        "headers": {"Authorization": authorization}, "multiValueHeaders": {"Authorization": [authorization]},
        "queryStringParameters": null, "multiValueQueryStringParameters": null, "pathParameters": null,
        "stageVariables": null, "body": null, "isBase64Encoded": false,
        "requestContext": {"accountId": "1", "apiId": "a", "stage": "prod", "requestId": "r",
            "httpMethod": "GET", "resourcePath": "/api/v1/models", "path": "/prod/api/v1/models",
            "identity": {"sourceIp": "192.0.2.1"}}});
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn local_stores(dir: &std::path::Path) -> Stores {
    let stores = store_local::LocalStores::open(dir).unwrap();
    Stores::over(stores.objects, stores.items, None)
}

#[tokio::test]
async fn when_a_jwt_of_the_issuer_is_sent_should_admit_its_tenant_and_scopes_and_follow_key_rotation(
) {
    let (first, first_jwk) = key("k1");
    let document = Arc::new(Mutex::new(json!({"keys": [first_jwk]}).to_string()));
    let fetches = Arc::new(Mutex::new(0usize));
    let url = serve_jwks(document.clone(), fetches.clone());
    let settings = JwtSettings {
        scope_prefix: "nomaly/".into(),
        ..JwtSettings::new(ISSUER, AUDIENCE)
    };
    let verifier = JwksVerifier::load(settings, JwksSource::Url(url))
        .await
        .unwrap()
        .with_refresh_interval(Duration::ZERO);
    assert_eq!(*fetches.lock().unwrap(), 1);
    let dir = tempfile::tempdir().unwrap();
    let stores = local_stores(dir.path());
    let tokens: Arc<dyn TokenVerifier> = Arc::new(verifier);
    let access = Access::Inline(Authenticator::new(stores.keys.clone(), Some(tokens)));
    let read = RouteAccess::Requires(Scope::Read);

    let good = token(
        &first,
        "k1",
        claims("acme", "nomaly/read nomaly/detect other/x"),
    );
    let principal = access
        .admit(read, &request(&format!("Bearer {good}")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.tenant.as_str(), "acme");
    assert_eq!(principal.scope_string(), "read detect");
    assert_eq!(principal.credential_id, "jwt:user-1");
    let e = access
        .admit(
            RouteAccess::Requires(Scope::Train),
            &request(&format!("Bearer {good}")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);
    // Operator claimed by a tenant's token is dropped: only the system tenant acts for all.
    let claims_operator = token(&first, "k1", claims("acme", "nomaly/read nomaly/operator"));
    let e = access
        .admit(
            RouteAccess::Requires(Scope::Operator),
            &request(&format!("Bearer {claims_operator}")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);

    // Refused: expired, wrong audience, wrong issuer, signed by a stranger, no tenant.
    let now = get_current_timestamp();
    let (stranger, _) = key("k1");
    let mut expired = claims("acme", "nomaly/read");
    expired["exp"] = json!(now - 3600);
    let mut audience = claims("acme", "nomaly/read");
    audience["aud"] = json!("someone-else");
    let mut issuer = claims("acme", "nomaly/read");
    issuer["iss"] = json!("https://evil.example");
    let mut no_tenant = claims("acme", "nomaly/read");
    no_tenant.as_object_mut().unwrap().remove("tenant");
    for (what, bad) in [
        ("expired", token(&first, "k1", expired)),
        ("audience", token(&first, "k1", audience)),
        ("issuer", token(&first, "k1", issuer)),
        (
            "stranger",
            token(&stranger, "k1", claims("acme", "nomaly/read")),
        ),
        ("no tenant", token(&first, "k1", no_tenant)),
    ] {
        let e = access
            .admit(read, &request(&format!("Bearer {bad}")))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 401, "{what}: {e}");
        assert!(!e.to_string().contains(&bad), "{what}: the token is echoed");
    }

    // The issuer rotates to k2: a k2 token is unknown, the JWKS is fetched again, and it passes.
    let (second, second_jwk) = key("k2");
    *document.lock().unwrap() = json!({"keys": [second_jwk]}).to_string();
    let rotated = token(&second, "k2", claims("beta", "nomaly/read"));
    let principal = access
        .admit(read, &request(&format!("Bearer {rotated}")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.tenant.as_str(), "beta");
    assert_eq!(*fetches.lock().unwrap(), 2);
}

#[tokio::test]
async fn when_the_jwks_cannot_be_had_should_fail_at_start_naming_why() {
    let settings = JwtSettings::new(ISSUER, AUDIENCE);
    let e = JwksVerifier::load(
        settings.clone(),
        JwksSource::Url("ftp://idp.example/jwks".into()),
    )
    .await
    .err()
    .unwrap();
    assert!(e.to_string().contains("http"), "{e}");
    let e = JwksVerifier::load(
        settings.clone(),
        JwksSource::Url("http://127.0.0.1:9/jwks".into()),
    )
    .await
    .err()
    .unwrap();
    assert!(e.to_string().contains("fetching the JWKS failed"), "{e}");
    let e = JwksVerifier::load(
        settings,
        JwksSource::Inline(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).to_string()),
    )
    .await
    .err()
    .unwrap();
    assert!(e.to_string().contains("symmetric"), "{e}");
}
