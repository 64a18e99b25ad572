//! The checks every object adapter applies the same way: which keys are allowed, metadata that
//! describes its bytes, and bytes read back against their SHA-256.

use super::{ObjectMeta, StoreError, StoredObject};
use crate::checksum::sha256_hex;

/// Longest object key accepted (S3's limit).
pub const MAX_OBJECT_KEY_BYTES: usize = 1024;

/// Refuses object keys no adapter should accept: empty, too long, absolute, ending in `/`, with
/// empty, `.` or `..` segments, or with control characters.
pub fn check_object_key(key: &str) -> Result<(), StoreError> {
    let safe = !key.is_empty()
        && key.len() <= MAX_OBJECT_KEY_BYTES
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."));
    if safe {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "object key '{}' is not allowed",
            key.escape_debug()
        )))
    }
}

/// Refuses metadata that does not describe `bytes` (wrong SHA-256 or size), which would make the
/// object read back as corrupted.
pub fn check_object_meta(key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError> {
    let actual = sha256_hex(bytes);
    if meta.sha256 != actual || meta.size != bytes.len() as u64 {
        return Err(StoreError::Invalid(format!(
            "metadata of object '{key}' (sha256 {}, {} bytes) does not describe its {} bytes (sha256 {actual})",
            meta.sha256,
            meta.size,
            bytes.len()
        )));
    }
    Ok(())
}

/// Checks bytes read back against the SHA-256 stored with them.
pub fn verify_object(key: &str, object: StoredObject) -> Result<StoredObject, StoreError> {
    let actual = sha256_hex(&object.bytes);
    if actual != object.meta.sha256 {
        return Err(StoreError::Corrupted(format!(
            "checksum mismatch: object '{key}' has sha256 {actual}, but {} was stored with it",
            object.meta.sha256
        )));
    }
    Ok(object)
}
