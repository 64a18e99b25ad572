//! The REQUEST authorizer: an API Gateway authorizer event in, a policy (or `Unauthorized`) out.

use std::time::Instant;

use application::workflows::authenticate::{Admitted, Authenticator};
use application::ServiceError;
use edge::access::authorizer_context;
use serde_json::{json, Value};
use thiserror::Error;

/// The error message API Gateway turns into its 401 answer.
pub const UNAUTHORIZED: &str = "Unauthorized";

/// Why no policy was answered.
#[derive(Debug, Error)]
pub enum AuthorizerError {
    /// No valid credential: API Gateway answers 401 (the message must be exactly this).
    #[error("Unauthorized")]
    Unauthorized,
    /// The event is not a REST REQUEST authorizer event (a deployment mistake).
    #[error("not an API Gateway REQUEST authorizer event: {0}")]
    BadEvent(String),
    /// The key store could not be read: API Gateway answers 500, and nothing is allowed.
    #[error("the credential could not be checked; retry later")]
    Unavailable,
}

/// Checks credentials for API Gateway.
#[derive(Clone)]
pub struct Authorizer {
    authenticator: Authenticator,
}

impl Authorizer {
    /// An authorizer over `authenticator`.
    pub fn new(authenticator: Authenticator) -> Self {
        Self { authenticator }
    }

    /// Answers one authorizer event: an `Allow` policy on every method of the API's stage (so a
    /// cached answer fits every route), with `principalId` the credential's id and the context
    /// the functions read.
    pub async fn authorize(&self, event: &Value) -> Result<Value, AuthorizerError> {
        let started = Instant::now();
        let resource = stage_wildcard(event)?;
        let header = header(event, "authorization");
        let outcome = self.authenticator.admit(header).await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        match outcome {
            Ok(Admitted {
                principal,
                usage_key,
            }) => {
                tracing::info!(tenant = %principal.tenant, credential_id = %principal.credential_id, scopes = %principal.scope_string(), duration_ms, "allowed");
                let mut answer = json!({
                    "principalId": principal.credential_id,
                    "policyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Action": "execute-api:Invoke",
                            "Effect": "Allow",
                            "Resource": resource,
                        }],
                    },
                    "context": Value::Object(authorizer_context(&principal)),
                });
                if let (Some(usage_key), Some(fields)) = (usage_key, answer.as_object_mut()) {
                    fields.insert("usageIdentifierKey".into(), Value::String(usage_key));
                }
                Ok(answer)
            }
            Err(ServiceError::Unauthenticated(reason)) => {
                tracing::info!(reason, duration_ms, "refused");
                Err(AuthorizerError::Unauthorized)
            }
            Err(e) => {
                tracing::error!(code = e.code(), error = %e, duration_ms, "credential check failed");
                Err(AuthorizerError::Unavailable)
            }
        }
    }
}

/// `arn:...:execute-api:{region}:{account}:{api}/{stage}/*` from the event's `methodArn`
/// (`.../{api}/{stage}/{method}/{path}`).
fn stage_wildcard(event: &Value) -> Result<String, AuthorizerError> {
    if event.get("type").and_then(Value::as_str) != Some("REQUEST") {
        return Err(AuthorizerError::BadEvent("its type is not REQUEST".into()));
    }
    let arn = event
        .get("methodArn")
        .and_then(Value::as_str)
        .ok_or_else(|| AuthorizerError::BadEvent("it has no methodArn".into()))?;
    let (prefix, path) = arn
        .split_once('/')
        .filter(|(prefix, _)| prefix.starts_with("arn:") && prefix.contains(":execute-api:"))
        .ok_or_else(|| {
            AuthorizerError::BadEvent("its methodArn is not an execute-api ARN".into())
        })?;
    let stage = path
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuthorizerError::BadEvent("its methodArn names no stage".into()))?;
    Ok(format!("{prefix}/{stage}/*"))
}

/// A header of the event, by case-insensitive name.
fn header<'e>(event: &'e Value, name: &str) -> Option<&'e str> {
    event
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_method_arn_given_should_allow_every_route_of_its_stage() {
        let event = json!({"type": "REQUEST",
            "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/api/v1/detect"});
        assert_eq!(
            stage_wildcard(&event).unwrap(),
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*"
        );
        for bad in [
            json!({"type": "TOKEN", "methodArn": "arn:aws:execute-api:r:1:a/s/GET/x"}),
            json!({"type": "REQUEST"}),
            json!({"type": "REQUEST", "methodArn": "arn:aws:s3:::bucket/key"}),
        ] {
            assert!(
                matches!(stage_wildcard(&bad), Err(AuthorizerError::BadEvent(_))),
                "{bad}"
            );
        }
        let headers = json!({"headers": {"AUTHORIZATION": "Bearer x"}});
        assert_eq!(header(&headers, "authorization"), Some("Bearer x"));
    }
}
