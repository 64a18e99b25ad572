//! Model names: validated once, since they become storage keys and file paths.

use thiserror::Error;

use super::tenant::Tenant;

/// A model (or series) name that cannot be used; the message says why (a 400 at the edge).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidModelName(String);

/// Longest model name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a model name against `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`, so no name can escape its
/// key prefix or directory (`../x`, `a/b`).
pub fn validate_model_name(name: &str) -> Result<(), InvalidModelName> {
    validate_name("model name", name)
}

/// The series name that is a route of its own (`POST /api/v1/series/detect`), so never a series'.
pub const RESERVED_SERIES_NAME: &str = "detect";

/// Checks a series name against the same rule as a model name (it becomes a key and an object
/// prefix too), and refuses [`RESERVED_SERIES_NAME`].
pub fn validate_series_name(name: &str) -> Result<(), InvalidModelName> {
    validate_name("series name", name)?;
    if name == RESERVED_SERIES_NAME {
        return Err(InvalidModelName(format!(
            "series name '{RESERVED_SERIES_NAME}' is reserved: POST /api/v1/series/{RESERVED_SERIES_NAME} judges a whole series without storing it"
        )));
    }
    Ok(())
}

fn validate_name(what: &str, name: &str) -> Result<(), InvalidModelName> {
    let bytes = name.as_bytes();
    let Some(first) = bytes.first() else {
        return Err(InvalidModelName(format!("{what} is empty")));
    };
    if bytes.len() > MAX_NAME_LEN {
        return Err(InvalidModelName(format!(
            "{what} is {} characters long; the limit is {MAX_NAME_LEN}",
            name.chars().count()
        )));
    }
    let valid = first.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
    if !valid {
        return Err(InvalidModelName(format!(
            "{what} '{}' is invalid: use letters, digits, '_' and '-', starting with a letter or digit",
            name.escape_default()
        )));
    }
    Ok(())
}

/// The object key of a model version's artifact:
/// `models/{tenant}/{name}/v{version:06}/model.nmly`. (Artifacts written before tenancy keep their
/// `models/{name}/...` keys: a version's item names its artifact's key.)
pub fn artifact_key(tenant: &Tenant, name: &str, version: u32) -> String {
    format!("models/{tenant}/{name}/v{version:06}/model.nmly")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    #[test]
    fn when_name_bad_should_be_400_with_message() {
        let long = "a".repeat(300);
        for bad in ["", "../x", "a/b", "-a", "a b", "é", long.as_str()] {
            let e = ServiceError::from(validate_model_name(bad).unwrap_err());
            assert_eq!(e.status(), 400, "{bad}");
            assert!(e.to_string().contains("model name"), "{e}");
        }
    }

    #[test]
    fn when_name_good_should_pass() {
        for good in ["a", "payments", "P-1_x", &"b".repeat(64)] {
            validate_model_name(good).unwrap();
        }
        assert_eq!(
            artifact_key(&Tenant::default(), "m", 3),
            "models/default/m/v000003/model.nmly"
        );
    }

    #[test]
    fn when_a_series_is_named_as_the_whole_series_route_should_be_refused() {
        let e = ServiceError::from(validate_series_name("detect").unwrap_err());
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("reserved"), "{e}");
        validate_series_name("detector").unwrap();
        validate_model_name("detect").unwrap();
    }
}
