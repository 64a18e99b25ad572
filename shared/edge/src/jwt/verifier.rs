//! Verification of JWT bearer tokens issued by an organisation's identity
//! provider (Amazon Cognito or any OIDC issuer), turning a valid token into a
//! [`Principal`].
//!
//! Security rules, all enforced here:
//! - Only asymmetric keys from the issuer's JWKS are used (RSA, EC P-256/P-384,
//!   Ed25519). A JWKS containing a symmetric (`oct`) key or an `HS*` key is
//!   refused, and `HS*`/`none` tokens are refused, so a public key can never be
//!   abused as an HMAC secret (algorithm confusion).
//! - The algorithm a key may verify comes from the key (`alg`, else `kty`/`crv`);
//!   the token's `alg` header must be one of those, it never picks on its own.
//! - `exp`, `iss` and `sub` are required; `nbf` is checked when present.
//! - Audience: `aud` must contain the configured audience. Cognito *access*
//!   tokens carry no `aud` but a `client_id` claim: when `aud` is absent, a
//!   `client_id` equal to the configured audience (the app client id) is
//!   accepted instead.
//! - Tokens longer than [`MAX_TOKEN_LEN`] bytes are refused before parsing.
//!
//! Key rotation: when a token names a `kid` the verifier does not know,
//! [`JwtError::needs_jwks_refresh`] is true; the caller may refetch the JWKS
//! (rate-limited: the `kid` is attacker-chosen) and build a new verifier with
//! [`JwtVerifier::with_jwks`].
//!
//! The crypto comes from `jsonwebtoken` with its `rust_crypto` feature. With
//! exactly one backend feature it picks that backend by itself; with none or
//! both (e.g. another crate enabling `aws_lc_rs` by feature unification) it
//! would panic at the first verification, so [`JwtVerifier::new`] installs
//! the RustCrypto provider as process default unless one is already set.

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use application::domain::{Principal, Scope, Tenant};

/// Longest token accepted (bytes): real IdP tokens are 1-2 KiB; refusing
/// bigger ones bounds the work an unauthenticated caller can cause.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Largest clock-skew allowance accepted in [`JwtSettings::leeway_secs`].
pub const MAX_LEEWAY_SECS: u64 = 300;

/// Smallest RSA modulus accepted in a JWKS, in bits.
const MIN_RSA_BITS: usize = 2048;

/// Where the tenant and scopes are found in a token and which issuer and
/// audience it must name: differs per identity provider, so it is configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// Exact expected `iss`, e.g. `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC`.
    pub issuer: String,
    /// Expected audience: a value of `aud`, or (when `aud` is absent, as in
    /// Cognito access tokens) the `client_id` claim.
    pub audience: String,
    /// Claim holding the tenant id, e.g. `tenant` or `custom:tenant`.
    pub tenant_claim: String,
    /// Claim holding the scopes: a space-separated string (`scope`) or an
    /// array of strings (e.g. `cognito:groups`).
    pub scopes_claim: String,
    /// Prefix each scope entry must carry and which is stripped before mapping
    /// (e.g. `nomaly/`); entries without it are ignored. Empty: no prefix.
    pub scope_prefix: String,
    /// Clock-skew allowance for `exp`/`nbf`, at most [`MAX_LEEWAY_SECS`].
    pub leeway_secs: u64,
}

impl JwtSettings {
    /// Settings with the suggested defaults (`tenant`, `scope`, no prefix,
    /// 60 s leeway), so only issuer and audience have to be configured.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            tenant_claim: "tenant".to_owned(),
            scopes_claim: "scope".to_owned(),
            scope_prefix: String::new(),
            leeway_secs: 60,
        }
    }
}

/// Why a token was refused. The message never contains the token or any
/// value taken from it (only fixed texts and configured claim names), so it
/// is safe to log and to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Longer than [`MAX_TOKEN_LEN`]; refused without parsing.
    #[error("token too long")]
    TooLong,
    /// Not a three-part JWS compact token with a readable header and claims.
    #[error("malformed token")]
    Malformed,
    /// `alg` is `none`, HMAC, unknown, or not one the selected key allows.
    #[error("token algorithm not allowed")]
    UnsupportedAlgorithm,
    /// The token's `kid` is not in the JWKS (maybe rotated: see
    /// [`JwtError::needs_jwks_refresh`]).
    #[error("token signed with an unknown key")]
    UnknownKey,
    /// The token has no `kid` and the JWKS has more than one key.
    #[error("token names no key id and the key set has several keys")]
    MissingKid,
    /// The signature does not verify with the selected key.
    #[error("bad token signature")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("wrong token issuer")]
    WrongIssuer,
    /// Neither `aud` nor (without `aud`) `client_id` names the configured audience.
    #[error("wrong token audience")]
    WrongAudience,
    /// A required claim is absent (the claim's name).
    #[error("token lacks required claim `{0}`")]
    MissingClaim(String),
    /// A claim has the wrong type or an unacceptable value (the claim's name).
    #[error("token claim `{0}` is invalid")]
    InvalidClaim(String),
    /// The tenant claim is not a string or not a valid tenant id (the claim's name).
    #[error("token claim `{0}` is not a valid tenant id")]
    BadTenant(String),
}

