//! The model artifact: a small envelope around the serialized model.
//!
//! Layout (little-endian), 48 bytes of header then the payload:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 4 | magic `NMLY` |
//! | 4 | 2 | format version |
//! | 6 | 1 | algorithm code |
//! | 7 | 1 | reserved, 0 |
//! | 8 | 8 | payload length |
//! | 16 | 32 | SHA-256 of the payload |
//! | 48 | n | payload: the [`Model`], bincode 2 via serde |
//!
//! Loading checks each field in that order, so a truncated, foreign, newer or corrupted file is a
//! typed error before any decoding; the decoder then runs with a byte limit, and the decoded
//! model is validated, so even well-formed bytes that describe an impossible model are refused
//! instead of panicking later. bincode stays behind this module: swapping the payload codec is a
//! new format version, nothing else.
//!
//! Decoded sizes are bounded too: a model takes at most [`MAX_MODEL_HEAP_BYTES`] in memory.
//! Encoding refuses a larger model, so every registered model loads. Decoding cannot allocate
//! much more than the payload: bincode counts every value it decodes against the payload
//! limit, the vectors of structs that could outgrow their bytes are capped in count as they
//! are read (features, ensemble members), and the one codec that expands its bytes (the
//! isolation forest's compact trees) checks the expanded size before allocating it.

use sha2::{Digest, Sha256};

use crate::error::ArtifactError;
use crate::model::Model;

/// The first four bytes of every artifact.
pub const MAGIC: [u8; 4] = *b"NMLY";
/// The format version this build writes (and the newest it reads). Version 2 added the
/// feedback layer at the end of the model; version 1 payloads still decode, without one.
pub const FORMAT_VERSION: u16 = 2;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 48;
/// Largest payload accepted, in bytes (the decoder never reads or allocates past it).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Most bytes a model may take in memory once decoded ([`Model::heap_bytes`]): the payload
/// limit, so a model `check_fit` accepts always encodes (most detectors' payloads are about
/// their decoded size; the isolation forest's trees are about a third of it).
pub const MAX_MODEL_HEAP_BYTES: usize = 64 * 1024 * 1024;

fn codec() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_PAYLOAD_BYTES>()
}

/// Serializes a model into artifact bytes; a model larger than [`MAX_MODEL_HEAP_BYTES`] in
/// memory, or whose payload would exceed [`MAX_PAYLOAD_BYTES`], is refused, so every artifact
/// written loads.
pub fn encode(model: &Model) -> Result<Vec<u8>, ArtifactError> {
    check_heap(model)?;
    let payload = bincode::serde::encode_to_vec(model, codec())
        .map_err(|e| ArtifactError::Malformed(format!("cannot encode: {e}")))?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(ArtifactError::TooLarge {
            len: payload.len() as u64,
            limit: MAX_PAYLOAD_BYTES as u64,
        });
    }
    Ok(seal(&MODEL_ENVELOPE, model.algorithm().code(), &payload))
}

/// What tells one kind of envelope from another: its magic, the newest format version this
/// build reads, its payload limit and the codes its byte 6 may hold. Model artifacts and series
/// states share the layout and its checks.
pub(crate) struct EnvelopeKind {
    /// The first four bytes.
    pub magic: [u8; 4],
    /// The format version written (and the newest read).
    pub version: u16,
    /// Largest payload accepted.
    pub max_payload: usize,
    /// Whether byte 6 holds a code this kind knows.
    pub known_code: fn(u8) -> bool,
}

/// Model artifacts' envelope.
const MODEL_ENVELOPE: EnvelopeKind = EnvelopeKind {
    magic: MAGIC,
    version: FORMAT_VERSION,
    max_payload: MAX_PAYLOAD_BYTES,
    known_code: |code| crate::algorithm::Algorithm::from_code(code).is_some(),
};

/// Wraps `payload` in `kind`'s header with `code` in byte 6.
pub(crate) fn seal(kind: &EnvelopeKind, code: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(&kind.magic);
    bytes.extend_from_slice(&kind.version.to_le_bytes());
    bytes.push(code);
    bytes.push(0);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(payload));
    bytes.extend_from_slice(payload);
    bytes
}

