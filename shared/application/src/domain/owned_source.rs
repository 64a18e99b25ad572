//! Which objects a tenant may name as a job's input: only its own prefixes of the service's data
//! bucket, so no `s3_uri` makes the service read a bucket or a prefix that is not the caller's.

use serde::{Deserialize, Serialize};

use super::incoming::{DETECT_PREFIX, TRAIN_PREFIX};
use super::tenant::Tenant;

/// Prefix of a tenant's plain data uploads (`data/{tenant}/...`): stored, never triggering a job.
pub const DATA_PREFIX: &str = "data/";

/// Where a job reads its input: `{"s3_uri": "s3://bucket/key"}`, under one of the caller's own
/// prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    /// The object (or, for training, a prefix ending in `/`).
    pub s3_uri: String,
}

/// The prefixes `tenant` owns in the data bucket.
pub fn owned_prefixes(tenant: &Tenant) -> [String; 3] {
    [
        format!("{DETECT_PREFIX}{tenant}/"),
        format!("{TRAIN_PREFIX}{tenant}/"),
        format!("{DATA_PREFIX}{tenant}/"),
    ]
}

/// The key of `uri` when it names an object (or, with `allow_prefix`, a prefix ending in `/`)
/// under one of `tenant`'s prefixes of `bucket`; the reason otherwise.
pub fn owned_key(
    tenant: &Tenant,
    bucket: &str,
    uri: &str,
    allow_prefix: bool,
) -> Result<String, String> {
    let prefixes = owned_prefixes(tenant);
    let refuse = || {
        format!(
            "'{}' is not under one of your prefixes: s3://{bucket}/{}, s3://{bucket}/{} or s3://{bucket}/{}",
            uri.escape_default(),
            prefixes[0],
            prefixes[1],
            prefixes[2]
        )
    };
    let rest = uri.strip_prefix("s3://").ok_or_else(refuse)?;
    let (named_bucket, key) = rest.split_once('/').ok_or_else(refuse)?;
    let clean = key
        .split('/')
        .all(|segment| segment != ".." && segment != ".")
        && !key.contains("//")
        && key.len() <= 1024
        && !key.chars().any(char::is_control);
    let owned = prefixes
        .iter()
        .any(|p| key.starts_with(p.as_str()) && key.len() > p.len());
    if named_bucket != bucket || !clean || !owned {
        return Err(refuse());
    }
    if key.ends_with('/') && !allow_prefix {
        return Err(format!(
            "'{}' names a prefix; name one object",
            uri.escape_default()
        ));
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_uri_is_outside_the_tenants_prefixes_should_refuse_it() {
        let acme = Tenant::parse("acme").unwrap();
        for uri in [
            "s3://data/incoming/detect/acme/m/x.csv",
            "s3://data/data/acme/x.csv",
            "s3://data/incoming/train/acme/m/",
        ] {
            assert!(owned_key(&acme, "data", uri, true).is_ok(), "{uri}");
        }
        for uri in [
            "s3://other/incoming/detect/acme/m/x.csv",
            "s3://data/incoming/detect/beta/m/x.csv",
            "s3://data/incoming/detect/acme-2/x.csv",
            "s3://data/data/acme/../beta/x.csv",
            "s3://data/models/acme/m/v000001/model.nmly",
            "s3://data/results/acme/m/x.csv",
            "s3://data/data/acme/",
            "https://data/data/acme/x.csv",
            "s3://data",
        ] {
            assert!(owned_key(&acme, "data", uri, true).is_err(), "{uri}");
        }
        assert!(owned_key(&acme, "data", "s3://data/incoming/train/acme/m/", false).is_err());
    }
}
