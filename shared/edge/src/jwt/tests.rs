//! The JWT verifier's cases, with key pairs (RSA, P-256, Ed25519) and JWKS generated here: valid
//! tokens, every refusal (expired, not yet valid, wrong issuer or audience, foreign signature,
//! algorithm confusion, `alg: none`, unknown key, bad tenant), and JWKS documents refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use application::domain::Scope;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use jsonwebtoken::{encode, get_current_timestamp, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rand::rngs::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use super::verifier::*;

const ISS: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool";
const AUD: &str = "nomaly-client-id";

/// A generated key pair: the signing half and its public JWK.
struct TestKey {
    signing: EncodingKey,
    jwk: Value,
    public_bytes: Vec<u8>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ec_key(kid: &str) -> TestKey {
    let secret = p256::SecretKey::random(&mut OsRng);
    let der = secret.to_pkcs8_der().unwrap();
    let point = secret.public_key().to_encoded_point(false);
    TestKey {
        signing: EncodingKey::from_ec_der(der.as_bytes()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()),
        }),
        public_bytes: point.as_bytes().to_vec(),
    }
}

/// RSA key generation is slow, so one 2048-bit key is shared by the tests.
fn rsa_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let der = private.to_pkcs1_der().unwrap();
        TestKey {
            signing: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "rsa-1",
                "n": b64(&private.n().to_bytes_be()), "e": b64(&private.e().to_bytes_be()),
            }),
            public_bytes: private.n().to_bytes_be(),
        }
    })
}

fn ed_key(kid: &str) -> TestKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let signing = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let der = signing.to_pkcs8_der().unwrap();
    let public = signing.verifying_key().to_bytes();
    TestKey {
        signing: EncodingKey::from_ed_der(der.as_bytes()),
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&public)}),
        public_bytes: public.to_vec(),
    }
}

fn jwks(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }).to_string()
}

fn settings() -> JwtSettings {
    JwtSettings {
        scope_prefix: "nomaly/".to_owned(),
        ..JwtSettings::new(ISS, AUD)
    }
}

fn verifier_for(keys: &[&TestKey]) -> JwtVerifier {
    JwtVerifier::new(settings(), &jwks(keys)).unwrap()
}

fn now() -> u64 {
    get_current_timestamp()
}

fn claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "user-123", "iat": now(), "exp": now() + 600,
        "tenant": "acme", "scope": "nomaly/read nomaly/detect other/write nomaly/unknown",
    })
}

fn with(mut base: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            base.as_object_mut().unwrap().remove(name);
        } else {
            base[name] = value.clone();
        }
    }
    base
}

fn sign(claims: &Value, alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

fn es256(claims: &Value, key: &TestKey) -> String {
    sign(claims, Algorithm::ES256, Some("ec-1"), &key.signing)
}

fn scopes(list: &[Scope]) -> BTreeSet<Scope> {
    list.iter().copied().collect()
}

#[test]
fn when_token_is_valid_should_return_principal_with_tenant_scopes_and_credential_id() {
    let key = ec_key("ec-1");
    let principal = verifier_for(&[&key])
        .verify(&es256(&claims(), &key))
        .unwrap();
    assert_eq!(principal.tenant.as_str(), "acme");
    assert_eq!(principal.scopes, scopes(&[Scope::Read, Scope::Detect]));
    assert_eq!(principal.credential_id, "jwt:user-123");
}

#[test]
fn when_scopes_are_an_array_should_strip_prefix_and_ignore_unknown_entries() {
    let key = ec_key("ec-1");
    let settings = JwtSettings {
        scopes_claim: "cognito:groups".to_owned(),
        ..settings()
    };
    let verifier = JwtVerifier::new(settings, &jwks(&[&key])).unwrap();
    let token = es256(
        &with(
            claims(),
            json!({"cognito:groups": ["nomaly/train", "nomaly/admin", "admins", 7, "nomaly/root"]}),
        ),
        &key,
    );
    let principal = verifier.verify(&token).unwrap();
    assert_eq!(principal.scopes, scopes(&[Scope::Train, Scope::Admin]));
}

#[test]
fn when_scope_lacks_the_configured_prefix_should_ignore_it() {
    let key = ec_key("ec-1");
    let token = es256(
        &with(claims(), json!({"scope": "read admin nomaly/detect"})),
        &key,
    );
    let principal = verifier_for(&[&key]).verify(&token).unwrap();
    assert_eq!(principal.scopes, scopes(&[Scope::Detect]));
}

#[test]
fn when_no_prefix_is_configured_should_map_bare_scope_names() {
    let key = ec_key("ec-1");
    let verifier = JwtVerifier::new(JwtSettings::new(ISS, AUD), &jwks(&[&key])).unwrap();
    let token = es256(&with(claims(), json!({"scope": "read,operator"})), &key);
    let principal = verifier.verify(&token).unwrap();
    assert_eq!(principal.scopes, scopes(&[Scope::Read, Scope::Operator]));
}

#[test]
fn when_scopes_claim_is_absent_should_return_principal_without_scopes() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"scope": null})), &key);
    let principal = verifier_for(&[&key]).verify(&token).unwrap();
    assert!(principal.scopes.is_empty());
}

