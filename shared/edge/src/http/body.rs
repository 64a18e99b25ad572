//! Request bodies to typed requests, with the body size limit and serde errors as 400s.

use serde::de::DeserializeOwned;

use application::ServiceError;

/// Parses a JSON request body into `T`, refusing bodies above `max_bytes` (413) and malformed or
/// unknown fields (400, with serde's message naming the field).
pub fn parse_json_body<T: DeserializeOwned>(
    bytes: &[u8],
    max_bytes: usize,
) -> Result<T, ServiceError> {
    if bytes.len() > max_bytes {
        return Err(ServiceError::TooLarge(format!(
            "request body of {} bytes exceeds the limit of {max_bytes} bytes",
            bytes.len()
        )));
    }
    if bytes.trim_ascii().is_empty() {
        return Err(ServiceError::BadRequest("request body is empty".into()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ServiceError::BadRequest(format!("invalid request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::workflows::detect::DetectRequest;
    use application::workflows::train::TrainRequest;

    #[test]
    fn when_request_body_bad_should_400_or_413() {
        let err = parse_json_body::<TrainRequest>(br#"{"name":"m","data":[],"colour":1}"#, 1024)
            .unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("colour"), "{err}");
        let err = parse_json_body::<DetectRequest>(br#"{"model":"m","data":[{"a":NaN}]}"#, 1024)
            .unwrap_err();
        assert_eq!(err.status(), 400, "{err}");
        let err = parse_json_body::<DetectRequest>(&[b' '; 2048], 1024).unwrap_err();
        assert_eq!(err.status(), 413);
        let err =
            parse_json_body::<TrainRequest>(br#"{"name":"m","algorithm":"magic","data":[]}"#, 1024)
                .unwrap_err();
        assert!(err.to_string().contains("magic"), "{err}");
    }
}
