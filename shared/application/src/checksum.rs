//! The checksum of every stored object: lowercase hex SHA-256, written with an object and checked
//! when it is read back.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`, the checksum format of every stored artifact.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