impl JwtError {
    /// True when refetching the JWKS could make the token verifiable (its
    /// `kid` is unknown, e.g. after key rotation). Callers should refetch at
    /// most once per short interval, since any caller can send a random `kid`.
    pub fn needs_jwks_refresh(&self) -> bool {
        matches!(self, Self::UnknownKey)
    }
}

/// Why a JWKS document or the settings cannot be used; raised at start-up or
/// on refresh, so the previous verifier can be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtConfigError {
    /// The document is not JSON.
    #[error("JWKS is not valid JSON")]
    NotJson,
    /// The document is JSON but has no `keys` array.
    #[error("JWKS has no `keys` array")]
    NotJwks,
    /// The JWKS holds a symmetric (`oct`) or `HS*` key (index in `keys`):
    /// refused outright, as it would enable HMAC tokens and leaks a secret.
    #[error("JWKS key #{0} is symmetric (oct/HS*); only asymmetric keys are accepted")]
    SymmetricKey(usize),
    /// A supported key (index in `keys`) has missing or invalid parameters.
    #[error("JWKS key #{0} is invalid")]
    InvalidKey(usize),
    /// An RSA key (index in `keys`) is shorter than 2048 bits.
    #[error("JWKS key #{0} is an RSA key shorter than 2048 bits")]
    WeakRsaKey(usize),
    /// Two usable keys share a `kid`, so key choice would be ambiguous.
    #[error("JWKS has two keys with kid `{0}`")]
    DuplicateKid(String),
    /// No key in the JWKS is a usable signature-verification key.
    #[error("JWKS has no usable signature key")]
    NoUsableKey,
    /// A setting is out of range or empty (which one).
    #[error("invalid JWT settings: {0}")]
    BadSettings(&'static str),
}

/// One usable key from the JWKS and the algorithms it may verify.
#[derive(Debug, Clone)]
struct VerifyingKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// Verifies bearer tokens against one issuer's JWKS; immutable, so it can be
/// shared between concurrent requests and swapped whole on key rotation.
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    settings: JwtSettings,
    keys: Vec<VerifyingKey>,
    base_validation: Validation,
}

/// The JOSE header fields this module looks at; `deny_unknown_fields` is not
/// set (headers carry `typ`, `x5t`, ...), but duplicates are rejected by serde.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

impl JwtVerifier {
    /// Builds a verifier from settings and the issuer's JWKS document (e.g.
    /// `https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json`).
    pub fn new(settings: JwtSettings, jwks_json: &str) -> Result<Self, JwtConfigError> {
        check_settings(&settings)?;
        // Err only means a provider was already chosen for the process: keep it.
        let _already_chosen = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let keys = parse_jwks(jwks_json)?;
        let mut base_validation = Validation::new(Algorithm::RS256);
        base_validation.leeway = settings.leeway_secs;
        base_validation.validate_exp = true;
        base_validation.validate_nbf = true;
        base_validation.validate_aud = true;
        base_validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        base_validation.set_issuer(&[settings.issuer.as_str()]);
        base_validation.set_audience(&[settings.audience.as_str()]);
        Ok(Self {
            settings,
            keys,
            base_validation,
        })
    }

    /// A verifier with the same settings and a new JWKS, for key rotation; on
    /// error the caller keeps using `self`.
    pub fn with_jwks(&self, jwks_json: &str) -> Result<Self, JwtConfigError> {
        Self::new(self.settings.clone(), jwks_json)
    }

