//! The tabular parsers never panic, whatever the bytes: random bytes and mutated valid CSV and
//! JSON either parse into a well-formed table or fail with an error; and streaming CSV agrees
//! with whole-input CSV, chunk sizes included.
#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::fmt::Write as _;

use detection::tabular::{parse_csv, parse_json, CsvChunks};
use detection::{InputError, Limits, Table};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Limits that never stop a test input, so stream and whole-input parsing can be compared.
const UNLIMITED: Limits = Limits {
    max_rows: usize::MAX,
    max_values: usize::MAX,
    ..Limits::DEFAULT
};

/// Small limits, so inputs also reach the limit checks.
const SMALL: Limits = Limits {
    max_rows: 8,
    max_columns: 4,
    ..Limits::DEFAULT
};

/// A table as the generators build it: names and rows of finite numbers.
#[derive(Debug, Clone)]
struct Sample {
    columns: Vec<String>,
    rows: Vec<Vec<f64>>,
}

fn sample() -> impl Strategy<Value = Sample> {
    (1usize..5).prop_flat_map(|width| {
        let columns = proptest::collection::hash_set("[a-z][a-z0-9_]{0,6}", width)
            .prop_map(|names| names.into_iter().collect::<Vec<_>>());
        let number = prop_oneof![
            -1e6f64..1e6,
            any::<i32>().prop_map(f64::from),
            proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
        ];
        let rows = proptest::collection::vec(proptest::collection::vec(number, width), 1..12);
        (columns, rows).prop_map(|(columns, rows)| Sample { columns, rows })
    })
}

fn to_csv(sample: &Sample, quoted: bool) -> Vec<u8> {
    let quote = if quoted { "\"" } else { "" };
    let mut text = sample.columns.join(",");
    text.push('\n');
    for row in &sample.rows {
        let cells: Vec<String> = row.iter().map(|v| format!("{quote}{v}{quote}")).collect();
        let _ = writeln!(text, "{}", cells.join(","));
    }
    text.into_bytes()
}

fn to_json(sample: &Sample, records: bool) -> Vec<u8> {
    let value = if records {
        Value::Array(
            sample
                .rows
                .iter()
                .map(|row| {
                    let record: Map<String, Value> = sample
                        .columns
                        .iter()
                        .cloned()
                        .zip(row.iter().map(|v| json!(v)))
                        .collect();
                    Value::Object(record)
                })
                .collect(),
        )
    } else {
        json!({"columns": sample.columns, "rows": sample.rows})
    };
    value.to_string().into_bytes()
}

/// One damage done to valid bytes; positions wrap around the input's length.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special =
        prop::sample::select(b",\"\n\r \t-+.eE019naifNI{}[]:\xef\xbb\xbf\xff\x00".to_vec());
    let byte = prop_oneof![special, any::<u8>()];
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), proptest::collection::vec(byte, 1..4))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len();
        match mutation {
            Mutation::Flip { at, mask } => {
                if let Some(byte) = bytes.get_mut(at % len.max(1)) {
                    *byte ^= mask;
                }
            }
            Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
            Mutation::Insert { at, bytes: new } => {
                let at = at % (len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
        }
    }
    bytes
}

/// Valid CSV or JSON (chosen by `json`), then damaged.
fn mutated(json: bool) -> impl Strategy<Value = Vec<u8>> {
    (
        sample(),
        any::<bool>(),
        proptest::collection::vec(mutation(), 1..4),
    )
        .prop_map(move |(sample, variant, mutations)| {
            let valid = if json {
                to_json(&sample, variant)
            } else {
                to_csv(&sample, variant)
            };
            mutate(valid, &mutations)
        })
}

fn assert_well_formed(table: &Table) {
    assert_eq!(table.columns().len(), table.values().ncols());
    assert!(table.values().iter().all(|v| v.is_finite()));
    assert!(table.n_rows() > 0);
}

fn values(table: &Table) -> Vec<f64> {
    table.values().iter().copied().collect()
}

/// Streams `bytes` in chunks of `chunk_rows`, checking every chunk, and returns the columns and
/// all values, or the first error.
fn stream(bytes: &[u8], chunk_rows: usize) -> Result<(Vec<String>, Vec<f64>), InputError> {
    let chunks = CsvChunks::new(bytes, chunk_rows, &UNLIMITED)?;
    let columns = chunks.columns().to_vec();
    let mut all = Vec::new();
    for chunk in chunks {
        let chunk = chunk?;
        assert_well_formed(&chunk);
        assert!(chunk.n_rows() <= chunk_rows);
        assert_eq!(chunk.columns(), columns.as_slice());
        all.extend(values(&chunk));
    }
    Ok((columns, all))
}