#[test]
fn when_scopes_claim_has_wrong_type_should_refuse() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"scope": {"read": true}})), &key);
    assert_eq!(
        verifier_for(&[&key]).verify(&token),
        Err(JwtError::InvalidClaim("scope".to_owned()))
    );
}

#[test]
fn when_token_is_expired_should_refuse() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"exp": now() - 3600})), &key);
    assert_eq!(verifier_for(&[&key]).verify(&token), Err(JwtError::Expired));
}

#[test]
fn when_token_expired_within_leeway_should_accept() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"exp": now() - 20})), &key);
    assert!(verifier_for(&[&key]).verify(&token).is_ok());
}

#[test]
fn when_exp_is_missing_should_refuse() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"exp": null})), &key);
    assert_eq!(
        verifier_for(&[&key]).verify(&token),
        Err(JwtError::MissingClaim("exp".to_owned()))
    );
}

#[test]
fn when_nbf_is_in_the_future_should_refuse() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"nbf": now() + 3600})), &key);
    assert_eq!(
        verifier_for(&[&key]).verify(&token),
        Err(JwtError::NotYetValid)
    );
}

#[test]
fn when_nbf_is_in_the_past_should_accept() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"nbf": now() - 10})), &key);
    assert!(verifier_for(&[&key]).verify(&token).is_ok());
}

#[test]
fn when_issuer_is_wrong_should_refuse() {
    let key = ec_key("ec-1");
    let verifier = verifier_for(&[&key]);
    let token = es256(
        &with(claims(), json!({"iss": "https://evil.example"})),
        &key,
    );
    assert_eq!(verifier.verify(&token), Err(JwtError::WrongIssuer));
    let token = es256(&with(claims(), json!({"iss": [ISS]})), &key);
    assert_eq!(verifier.verify(&token), Err(JwtError::WrongIssuer));
    let token = es256(&with(claims(), json!({"iss": null})), &key);
    assert_eq!(
        verifier.verify(&token),
        Err(JwtError::MissingClaim("iss".to_owned()))
    );
}

#[test]
fn when_audience_is_wrong_should_refuse() {
    let key = ec_key("ec-1");
    let verifier = verifier_for(&[&key]);
    let token = es256(&with(claims(), json!({"aud": "other-client"})), &key);
    assert_eq!(verifier.verify(&token), Err(JwtError::WrongAudience));
    let token = es256(&with(claims(), json!({"aud": 42})), &key);
    assert_eq!(verifier.verify(&token), Err(JwtError::WrongAudience));
    // A wrong `aud` is not rescued by a matching `client_id`.
    let token = es256(&with(claims(), json!({"aud": "x", "client_id": AUD})), &key);
    assert_eq!(verifier.verify(&token), Err(JwtError::WrongAudience));
}

#[test]
fn when_aud_is_an_array_containing_the_audience_should_accept() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"aud": ["other", AUD]})), &key);
    assert!(verifier_for(&[&key]).verify(&token).is_ok());
}

#[test]
fn when_cognito_access_token_has_client_id_instead_of_aud_should_accept() {
    let key = ec_key("ec-1");
    let access = with(
        claims(),
        json!({"aud": null, "client_id": AUD, "token_use": "access",
               "scope": "nomaly/read nomaly/detect"}),
    );
    let principal = verifier_for(&[&key]).verify(&es256(&access, &key)).unwrap();
    assert_eq!(principal.scopes, scopes(&[Scope::Read, Scope::Detect]));
}