/// Loads a model from artifact bytes, checking the envelope, the checksum and the model.
pub fn decode(bytes: &[u8]) -> Result<Model, ArtifactError> {
    let payload = open_envelope(&MODEL_ENVELOPE, bytes)?;
    let version = match bytes.get(4..6) {
        Some(&[low, high]) => u16::from_le_bytes([low, high]),
        _ => FORMAT_VERSION,
    };
    let decoded = if version == 1 {
        bincode::serde::decode_from_slice::<ModelV1, _>(payload, codec()).map(|(m, read)| {
            (
                Model::from_unlabelled(m.features, m.detector, m.calibration, m.training),
                read,
            )
        })
    } else {
        bincode::serde::decode_from_slice(payload, codec())
    };
    let (model, read): (Model, usize) =
        decoded.map_err(|e| ArtifactError::Malformed(e.to_string()))?;
    if read != payload.len() {
        return Err(ArtifactError::Malformed(format!(
            "{} payload bytes left undecoded",
            payload.len() - read
        )));
    }
    let code = bytes.get(6).copied().unwrap_or_default();
    if model.algorithm().code() != code {
        return Err(ArtifactError::Algorithm(format!(
            "header says code {code}, payload holds {}",
            model.algorithm()
        )));
    }
    check_heap(&model)?;
    model.validate()?;
    Ok(model)
}

/// A model as format 1 wrote it: [`Model`] without its feedback layer.
#[derive(serde::Deserialize)]
struct ModelV1 {
    #[serde(
        deserialize_with = "crate::serde_bounded::at_most::<_, _, { crate::model::MAX_FEATURES }>"
    )]
    features: Vec<String>,
    detector: crate::algorithm::FittedDetector,
    calibration: crate::threshold::Calibration,
    training: crate::model::TrainingSummary,
}

/// Fails unless the model takes at most [`MAX_MODEL_HEAP_BYTES`] in memory.
fn check_heap(model: &Model) -> Result<(), ArtifactError> {
    let bytes = model.heap_bytes();
    if bytes <= MAX_MODEL_HEAP_BYTES {
        Ok(())
    } else {
        Err(ArtifactError::ModelTooLarge {
            algorithm: model.algorithm().to_string(),
            bytes: bytes as u64,
            limit: MAX_MODEL_HEAP_BYTES as u64,
        })
    }
}