/// Every CSV parser survives `bytes`, and streaming agrees with whole-input parsing.
fn check_csv(bytes: &[u8], chunk_rows: usize) {
    if let Ok(table) = parse_csv(bytes, &SMALL) {
        assert_well_formed(&table);
    }
    let whole = parse_csv(bytes, &UNLIMITED);
    if let Ok(table) = &whole {
        assert_well_formed(table);
    }
    let whole = whole.map(|t| (t.columns().to_vec(), values(&t)));
    assert_eq!(stream(bytes, chunk_rows), whole);
}

fn check_json(bytes: &[u8]) {
    for limits in [SMALL, UNLIMITED] {
        if let Ok(table) = parse_json(bytes, &limits) {
            assert_well_formed(&table);
        }
    }
}

proptest! {
    // No regression files: failures print their minimal input, and the source tree stays clean.
    #![proptest_config(ProptestConfig {
        cases: 384,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), chunk_rows in 1usize..4) {
        check_csv(&bytes, chunk_rows);
        check_json(&bytes);
    }

    #[test]
    fn mutated_csv_never_panics(bytes in mutated(false), chunk_rows in 1usize..4) {
        check_csv(&bytes, chunk_rows);
        check_json(&bytes);
    }

    #[test]
    fn mutated_json_never_panics(bytes in mutated(true), chunk_rows in 1usize..4) {
        check_json(&bytes);
        check_csv(&bytes, chunk_rows);
    }

    #[test]
    fn valid_csv_round_trips(sample in sample(), quoted in any::<bool>(), chunk_rows in 1usize..4) {
        let bytes = to_csv(&sample, quoted);
        let table = parse_csv(bytes.as_slice(), &UNLIMITED);
        prop_assert_eq!(table.as_ref().map(|t| t.columns().to_vec()), Ok(sample.columns.clone()));
        let expected: Vec<f64> = sample.rows.concat();
        prop_assert_eq!(table.map(|t| values(&t)), Ok(expected.clone()));
        prop_assert_eq!(stream(&bytes, chunk_rows), Ok((sample.columns, expected)));
    }

    #[test]
    fn valid_json_round_trips(sample in sample(), records in any::<bool>()) {
        let table = parse_json(&to_json(&sample, records), &UNLIMITED);
        prop_assert_eq!(table.as_ref().map(|t| t.columns().to_vec()), Ok(sample.columns.clone()));
        prop_assert_eq!(table.map(|t| values(&t)), Ok(sample.rows.concat()));
    }
}

/// A deterministic CSV of `rows` rows of four columns with varied number formats.
fn big_csv(rows: usize) -> Vec<u8> {
    let mut text = String::from("id, x ,\"y\",z\n");
    for i in 0..rows {
        let x = (i as f64) * 0.25 - 1000.0;
        let _ = writeln!(text, "{i},{x}, {:e} ,\"{}\"", x * 1e-3, i % 7);
    }
    text.into_bytes()
}

#[test]
fn streaming_a_large_csv_yields_the_same_values_in_bounded_chunks() {
    let rows = 100_000;
    let bytes = big_csv(rows);
    let whole = parse_csv(bytes.as_slice(), &UNLIMITED).unwrap();
    assert_eq!(whole.n_rows(), rows);
    assert_eq!(whole.columns(), ["id", "x", "y", "z"]);
    let expected = values(&whole);

    for chunk_rows in [4096, 7_777, rows, 2 * rows] {
        let chunks = CsvChunks::new(bytes.as_slice(), chunk_rows, &Limits::default()).unwrap();
        let mut streamed = Vec::with_capacity(expected.len());
        let mut sizes = Vec::new();
        for chunk in chunks {
            let chunk = chunk.unwrap();
            sizes.push(chunk.n_rows());
            streamed.extend(values(&chunk));
        }
        let expected_sizes: Vec<usize> = (0..rows)
            .step_by(chunk_rows)
            .map(|start| chunk_rows.min(rows - start))
            .collect();
        assert_eq!(sizes, expected_sizes, "chunk_rows = {chunk_rows}");
        assert!(
            streamed == expected,
            "values differ for chunk_rows = {chunk_rows}"
        );
    }
}

#[test]
fn streaming_ignores_max_rows_that_whole_parsing_enforces() {
    let bytes = big_csv(1_000);
    let limits = Limits {
        max_rows: 10,
        max_columns: 4,
        ..Limits::default()
    };
    assert_eq!(
        parse_csv(bytes.as_slice(), &limits).unwrap_err(),
        InputError::TooLarge {
            what: "rows",
            limit: 10
        }
    );
    let streamed: usize = CsvChunks::new(bytes.as_slice(), 64, &limits)
        .unwrap()
        .map(|chunk| chunk.unwrap().n_rows())
        .sum();
    assert_eq!(streamed, 1_000);
}