#[test]
fn when_cognito_access_token_has_another_client_id_should_refuse() {
    let key = ec_key("ec-1");
    let verifier = verifier_for(&[&key]);
    let token = es256(
        &with(claims(), json!({"aud": null, "client_id": "other"})),
        &key,
    );
    assert_eq!(verifier.verify(&token), Err(JwtError::WrongAudience));
    let token = es256(&with(claims(), json!({"aud": null})), &key);
    assert_eq!(
        verifier.verify(&token),
        Err(JwtError::MissingClaim("aud".to_owned()))
    );
}

#[test]
fn when_signed_by_a_different_key_with_the_same_kid_should_refuse() {
    let key = ec_key("ec-1");
    let impostor = ec_key("ec-1");
    let token = es256(&claims(), &impostor);
    assert_eq!(
        verifier_for(&[&key]).verify(&token),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn when_claims_are_tampered_should_refuse() {
    let key = ec_key("ec-1");
    let token = es256(&claims(), &key);
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64(with(claims(), json!({"tenant": "other"}))
        .to_string()
        .as_bytes());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(
        verifier_for(&[&key]).verify(&tampered),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn when_token_is_hs256_signed_with_the_public_key_should_refuse() {
    let ec = ec_key("ec-1");
    let rsa = rsa_key();
    let verifier = verifier_for(&[&ec, rsa]);
    for (kid, secret) in [
        (Some("ec-1"), ec.public_bytes.clone()),
        (Some("rsa-1"), rsa.public_bytes.clone()),
        (None, jwks(&[&ec, rsa]).into_bytes()),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = sign(&claims(), alg, kid, &EncodingKey::from_secret(&secret));
            assert_eq!(verifier.verify(&token), Err(JwtError::UnsupportedAlgorithm));
        }
    }
}

#[test]
fn when_alg_is_none_should_refuse() {
    let key = ec_key("ec-1");
    let verifier = verifier_for(&[&key]);
    let payload = b64(claims().to_string().as_bytes());
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"none","typ":"JWT","kid":"ec-1"}"#,
        r#"{"alg":"None","typ":"JWT"}"#,
    ] {
        let token = format!("{}.{}.", b64(header.as_bytes()), payload);
        assert_eq!(verifier.verify(&token), Err(JwtError::UnsupportedAlgorithm));
    }
}

#[test]
fn when_token_alg_does_not_match_the_key_should_refuse() {
    let ec = ec_key("ec-1");
    let rsa = rsa_key();
    let verifier = verifier_for(&[&ec, rsa]);
    // An RS256 token pointing at the EC key.
    let token = sign(&claims(), Algorithm::RS256, Some("ec-1"), &rsa.signing);
    assert_eq!(verifier.verify(&token), Err(JwtError::UnsupportedAlgorithm));
    // The RSA key is published with alg RS256: PS256 is not allowed with it.
    let token = sign(&claims(), Algorithm::PS256, Some("rsa-1"), &rsa.signing);
    assert_eq!(verifier.verify(&token), Err(JwtError::UnsupportedAlgorithm));
}

#[test]
fn when_rsa_key_has_no_alg_should_accept_rs_and_ps_algorithms() {
    let rsa = rsa_key();
    let mut jwk = rsa.jwk.clone();
    jwk.as_object_mut().unwrap().remove("alg");
    let verifier = JwtVerifier::new(settings(), &json!({"keys": [jwk]}).to_string()).unwrap();
    for alg in [Algorithm::RS512, Algorithm::PS256] {
        let token = sign(&claims(), alg, Some("rsa-1"), &rsa.signing);
        assert!(verifier.verify(&token).is_ok(), "{alg:?}");
    }
}

#[test]
fn when_rs256_token_is_valid_should_accept() {
    let rsa = rsa_key();
    let token = sign(&claims(), Algorithm::RS256, Some("rsa-1"), &rsa.signing);
    let principal = verifier_for(&[rsa]).verify(&token).unwrap();
    assert_eq!(principal.tenant.as_str(), "acme");
    assert_eq!(principal.credential_id, "jwt:user-123");
}

#[test]
fn when_eddsa_token_is_valid_should_accept() {
    let ed = ed_key("ed-1");
    let token = sign(&claims(), Algorithm::EdDSA, Some("ed-1"), &ed.signing);
    assert!(verifier_for(&[&ed]).verify(&token).is_ok());
}

#[test]
fn when_kid_is_unknown_should_refuse_and_signal_refresh() {
    let key = ec_key("ec-1");
    let token = sign(&claims(), Algorithm::ES256, Some("ec-new"), &key.signing);
    let err = verifier_for(&[&key]).verify(&token).unwrap_err();
    assert_eq!(err, JwtError::UnknownKey);
    assert!(err.needs_jwks_refresh());
    assert!(!JwtError::BadSignature.needs_jwks_refresh());
}

#[test]
fn when_jwks_is_rotated_should_verify_with_the_new_verifier() {
    let old = ec_key("ec-1");
    let new = ec_key("ec-2");
    let verifier = verifier_for(&[&old]);
    let token = sign(&claims(), Algorithm::ES256, Some("ec-2"), &new.signing);
    assert!(verifier.verify(&token).unwrap_err().needs_jwks_refresh());
    let rotated = verifier.with_jwks(&jwks(&[&old, &new])).unwrap();
    assert_eq!(rotated.key_count(), 2);
    assert!(rotated.verify(&token).is_ok());
    assert!(verifier.with_jwks("not json").is_err());
}

#[test]
fn when_kid_is_absent_and_jwks_has_one_key_should_accept() {
    let key = ec_key("ec-1");
    let token = sign(&claims(), Algorithm::ES256, None, &key.signing);
    assert!(verifier_for(&[&key]).verify(&token).is_ok());
}

#[test]
fn when_kid_is_absent_and_jwks_has_several_keys_should_refuse() {
    let key = ec_key("ec-1");
    let other = ec_key("ec-2");
    let token = sign(&claims(), Algorithm::ES256, None, &key.signing);
    let err = verifier_for(&[&key, &other]).verify(&token).unwrap_err();
    assert_eq!(err, JwtError::MissingKid);
    assert!(!err.needs_jwks_refresh());
}

#[test]
fn when_tenant_claim_is_missing_should_refuse() {
    let key = ec_key("ec-1");
    let token = es256(&with(claims(), json!({"tenant": null})), &key);
    assert_eq!(
        verifier_for(&[&key]).verify(&token),
        Err(JwtError::MissingClaim("tenant".to_owned()))
    );
}

#[test]
fn when_tenant_claim_is_invalid_should_refuse() {
    let key = ec_key("ec-1");
    let verifier = verifier_for(&[&key]);
    for bad in [
        json!("../x"),
        json!("ACME"),
        json!(""),
        json!(42),
        json!(["acme"]),
    ] {
        let token = es256(&with(claims(), json!({ "tenant": bad })), &key);
        assert_eq!(
            verifier.verify(&token),
            Err(JwtError::BadTenant("tenant".to_owned()))
        );
    }
}

#[test]
fn when_tenant_is_in_a_custom_claim_should_read_it() {
    let key = ec_key("ec-1");
    let settings = JwtSettings {
        tenant_claim: "custom:tenant".to_owned(),
        ..settings()
    };
    let verifier = JwtVerifier::new(settings, &jwks(&[&key])).unwrap();
    let token = es256(&with(claims(), json!({"custom:tenant": "globex"})), &key);
    assert_eq!(verifier.verify(&token).unwrap().tenant.as_str(), "globex");
}

#[test]
fn when_sub_is_missing_or_invalid_should_refuse() {
    let key = ec_key("ec-1");
    let verifier = verifier_for(&[&key]);
    let token = es256(&with(claims(), json!({"sub": null})), &key);
    assert_eq!(
        verifier.verify(&token),
        Err(JwtError::MissingClaim("sub".to_owned()))
    );
    for bad in [json!(""), json!("a\nb")] {
        let token = es256(&with(claims(), json!({ "sub": bad })), &key);
        assert_eq!(
            verifier.verify(&token),
            Err(JwtError::InvalidClaim("sub".to_owned()))
        );
    }
}

#[test]
fn when_token_is_oversized_should_refuse_before_parsing() {
    let key = ec_key("ec-1");
    let token = es256(
        &with(claims(), json!({"pad": "x".repeat(MAX_TOKEN_LEN)})),
        &key,
    );
    assert_eq!(verifier_for(&[&key]).verify(&token), Err(JwtError::TooLong));
    let garbage = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        verifier_for(&[&key]).verify(&garbage),
        Err(JwtError::TooLong)
    );
}

