//! A series' stored state: the detector in the artifact envelope (magic `NSER`, format version,
//! payload length, SHA-256), so a truncated, foreign, newer or corrupted state is a typed error
//! before decoding, and decoding never reads or allocates past [`MAX_STATE_BYTES`].

use crate::artifact::{open_envelope, seal, EnvelopeKind};
use crate::error::ArtifactError;

use super::detector::SeriesDetector;

/// Largest state payload accepted: four times the largest state the configuration bounds allow
/// (100 trees of 256 points of 128 numbers is about 2 MiB).
pub const MAX_STATE_BYTES: usize = 8 * 1024 * 1024;

/// The only payload code: a bincode-2 [`SeriesDetector`].
const DETECTOR_CODE: u8 = 1;

const SERIES_ENVELOPE: EnvelopeKind = EnvelopeKind {
    magic: *b"NSER",
    version: 1,
    max_payload: MAX_STATE_BYTES,
    known_code: |code| code == DETECTOR_CODE,
};

fn codec() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_STATE_BYTES>()
}

/// The stored bytes of `detector`; a state past [`MAX_STATE_BYTES`] is refused, so every state
/// written loads.
pub fn encode_state(detector: &SeriesDetector) -> Result<Vec<u8>, ArtifactError> {
    let payload = bincode::serde::encode_to_vec(detector, codec())
        .map_err(|e| ArtifactError::Malformed(format!("cannot encode: {e}")))?;
    if payload.len() > MAX_STATE_BYTES {
        return Err(ArtifactError::TooLarge {
            len: payload.len() as u64,
            limit: MAX_STATE_BYTES as u64,
        });
    }
    Ok(seal(&SERIES_ENVELOPE, DETECTOR_CODE, &payload))
}

/// The detector stored in `bytes`, once the envelope and checksum check out.
pub fn decode_state(bytes: &[u8]) -> Result<SeriesDetector, ArtifactError> {
    let payload = open_envelope(&SERIES_ENVELOPE, bytes)?;
    let (detector, read): (SeriesDetector, usize) =
        bincode::serde::decode_from_slice(payload, codec())
            .map_err(|e| ArtifactError::Malformed(e.to_string()))?;
    if read != payload.len() {
        return Err(ArtifactError::Malformed(format!(
            "{} payload bytes left undecoded",
            payload.len() - read
        )));
    }
    Ok(detector)
}
