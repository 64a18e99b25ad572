//! Property tests: the artifact loader never panics and never allocates without bound, whatever
//! bytes it is given (random, truncated, bit-flipped, or re-sealed with a valid checksum so the
//! decoder itself sees the damage), and any model it does accept scores without panicking.
#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::artifact::{decode, encode, HEADER_LEN};
use detection::model::{Model, ModelSpec};
use detection::Table;
use ndarray::Array2;
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// One valid artifact per algorithm, built once.
fn artifacts() -> &'static Vec<Vec<u8>> {
    static ARTIFACTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ARTIFACTS.get_or_init(|| {
        let x = Array2::from_shape_fn((200, 3), |(i, j)| ((i * 37 + j * 11) % 53) as f64 / 7.0);
        let table = Table::new(vec!["a".into(), "b".into(), "c".into()], x).expect("table");
        Algorithm::ALL
            .iter()
            .map(|&a| {
                let spec = ModelSpec::new(AlgorithmParams::default_for(a));
                encode(&Model::fit(&spec, &table).expect("fit")).expect("encode")
            })
            .collect()
    })
}

/// Replaces the payload checksum so the bytes reach the payload decoder.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= HEADER_LEN {
        let digest = Sha256::digest(&bytes[HEADER_LEN..]);
        bytes[16..48].copy_from_slice(&digest);
        let len = (bytes.len() - HEADER_LEN) as u64;
        bytes[8..16].copy_from_slice(&len.to_le_bytes());
    }
    bytes
}

/// A loaded model must score and explain any finite row without panicking.
fn exercise(model: &Model) {
    let width = model.features().len();
    let x = Array2::from_shape_fn((3, width), |(i, j)| (i as f64 - 1.0) * 1e6 + j as f64);
    let scores = model.score(x.view()).expect("width matches");
    assert!(scores.iter().all(|s| s.is_finite()));
    let _ = model.explain(x.row(0), 3).expect("width matches");
}

#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Overwrite(usize, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Damage::Flip(i, b)),
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Damage::Insert(i, v)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Damage::Overwrite(i, v)),
    ]
}

fn apply(mut bytes: Vec<u8>, damage: &Damage) -> Vec<u8> {
    let n = bytes.len().max(1);
    match damage {
        Damage::Flip(i, b) => {
            if let Some(x) = bytes.get_mut(i % n) {
                *x ^= b;
            }
        }
        Damage::Truncate(i) => bytes.truncate(i % n),
        Damage::Insert(i, v) => {
            let at = i % n;
            bytes.splice(at..at, v.iter().copied());
        }
        Damage::Overwrite(i, v) => {
            for (k, b) in v.iter().enumerate() {
                if let Some(x) = bytes.get_mut((i + k) % n) {
                    *x = *b;
                }
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn when_bytes_are_random_should_refuse_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(decode(&bytes).is_err());
        let mut sealed = b"NMLY\x01\x00".to_vec();
        sealed.push(bytes.first().map_or(1, |b| b % 8));
        sealed.extend_from_slice(&[0; 41]);
        sealed.extend_from_slice(&bytes);
        let _ = decode(&reseal(sealed));
    }

    #[test]
    fn when_artifact_is_damaged_should_refuse_or_load_a_usable_model(which in 0usize..7, hits in prop::collection::vec(damage(), 1..4)) {
        let original = artifacts()[which].clone();
        let damaged = hits.iter().fold(original.clone(), apply);
        if damaged != original {
            prop_assert!(decode(&damaged).is_err(), "unsealed damage must fail the checksum or header");
        }
        // Re-sealed, the damage reaches the payload decoder and the model validation.
        if let Ok(model) = decode(&reseal(damaged)) {
            exercise(&model);
        }
    }
}

#[test]
fn when_every_algorithm_round_trips_should_score_identically() {
    for bytes in artifacts() {
        let model = decode(bytes).expect("valid artifact");
        exercise(&model);
        assert_eq!(&encode(&model).expect("encode"), bytes);
    }
}