    /// How many usable keys the JWKS provided (for start-up/refresh logs).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Checks a bearer token (without the `Bearer ` prefix) and returns the
    /// caller it identifies. A token without any known scope still yields a
    /// principal (with no scopes): authorisation is the route's job.
    pub fn verify(&self, token: &str) -> Result<Principal, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::TooLong);
        }
        let header = parse_header(token)?;
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: extensions we do not implement must be refused.
            return Err(JwtError::Malformed);
        }
        let alg = token_algorithm(&header.alg)?;
        let key = self.select_key(header.kid.as_deref())?;
        if !key.algorithms.contains(&alg) {
            return Err(JwtError::UnsupportedAlgorithm);
        }

        let mut validation = self.base_validation.clone();
        validation.algorithms = vec![alg];
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| map_decode_error(e.kind()))?;
        let claims = data.claims;

        // jsonwebtoken skips `iss`/`aud` checks when the claim has an
        // unexpected type; check both again strictly.
        if claims.get("iss").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(JwtError::WrongIssuer);
        }
        self.check_audience(&claims)?;

        let sub = claims
            .get("sub")
            .ok_or_else(|| JwtError::MissingClaim("sub".to_owned()))?
            .as_str()
            .filter(|s| !s.is_empty() && !s.chars().any(char::is_control))
            .ok_or_else(|| JwtError::InvalidClaim("sub".to_owned()))?;

        let tenant_claim = &self.settings.tenant_claim;
        let tenant = claims
            .get(tenant_claim)
            .ok_or_else(|| JwtError::MissingClaim(tenant_claim.clone()))?
            .as_str()
            .and_then(|t| Tenant::parse(t).ok())
            .ok_or_else(|| JwtError::BadTenant(tenant_claim.clone()))?;

        let scopes = self.scopes(&claims)?;

        Ok(Principal {
            tenant,
            scopes,
            credential_id: format!("jwt:{sub}"),
        })
    }

    /// Picks the key named by `kid`, or the only key when the token has none.
    fn select_key(&self, kid: Option<&str>) -> Result<&VerifyingKey, JwtError> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or(JwtError::UnknownKey),
            None => match self.keys.as_slice() {
                [only] => Ok(only),
                _ => Err(JwtError::MissingKid),
            },
        }
    }

    /// `aud` (string or array) must contain the audience; without `aud`,
    /// Cognito access tokens are accepted when `client_id` equals it.
    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), JwtError> {
        let expected = self.settings.audience.as_str();
        match claims.get("aud") {
            Some(Value::String(aud)) if aud == expected => Ok(()),
            Some(Value::Array(auds)) if auds.iter().any(|a| a.as_str() == Some(expected)) => Ok(()),
            Some(Value::Null) | None => match claims.get("client_id") {
                Some(Value::String(client_id)) if client_id == expected => Ok(()),
                Some(_) => Err(JwtError::WrongAudience),
                None => Err(JwtError::MissingClaim("aud".to_owned())),
            },
            Some(_) => Err(JwtError::WrongAudience),
        }
    }

    /// Reads the scopes claim (absent: no scopes), keeping only entries that
    /// carry the prefix and name a Nomaly scope.
    fn scopes(&self, claims: &Map<String, Value>) -> Result<BTreeSet<Scope>, JwtError> {
        let prefix = self.settings.scope_prefix.as_str();
        let map_entry = |entry: &str| entry.strip_prefix(prefix).and_then(Scope::parse);
        match claims.get(&self.settings.scopes_claim) {
            None | Some(Value::Null) => Ok(BTreeSet::new()),
            Some(Value::String(list)) => Ok(list
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter_map(map_entry)
                .collect()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .filter_map(Value::as_str)
                .filter_map(map_entry)
                .collect()),
            Some(_) => Err(JwtError::InvalidClaim(self.settings.scopes_claim.clone())),
        }
    }
}

/// Refuses empty names and an oversized leeway (which could also overflow
/// `jsonwebtoken`'s `now - leeway` arithmetic).
fn check_settings(settings: &JwtSettings) -> Result<(), JwtConfigError> {
    if settings.issuer.is_empty() {
        return Err(JwtConfigError::BadSettings("issuer is empty"));
    }
    if settings.audience.is_empty() {
        return Err(JwtConfigError::BadSettings("audience is empty"));
    }
    if settings.tenant_claim.is_empty() {
        return Err(JwtConfigError::BadSettings("tenant_claim is empty"));
    }
    if settings.scopes_claim.is_empty() {
        return Err(JwtConfigError::BadSettings("scopes_claim is empty"));
    }
    if settings.leeway_secs > MAX_LEEWAY_SECS {
        return Err(JwtConfigError::BadSettings("leeway_secs is above 300"));
    }
    Ok(())
}

/// Decodes the header of a three-part compact JWS.
fn parse_header(token: &str) -> Result<RawHeader, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// Maps the header's `alg` to an asymmetric algorithm; `none`, `HS*` and
/// unknown names are refused.
fn token_algorithm(name: &str) -> Result<Algorithm, JwtError> {
    let alg: Algorithm = name.parse().map_err(|_| JwtError::UnsupportedAlgorithm)?;
    if alg.family() == AlgorithmFamily::Hmac {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    Ok(alg)
}

/// Translates `jsonwebtoken` errors into ours (dropping their details).
fn map_decode_error(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => JwtError::BadSignature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => JwtError::InvalidClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName => JwtError::UnsupportedAlgorithm,
        _ => JwtError::Malformed,
    }
}

