//! Where an upload under `incoming/` goes: `incoming/detect/{model}/...` is scored with the model,
//! `incoming/train/{model}/...` trains a version of it.

/// Prefix of uploads to score: `incoming/detect/{model}/...`.
pub const DETECT_PREFIX: &str = "incoming/detect/";

/// Prefix of uploads to train on: `incoming/train/{model}/...`.
pub const TRAIN_PREFIX: &str = "incoming/train/";

/// Where an `incoming/` key sends the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingRoute {
    /// Score it with the model.
    Detect(String),
    /// Train a version of the model on it.
    Train(String),
    /// Not under `incoming/detect/{model}/` or `incoming/train/{model}/` (the model segment must
    /// be followed by a file name).
    Other,
}

/// The route of a decoded key.
pub fn route_key(key: &str) -> IncomingRoute {
    let model_of = |rest: &str| -> Option<String> {
        let (model, file) = rest.split_once('/')?;
        (!model.is_empty() && !file.is_empty() && !file.ends_with('/')).then(|| model.to_owned())
    };
    if let Some(model) = key.strip_prefix(DETECT_PREFIX).and_then(model_of) {
        IncomingRoute::Detect(model)
    } else if let Some(model) = key.strip_prefix(TRAIN_PREFIX).and_then(model_of) {
        IncomingRoute::Train(model)
    } else {
        IncomingRoute::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_key_is_under_incoming_should_route_by_prefix_and_model() {
        assert_eq!(
            route_key("incoming/detect/payments/a/b.csv"),
            IncomingRoute::Detect("payments".into())
        );
        assert_eq!(
            route_key("incoming/train/fraud/x.csv"),
            IncomingRoute::Train("fraud".into())
        );
        for other in [
            "incoming/detect/payments",
            "incoming/detect/payments/",
            "incoming/detect//x.csv",
            "results/payments/x.csv",
            "incoming/other/m/x.csv",
        ] {
            assert_eq!(route_key(other), IncomingRoute::Other, "{other}");
        }
    }
}
