//! Where an upload under `incoming/` goes: `incoming/detect/{tenant}/{model}/...` is scored with
//! the tenant's model, `incoming/train/{tenant}/{model}/...` trains a version of it. The tenant is
//! part of the key, so an upload under one tenant's prefix never reaches another tenant's model.

use super::tenant::Tenant;

/// Prefix of uploads to score: `incoming/detect/{tenant}/{model}/...`.
pub const DETECT_PREFIX: &str = "incoming/detect/";

/// Prefix of uploads to train on: `incoming/train/{tenant}/{model}/...`.
pub const TRAIN_PREFIX: &str = "incoming/train/";

/// A tenant's model an upload is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTarget {
    /// The tenant the key's prefix names.
    pub tenant: Tenant,
    /// The model name (validated by the workflow that uses it).
    pub model: String,
}

/// Where an `incoming/` key sends the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingRoute {
    /// Score it with the model.
    Detect(ModelTarget),
    /// Train a version of the model on it.
    Train(ModelTarget),
    /// Not under `incoming/{detect,train}/{tenant}/{model}/` with a valid tenant and a file name
    /// after the model segment.
    Other,
}

/// The route of a decoded key.
pub fn route_key(key: &str) -> IncomingRoute {
    let target_of = |rest: &str| -> Option<ModelTarget> {
        let (tenant, rest) = rest.split_once('/')?;
        let (model, file) = rest.split_once('/')?;
        let tenant = Tenant::parse(tenant).ok()?;
        (!model.is_empty() && !file.is_empty() && !file.ends_with('/')).then(|| ModelTarget {
            tenant,
            model: model.to_owned(),
        })
    };
    if let Some(target) = key.strip_prefix(DETECT_PREFIX).and_then(target_of) {
        IncomingRoute::Detect(target)
    } else if let Some(target) = key.strip_prefix(TRAIN_PREFIX).and_then(target_of) {
        IncomingRoute::Train(target)
    } else {
        IncomingRoute::Other
    }
}

/// The key prefix under which `tenant`'s uploads score (`detect`) or train (`train`) `model`.
pub fn incoming_prefix(kind_prefix: &str, tenant: &Tenant, model: &str) -> String {
    format!("{kind_prefix}{tenant}/{model}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(tenant: &str, model: &str) -> ModelTarget {
        ModelTarget {
            tenant: Tenant::parse(tenant).unwrap(),
            model: model.into(),
        }
    }

    #[test]
    fn when_key_is_under_incoming_should_route_by_prefix_tenant_and_model() {
        assert_eq!(
            route_key("incoming/detect/acme/payments/a/b.csv"),
            IncomingRoute::Detect(target("acme", "payments"))
        );
        assert_eq!(
            route_key("incoming/train/beta/fraud/x.csv"),
            IncomingRoute::Train(target("beta", "fraud"))
        );
        assert_eq!(
            incoming_prefix(TRAIN_PREFIX, &Tenant::parse("beta").unwrap(), "fraud"),
            "incoming/train/beta/fraud/"
        );
        for other in [
            "incoming/detect/acme/payments",
            "incoming/detect/acme/payments/",
            "incoming/detect/acme//x.csv",
            "incoming/detect/payments/x.csv",
            "incoming/detect/Bad_Tenant/m/x.csv",
            "results/acme/payments/x.csv",
            "incoming/other/acme/m/x.csv",
        ] {
            assert_eq!(route_key(other), IncomingRoute::Other, "{other}");
        }
    }
}