#[test]
fn when_token_is_not_a_compact_jws_should_refuse_as_malformed() {
    let key = ec_key("ec-1");
    let verifier = verifier_for(&[&key]);
    let token = es256(&claims(), &key);
    for bad in [
        String::new(),
        "abc".to_owned(),
        "a.b".to_owned(),
        format!("{token}.extra.parts"),
        format!("!!!{token}"),
    ] {
        assert_eq!(verifier.verify(&bad), Err(JwtError::Malformed), "{bad}");
    }
}

#[test]
fn when_header_has_crit_should_refuse() {
    let key = ec_key("ec-1");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".to_owned());
    header.crit = Some(vec!["exp".to_owned()]);
    let token = encode(&header, &claims(), &key.signing).unwrap();
    assert_eq!(
        verifier_for(&[&key]).verify(&token),
        Err(JwtError::Malformed)
    );
}

#[test]
fn when_error_is_displayed_should_not_contain_the_token() {
    let key = ec_key("ec-1");
    let verifier = verifier_for(&[&key]);
    let tokens = [
        es256(&with(claims(), json!({"exp": now() - 3600})), &key),
        es256(&with(claims(), json!({"tenant": "../x"})), &key),
        es256(&claims(), &ec_key("ec-1")),
        format!("{}.payload.sig", b64(br#"{"alg":"none"}"#)),
    ];
    for token in tokens {
        let err = verifier.verify(&token).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&token));
            for part in token.split('.').filter(|p| p.len() > 3) {
                assert!(!shown.contains(part), "{shown}");
            }
        }
    }
}