/// Parses a JWKS, keeping the signature keys this module supports.
fn parse_jwks(jwks_json: &str) -> Result<Vec<VerifyingKey>, JwtConfigError> {
    let doc: Value = serde_json::from_str(jwks_json).map_err(|_| JwtConfigError::NotJson)?;
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JwtConfigError::NotJwks)?;
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some(key) = parse_jwk(index, entry)? else {
            continue;
        };
        if let Some(kid) = key
            .kid
            .as_ref()
            .filter(|kid| keys.iter().any(|k| k.kid.as_ref() == Some(*kid)))
        {
            return Err(JwtConfigError::DuplicateKid(kid.clone()));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(JwtConfigError::NoUsableKey);
    }
    Ok(keys)
}

/// One JWK: `Ok(None)` for keys that are not for us (encryption keys,
/// unsupported types or curves), an error for dangerous or broken ones.
fn parse_jwk(index: usize, jwk: &Value) -> Result<Option<VerifyingKey>, JwtConfigError> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kty = text("kty").ok_or(JwtConfigError::InvalidKey(index))?;
    let declared_alg = text("alg");
    if kty == "oct" || declared_alg.is_some_and(|a| a.starts_with("HS")) {
        return Err(JwtConfigError::SymmetricKey(index));
    }
    if text("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let verifies = |ops: &Vec<Value>| ops.iter().any(|op| op.as_str() == Some("verify"));
    if jwk
        .get("key_ops")
        .and_then(Value::as_array)
        .is_some_and(|ops| !verifies(ops))
    {
        return Ok(None);
    }

    // Algorithms the key type allows; `alg`, when present, narrows them to one.
    let (family_algs, key): (&[Algorithm], DecodingKey) = match (kty, text("crv")) {
        ("RSA", _) => {
            let (Some(n), Some(e)) = (text("n"), text("e")) else {
                return Err(JwtConfigError::InvalidKey(index));
            };
            let key = DecodingKey::from_rsa_components(n, e)
                .map_err(|_| JwtConfigError::InvalidKey(index))?;
            if rsa_modulus_bits(&key) < MIN_RSA_BITS {
                return Err(JwtConfigError::WeakRsaKey(index));
            }
            (AlgorithmFamily::Rsa.algorithms(), key)
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (Some(x), Some(y)) = (text("x"), text("y")) else {
                return Err(JwtConfigError::InvalidKey(index));
            };
            let key = DecodingKey::from_ec_components(x, y)
                .map_err(|_| JwtConfigError::InvalidKey(index))?;
            let algs: &[Algorithm] = if crv == "P-256" {
                &[Algorithm::ES256]
            } else {
                &[Algorithm::ES384]
            };
            (algs, key)
        }
        ("OKP", Some("Ed25519")) => {
            let x = text("x").ok_or(JwtConfigError::InvalidKey(index))?;
            let key = DecodingKey::from_ed_components(x)
                .map_err(|_| JwtConfigError::InvalidKey(index))?;
            (&[Algorithm::EdDSA], key)
        }
        // Other key types and curves (P-521, Ed448, X25519, ...) are not supported.
        _ => return Ok(None),
    };

    let algorithms: Vec<Algorithm> = match declared_alg {
        None => family_algs.to_vec(),
        Some(name) => match name.parse::<Algorithm>() {
            Ok(alg) if family_algs.contains(&alg) => vec![alg],
            // An encryption algorithm (RSA-OAEP, ...) or one that does not fit the key.
            _ => return Ok(None),
        },
    };

    // EC and Ed keys are parsed when a verifier is made: do it once now so a
    // bad point is reported at configuration time. (A bogus signature is fine:
    // only a key error makes this an `Err`.)
    if algorithms
        .first()
        .is_some_and(|first| jsonwebtoken::crypto::verify("", b"", &key, *first).is_err())
    {
        return Err(JwtConfigError::InvalidKey(index));
    }

    Ok(Some(VerifyingKey {
        kid: text("kid").map(str::to_owned),
        algorithms,
        key,
    }))
}

/// Bit length of an RSA key's modulus (leading zero bytes ignored).
fn rsa_modulus_bits(key: &DecodingKey) -> usize {
    match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, .. } => {
            let mut bytes = n.iter().skip_while(|b| **b == 0);
            match bytes.next() {
                Some(first) => {
                    let rest = bytes.count();
                    rest * 8 + (8 - first.leading_zeros() as usize)
                }
                None => 0,
            }
        }
        DecodingKeyKind::SecretOrDer(_) => 0,
    }
}
