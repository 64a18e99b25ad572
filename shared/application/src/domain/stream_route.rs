//! Which tenant (and, optionally, which model) the records of each stream or queue belong to: set
//! by the operator in configuration, never by a record, so a producer cannot reach another
//! tenant's models.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::names::validate_model_name;
use super::Tenant;

/// The tenant and default model of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRoute {
    /// The tenant every record of the source belongs to.
    pub tenant: Tenant,
    /// The model its records are scored with when they name none.
    pub model: Option<String>,
}

/// Routes by the source's ARN (`eventSourceARN` of the delivery).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamRoutes(BTreeMap<String, StreamRoute>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    tenant: String,
    #[serde(default)]
    model: Option<String>,
}

impl StreamRoutes {
    /// Parses `{"<source ARN>": {"tenant": "...", "model": "..."}, ...}`, checking every tenant
    /// and model name; the message says which entry is wrong.
    pub fn parse(json: &str) -> Result<Self, String> {
        let raw: BTreeMap<String, RawRoute> = serde_json::from_str(json)
            .map_err(|e| format!("not an object of {{\"tenant\",\"model\"}} by source ARN: {e}"))?;
        let mut routes = BTreeMap::new();
        for (arn, route) in raw {
            let tenant = Tenant::parse(&route.tenant).map_err(|e| format!("{arn}: {e}"))?;
            if let Some(model) = &route.model {
                validate_model_name(model).map_err(|e| format!("{arn}: {e}"))?;
            }
            routes.insert(
                arn,
                StreamRoute {
                    tenant,
                    model: route.model,
                },
            );
        }
        Ok(Self(routes))
    }

    /// The route of the source `arn`, if it has one.
    pub fn route(&self, arn: &str) -> Option<&StreamRoute> {
        self.0.get(arn)
    }

    /// Whether no source is routed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_routes_are_valid_should_map_each_source() {
        let routes = StreamRoutes::parse(
            r#"{"arn:aws:kinesis:us-east-1:1:stream/m":{"tenant":"acme","model":"payments"},"arn:aws:sqs:us-east-1:1:q":{"tenant":"beta"}}"#,
        )
        .unwrap();
        let kinesis = routes
            .route("arn:aws:kinesis:us-east-1:1:stream/m")
            .unwrap();
        assert_eq!(
            (kinesis.tenant.as_str(), kinesis.model.as_deref()),
            ("acme", Some("payments"))
        );
        assert_eq!(
            routes.route("arn:aws:sqs:us-east-1:1:q").unwrap().model,
            None
        );
        assert!(routes.route("arn:other").is_none());
    }

    #[test]
    fn when_a_route_is_wrong_should_name_it() {
        assert!(StreamRoutes::parse("[]").is_err());
        let bad_tenant =
            StreamRoutes::parse(r#"{"arn:x":{"tenant":"Not A Tenant!"}}"#).unwrap_err();
        assert!(bad_tenant.starts_with("arn:x"), "{bad_tenant}");
        let bad_model =
            StreamRoutes::parse(r#"{"arn:x":{"tenant":"acme","model":"../x"}}"#).unwrap_err();
        assert!(bad_model.starts_with("arn:x"), "{bad_model}");
    }
}