#[test]
fn when_jwks_has_an_hmac_oct_key_should_refuse_at_config_time() {
    let key = ec_key("ec-1");
    let oct = json!({"kty": "oct", "kid": "h", "alg": "HS256", "k": b64(b"shared-secret")});
    let doc = json!({"keys": [key.jwk.clone(), oct]}).to_string();
    assert_eq!(
        JwtVerifier::new(settings(), &doc).unwrap_err(),
        JwtConfigError::SymmetricKey(1)
    );
    let mut hs_labelled = key.jwk.clone();
    hs_labelled["alg"] = json!("HS256");
    let doc = json!({"keys": [hs_labelled]}).to_string();
    assert_eq!(
        JwtVerifier::new(settings(), &doc).unwrap_err(),
        JwtConfigError::SymmetricKey(0)
    );
}

#[test]
fn when_jwks_document_is_unusable_should_refuse_at_config_time() {
    let key = ec_key("ec-1");
    let new = |doc: &str| JwtVerifier::new(settings(), doc).unwrap_err();
    assert_eq!(new("<html>"), JwtConfigError::NotJson);
    assert_eq!(new(r#"{"kid":"x"}"#), JwtConfigError::NotJwks);
    assert_eq!(new(r#"{"keys":[]}"#), JwtConfigError::NoUsableKey);
    let mut enc = key.jwk.clone();
    enc["use"] = json!("enc");
    let p521 = json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"});
    let doc = json!({"keys": [enc, p521]}).to_string();
    assert_eq!(new(&doc), JwtConfigError::NoUsableKey);
    let doc = json!({"keys": [key.jwk.clone(), key.jwk.clone()]}).to_string();
    assert_eq!(new(&doc), JwtConfigError::DuplicateKid("ec-1".to_owned()));
}

#[test]
fn when_jwks_key_material_is_bad_should_refuse_at_config_time() {
    let key = ec_key("ec-1");
    let new = |jwk: Value| {
        JwtVerifier::new(settings(), &json!({ "keys": [jwk] }).to_string()).unwrap_err()
    };
    let mut off_curve = key.jwk.clone();
    off_curve["y"] = off_curve["x"].clone();
    assert_eq!(new(off_curve), JwtConfigError::InvalidKey(0));
    let mut no_x = key.jwk.clone();
    no_x.as_object_mut().unwrap().remove("x");
    assert_eq!(new(no_x), JwtConfigError::InvalidKey(0));
    let weak = json!({"kty": "RSA", "kid": "r", "n": b64(&[0xC5; 128]), "e": "AQAB"});
    assert_eq!(new(weak), JwtConfigError::WeakRsaKey(0));
}

#[test]
fn when_settings_are_out_of_range_should_refuse_at_config_time() {
    let key = ec_key("ec-1");
    for bad in [
        JwtSettings {
            leeway_secs: MAX_LEEWAY_SECS + 1,
            ..settings()
        },
        JwtSettings {
            issuer: String::new(),
            ..settings()
        },
        JwtSettings {
            audience: String::new(),
            ..settings()
        },
        JwtSettings {
            tenant_claim: String::new(),
            ..settings()
        },
    ] {
        assert!(matches!(
            JwtVerifier::new(bad, &jwks(&[&key])),
            Err(JwtConfigError::BadSettings(_))
        ));
    }
}