/// Checks the header and returns the payload slice.
/// The payload of `bytes`, once every header field of `kind` checks out and the SHA-256 matches.
pub(crate) fn open_envelope<'a>(
    kind: &EnvelopeKind,
    bytes: &'a [u8],
) -> Result<&'a [u8], ArtifactError> {
    let magic_len = kind.magic.len();
    if bytes
        .get(..magic_len)
        .is_some_and(|magic| magic != kind.magic)
    {
        return Err(ArtifactError::Foreign);
    }
    let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(
            if bytes.len() >= magic_len || kind.magic.starts_with(bytes) {
                ArtifactError::Truncated {
                    expected: HEADER_LEN,
                    found: bytes.len(),
                }
            } else {
                ArtifactError::Foreign
            },
        );
    };
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version > kind.version {
        return Err(ArtifactError::NewerVersion {
            found: version,
            supported: kind.version,
        });
    }
    if version == 0 {
        return Err(ArtifactError::UnsupportedVersion(version));
    }
    if header[7] != 0 {
        return Err(ArtifactError::Malformed(format!(
            "reserved header byte is {}, not 0",
            header[7]
        )));
    }
    if !(kind.known_code)(header[6]) {
        return Err(ArtifactError::Algorithm(format!(
            "unknown algorithm code {}",
            header[6]
        )));
    }
    let [.., l0, l1, l2, l3, l4, l5, l6, l7] = *header.first_chunk::<16>().unwrap_or(&[0; 16]);
    let len = u64::from_le_bytes([l0, l1, l2, l3, l4, l5, l6, l7]);
    if len > kind.max_payload as u64 {
        return Err(ArtifactError::TooLarge {
            len,
            limit: kind.max_payload as u64,
        });
    }
    let len = len as usize;
    if body.len() < len {
        return Err(ArtifactError::Truncated {
            expected: HEADER_LEN + len,
            found: bytes.len(),
        });
    }
    if body.len() > len {
        return Err(ArtifactError::TrailingBytes(body.len() - len));
    }
    if Some(Sha256::digest(body).as_slice()) != header.get(16..48) {
        return Err(ArtifactError::Corrupted);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::{Algorithm, AlgorithmParams};
    use crate::model::ModelSpec;
    use crate::table::Table;
    use ndarray::Array2;

    fn model(algorithm: Algorithm) -> Model {
        let x = Array2::from_shape_fn((120, 2), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
        let t = Table::new(vec!["x".into(), "y".into()], x).unwrap();
        Model::fit(&ModelSpec::new(AlgorithmParams::default_for(algorithm)), &t).unwrap()
    }

    /// Re-seals a payload with a correct header, so tests reach the decoder itself.
    fn seal(payload: &[u8], code: u8) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&[code, 0]);
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&Sha256::digest(payload));
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn when_round_tripped_should_be_identical_for_every_algorithm() {
        for a in Algorithm::ALL {
            let m = model(a);
            let bytes = encode(&m).unwrap();
            assert_eq!(&bytes[..4], b"NMLY");
            assert_eq!(bytes[6], a.code());
            let back = decode(&bytes).unwrap();
            assert_eq!(back, m, "{a}");
            assert_eq!(
                encode(&back).unwrap(),
                bytes,
                "{a}: re-encoding is byte-identical"
            );
        }
    }

    #[test]
    fn when_truncated_should_say_truncated() {
        let bytes = encode(&model(Algorithm::Hbos)).unwrap();
        for cut in [0, 3, 10, 47, 48, bytes.len() - 1] {
            assert!(
                matches!(decode(&bytes[..cut]), Err(ArtifactError::Truncated { .. })),
                "cut at {cut}: {:?}",
                decode(&bytes[..cut])
            );
        }
    }

    #[test]
    fn when_foreign_should_say_foreign() {
        assert_eq!(
            decode(b"PK\x03\x04 a zip file"),
            Err(ArtifactError::Foreign)
        );
        assert_eq!(decode(b"{\"json\": true}"), Err(ArtifactError::Foreign));
        assert_eq!(
            decode(b"NM"),
            Err(ArtifactError::Truncated {
                expected: 48,
                found: 2
            })
        );
    }

    #[test]
    fn when_newer_version_should_name_both_versions() {
        let mut bytes = encode(&model(Algorithm::Ecod)).unwrap();
        bytes[4..6].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert_eq!(
            decode(&bytes),
            Err(ArtifactError::NewerVersion {
                found: FORMAT_VERSION + 1,
                supported: FORMAT_VERSION
            })
        );
    }

    #[test]
    fn when_an_artifact_of_format_1_is_read_should_decode_it_without_feedback() {
        #[derive(serde::Serialize)]
        struct V1<'a> {
            features: &'a [String],
            detector: &'a crate::algorithm::FittedDetector,
            calibration: &'a crate::threshold::Calibration,
            training: &'a crate::model::TrainingSummary,
        }
        let m = model(Algorithm::IsolationForest);
        let v1 = V1 {
            features: m.features(),
            detector: m.detector(),
            calibration: m.calibration(),
            training: m.training(),
        };
        let payload = bincode::serde::encode_to_vec(&v1, codec()).unwrap();
        let mut bytes = seal(&payload, Algorithm::IsolationForest.code());
        bytes[4..6].copy_from_slice(&1u16.to_le_bytes());
        let back = decode(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.labels_used(), 0);
    }

    #[test]
    fn when_a_model_learned_from_labels_should_round_trip_with_its_feedback() {
        let x = Array2::from_shape_fn((120, 2), |(i, j)| ((i * 7 + j * 13) % 17) as f64);
        let t = Table::new(vec!["x".into(), "y".into()], x).unwrap();
        let labels = crate::feedback::LabelledRows::new(
            ndarray::arr2(&[[16.0, 3.0], [0.0, 0.0]]),
            vec![true, false],
        )
        .unwrap();
        let spec = ModelSpec::new(AlgorithmParams::default_for(Algorithm::Ecod));
        let m = Model::fit_with_labels(&spec, &t, Some(&labels)).unwrap();
        assert_eq!(m.labels_used(), 2);
        let back = decode(&encode(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.score(t.values().view()).unwrap(),
            m.score(t.values().view()).unwrap()
        );
    }

    #[test]
    fn when_payload_flipped_should_say_corrupted() {
        let bytes = encode(&model(Algorithm::IsolationForest)).unwrap();
        for at in [HEADER_LEN, HEADER_LEN + 100, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert_eq!(decode(&bad), Err(ArtifactError::Corrupted), "byte {at}");
        }
    }

    #[test]
    fn when_length_field_is_huge_should_refuse_before_reading() {
        let mut bytes = encode(&model(Algorithm::Ecod)).unwrap();
        bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            decode(&bytes),
            Err(ArtifactError::TooLarge { .. })
        ));
    }

    #[test]
    fn when_reserved_byte_set_should_refuse() {
        let mut bytes = encode(&model(Algorithm::Ecod)).unwrap();
        bytes[7] = 1;
        assert!(matches!(decode(&bytes), Err(ArtifactError::Malformed(_))));
    }

    #[test]
    fn when_trailing_bytes_should_say_so() {
        let mut bytes = encode(&model(Algorithm::Ecod)).unwrap();
        bytes.extend_from_slice(b"xx");
        assert_eq!(decode(&bytes), Err(ArtifactError::TrailingBytes(2)));
    }

    #[test]
    fn when_header_algorithm_disagrees_should_say_so() {
        let bytes = encode(&model(Algorithm::Ecod)).unwrap();
        let resealed = seal(&bytes[HEADER_LEN..], Algorithm::Hbos.code());
        assert!(matches!(
            decode(&resealed),
            Err(ArtifactError::Algorithm(_))
        ));
        let unknown = seal(&bytes[HEADER_LEN..], 200);
        assert!(matches!(decode(&unknown), Err(ArtifactError::Algorithm(_))));
    }

    #[test]
    fn when_sealed_payload_claims_a_huge_vector_should_fail_without_allocating_it() {
        // Feature-name count as a bincode varint: 0xFD + u64 = 2^62 entries.
        let mut payload = vec![0xFD];
        payload.extend_from_slice(&(1u64 << 62).to_le_bytes());
        payload.extend_from_slice(&[0; 32]);
        let result = decode(&seal(&payload, Algorithm::Ecod.code()));
        assert!(
            matches!(result, Err(ArtifactError::Malformed(_))),
            "{result:?}"
        );
    }

    #[test]
    fn when_sealed_payload_holds_more_feature_names_than_a_model_may_have_should_refuse() {
        // 100,000 one-byte names: 200 KB of payload that would be 3 MB of strings.
        let mut payload = vec![0xFC];
        payload.extend_from_slice(&100_000u32.to_le_bytes());
        payload.extend_from_slice(&[1, b'a'].repeat(100_000));
        let result = decode(&seal(&payload, Algorithm::Ecod.code()));
        assert!(
            matches!(&result, Err(ArtifactError::Malformed(m)) if m.contains("at most 65534")),
            "{result:?}"
        );
    }

    #[test]
    fn when_sealed_forest_claims_a_huge_decoded_size_should_refuse_without_allocating_it() {
        use crate::detectors::isolation_forest::StoredForest;
        use crate::model::TrainingSummary;
        use crate::threshold::Calibration;

        /// A model's payload layout, with any stored forest in it.
        #[derive(serde::Serialize)]
        struct Payload<'a> {
            features: &'a [String],
            detector: Detector,
            calibration: &'a Calibration,
            training: &'a TrainingSummary,
        }
        #[derive(serde::Serialize)]
        enum Detector {
            IsolationForest(StoredForest),
        }

        let m = model(Algorithm::IsolationForest);
        let payload = Payload {
            features: m.features(),
            detector: Detector::IsolationForest(StoredForest::leaves_only(2, 12, 4096, 10_000)),
            calibration: m.calibration(),
            training: m.training(),
        };
        let bytes = seal(
            &bincode::serde::encode_to_vec(&payload, codec()).unwrap(),
            Algorithm::IsolationForest.code(),
        );
        assert!(bytes.len() < 100_000, "{}", bytes.len());
        let (result, peak) = crate::test_alloc::peak_during(|| decode(&bytes));
        match result {
            Err(ArtifactError::Malformed(message)) => assert!(
                message.contains("model takes 491") && message.contains("more than the"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(peak < 1 << 20, "allocated {peak} bytes");
    }

    /// An isolation forest of `trees` one-leaf trees of depth 12 (constant rows, more than
    /// 2048 of them): about 49 KB each in memory, a few bytes each in the payload.
    fn wide_forest(trees: usize) -> Model {
        let x = Array2::from_elem((2049, 1), 3.0);
        let t = Table::new(vec!["x".into()], x).unwrap();
        let params = crate::detectors::isolation_forest::IsolationForestParams::default()
            .n_estimators(trees)
            .max_samples(4096);
        let spec = ModelSpec {
            calibration_rows: 2,
            ..ModelSpec::new(AlgorithmParams::IsolationForest(params))
        };
        Model::fit(&spec, &t).unwrap()
    }

    #[test]
    fn when_model_is_at_the_size_limit_should_round_trip_and_one_group_more_should_be_refused() {
        // 170 groups of 8 trees fit in 64 MiB with the names and calibration; 171 do not.
        let at_limit = wide_forest(170 * 8);
        assert!(at_limit.heap_bytes() <= MAX_MODEL_HEAP_BYTES);
        assert!(at_limit.heap_bytes() > MAX_MODEL_HEAP_BYTES - (1 << 20));
        let bytes = encode(&at_limit).unwrap();
        assert_eq!(decode(&bytes).unwrap(), at_limit);
        drop(at_limit);
        let over = wide_forest(171 * 8);
        assert!(matches!(
            encode(&over),
            Err(ArtifactError::ModelTooLarge { bytes, limit, .. })
                if bytes > limit && limit == MAX_MODEL_HEAP_BYTES as u64
        ));
    }

    #[test]
    fn when_sealed_payload_describes_impossible_model_should_say_invalid() {
        let m = model(Algorithm::Hbos);
        let mut json = serde_json::to_value(&m).unwrap();
        json["features"] = serde_json::json!(["only_one"]);
        let broken: Model = serde_json::from_value(json).unwrap();
        let payload = bincode::serde::encode_to_vec(&broken, codec()).unwrap();
        let result = decode(&seal(&payload, Algorithm::Hbos.code()));
        assert!(
            matches!(result, Err(ArtifactError::Invalid(_))),
            "{result:?}"
        );
    }
}
