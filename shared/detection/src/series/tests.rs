//! Tests of the series detectors: exact resumption from stored state, bounded state, clear
//! refusals of bad points, and planted anomalies of the kinds people ask a metrics service about.

use super::*;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Five-minute points, as most of NAB's series.
const STEP_MS: i64 = 300_000;
/// Points per day at five minutes.
const DAY: usize = 288;

fn detector(params: SeriesParams) -> SeriesDetector {
    SeriesDetector::new(params.check(1).unwrap()).unwrap()
}

/// A daily cycle with noise: the shape most operational metrics have.
fn daily_series(points: usize, seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..points)
        .map(|i| {
            let phase = (i % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
            50.0 + 20.0 * phase.sin() + rng.gen_range(-2.0..2.0)
        })
        .collect()
}

fn run(detector: &mut SeriesDetector, values: &[f64], from: usize) -> Vec<PointVerdict> {
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| {
            detector
                .observe((from + i) as i64 * STEP_MS, &[value])
                .unwrap()
        })
        .collect()
}

fn encode(detector: &SeriesDetector) -> Vec<u8> {
    bincode::serde::encode_to_vec(detector, bincode::config::standard()).unwrap()
}

fn decode(bytes: &[u8]) -> SeriesDetector {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .unwrap()
        .0
}

fn anomalies(verdicts: &[PointVerdict], range: std::ops::Range<usize>) -> usize {
    verdicts
        .get(range)
        .unwrap()
        .iter()
        .filter(|verdict| verdict.is_anomaly)
        .count()
}

#[test]
fn when_state_round_trips_mid_series_should_score_exactly_as_an_uninterrupted_run() {
    let cases = [
        (SeriesDetectorKind::Rcf, 1, None),
        (SeriesDetectorKind::Rcf, 8, None),
        (SeriesDetectorKind::Ensemble, 1, None),
        (SeriesDetectorKind::Ensemble, 8, Some(100)),
    ];
    for (kind, shingle_size, seasonality) in cases {
        let params = SeriesParams {
            detector: kind,
            shingle_size,
            seasonality,
            ..SeriesParams::default()
        };
        let values = daily_series(1_500, 7);
        let uninterrupted = run(&mut detector(params.clone()), &values, 0);
        let mut first = detector(params);
        let mut resumed = run(&mut first, values.get(..700).unwrap(), 0);
        let mut second = decode(&encode(&first));
        resumed.extend(run(&mut second, values.get(700..).unwrap(), 700));
        assert_eq!(
            resumed, uninterrupted,
            "{kind:?}, shingle {shingle_size}, {seasonality:?}"
        );
        assert_eq!(second.points_seen(), 1_500);
    }
}

#[test]
fn when_a_stored_state_is_damaged_should_refuse_it_with_a_typed_error() {
    let mut series = detector(SeriesParams::default());
    run(&mut series, &daily_series(300, 1), 0);
    let bytes = encode_state(&series).unwrap();
    let back = decode_state(&bytes).unwrap();
    assert_eq!(encode_state(&back).unwrap(), bytes);
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(
        decode_state(&flipped).unwrap_err(),
        crate::ArtifactError::Corrupted
    );
    assert!(matches!(
        decode_state(&bytes[..100]),
        Err(crate::ArtifactError::Truncated { .. })
    ));
    let model_artifact = b"NMLY\x01\x00\x01\x00";
    assert_eq!(
        decode_state(model_artifact).unwrap_err(),
        crate::ArtifactError::Foreign
    );
}

#[test]
fn when_the_seed_is_the_same_should_score_the_same_and_another_seed_differently() {
    let values = daily_series(600, 3);
    let params = SeriesParams::default();
    let once = run(&mut detector(params.clone()), &values, 0);
    let again = run(&mut detector(params.clone()), &values, 0);
    let other = run(
        &mut detector(SeriesParams { seed: 7, ..params }),
        &values,
        0,
    );
    assert_eq!(once, again);
    assert_ne!(once, other);
}

#[test]
fn when_a_series_grows_should_keep_its_state_bounded() {
    let values = daily_series(30_000, 5);
    let mut series = detector(SeriesParams::default());
    run(&mut series, values.get(..10_000).unwrap(), 0);
    let at_10k = encode(&series).len();
    run(&mut series, values.get(10_000..).unwrap(), 10_000);
    let at_30k = encode(&series).len();
    assert!(
        at_30k <= at_10k + at_10k / 20,
        "state grew from {at_10k} to {at_30k} bytes"
    );
    assert!(at_30k < 1024 * 1024, "state is {at_30k} bytes");
}

#[test]
fn when_a_point_is_bad_should_refuse_it_and_change_nothing() {
    let mut series = detector(SeriesParams::default());
    series.observe(10 * STEP_MS, &[1.0]).unwrap();
    let before = encode(&series);
    assert_eq!(
        series.observe(11 * STEP_MS, &[f64::NAN]),
        Err(SeriesError::NotFinite { index: 0 })
    );
    assert_eq!(
        series.observe(11 * STEP_MS, &[-1e31]),
        Err(SeriesError::OutOfRange { index: 0 })
    );
    assert_eq!(
        series.observe(11 * STEP_MS, &[1.0, 2.0]),
        Err(SeriesError::WrongDimensions {
            expected: 1,
            found: 2
        })
    );
    assert_eq!(
        series.observe(9 * STEP_MS, &[1.0]),
        Err(SeriesError::OutOfOrder {
            timestamp: 9 * STEP_MS,
            last: 10 * STEP_MS
        })
    );
    assert_eq!(encode(&series), before);
    assert!(
        series.observe(10 * STEP_MS, &[1.0]).is_ok(),
        "a repeated timestamp is learned"
    );
}

#[test]
fn when_ordering_is_arrival_should_learn_a_point_that_steps_back() {
    let mut series = detector(SeriesParams {
        ordering: SeriesOrdering::Arrival,
        ..SeriesParams::default()
    });
    series.observe(10 * STEP_MS, &[1.0]).unwrap();
    series.observe(9 * STEP_MS, &[1.0]).unwrap();
    assert_eq!(series.points_seen(), 2);
    assert_eq!(series.last_timestamp(), Some(10 * STEP_MS));
}

#[test]
fn when_params_are_out_of_bounds_should_name_the_field() {
    let cases = [
        (
            SeriesParams {
                shingle_size: 0,
                ..SeriesParams::default()
            },
            1,
            "shingle_size",
        ),
        (
            SeriesParams {
                number_of_trees: Some(1_000),
                ..SeriesParams::default()
            },
            1,
            "number_of_trees",
        ),
        (
            SeriesParams {
                sample_size: 4,
                ..SeriesParams::default()
            },
            1,
            "sample_size",
        ),
        (
            SeriesParams {
                time_decay: Some(1.5),
                ..SeriesParams::default()
            },
            1,
            "time_decay",
        ),
        (
            SeriesParams {
                shingle_size: 32,
                ..SeriesParams::default()
            },
            8,
            "shingle_size",
        ),
        (SeriesParams::default(), 0, "values"),
        (
            SeriesParams {
                seasonality: Some(1),
                ..SeriesParams::default()
            },
            1,
            "seasonality",
        ),
        (
            SeriesParams {
                seasonality: Some(288),
                shingle_size: 32,
                ..SeriesParams::default()
            },
            3,
            "shingle_size",
        ),
    ];
    for (params, dimensions, field) in cases {
        match params.check(dimensions) {
            Err(SeriesError::InvalidParams(message)) => {
                assert!(message.contains(field), "{message}")
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    let unknown = serde_json::from_str::<SeriesParams>(r#"{"shingle": 4}"#);
    assert!(unknown.is_err(), "unknown fields are refused");
}

#[test]
fn when_a_spike_is_planted_should_flag_it_and_little_else() {
    for kind in [SeriesDetectorKind::Rcf, SeriesDetectorKind::Ensemble] {
        let mut values = daily_series(4 * DAY, 11);
        let spike = 3 * DAY + 100;
        *values.get_mut(spike).unwrap() += 60.0;
        let verdicts = run(
            &mut detector(SeriesParams {
                detector: kind,
                ..SeriesParams::default()
            }),
            &values,
            0,
        );
        let at_spike = verdicts.get(spike).unwrap();
        assert!(at_spike.is_anomaly, "{kind:?}: {at_spike:?}");
        assert!(at_spike.grade > 0.0, "{kind:?}: {at_spike:?}");
        let before = anomalies(&verdicts, DAY..spike);
        assert!(
            before <= 5,
            "{kind:?}: {before} false alarms before the spike"
        );
    }
}

#[test]
fn when_the_level_shifts_should_flag_it_soon_after() {
    let mut values = daily_series(4 * DAY, 13);
    let shift = 3 * DAY;
    for value in values.get_mut(shift..).unwrap() {
        *value += 40.0;
    }
    let verdicts = run(&mut detector(SeriesParams::default()), &values, 0);
    let flagged = anomalies(&verdicts, shift..shift + 12);
    assert!(flagged > 0, "no anomaly in the hour after the shift");
}

#[test]
fn when_the_daily_pattern_breaks_should_flag_it_given_the_season() {
    // One day the cycle stops at its mean: every value is one the series has had, only not at
    // that time of day, so the difference from a day before is what shows it.
    let mut values = daily_series(6 * DAY, 17);
    let broken = 5 * DAY;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(99);
    for value in values.get_mut(broken..broken + DAY / 2).unwrap() {
        *value = 50.0 + rng.gen_range(-2.0..2.0);
    }
    let params = SeriesParams {
        seasonality: Some(DAY),
        ..SeriesParams::default()
    };
    let verdicts = run(&mut detector(params), &values, 0);
    let flagged = anomalies(&verdicts, broken..broken + DAY / 2);
    let quiet_day = anomalies(&verdicts, 4 * DAY..5 * DAY);
    assert!(flagged > 0, "the broken half-day raised nothing");
    assert!(quiet_day <= 3, "{quiet_day} false alarms the day before");
}

#[test]
fn when_the_forest_is_ready_should_give_expected_values_with_bounds_and_attribution() {
    for shingle_size in [1, 8] {
        let values = daily_series(400, 19);
        let verdicts = run(
            &mut detector(SeriesParams {
                shingle_size,
                ..SeriesParams::default()
            }),
            &values,
            0,
        );
        assert!(verdicts.first().unwrap().expected.is_none());
        let last = verdicts.last().unwrap();
        let (expected, lower, upper) = (
            last.expected.as_ref().unwrap()[0],
            last.lower.as_ref().unwrap()[0],
            last.upper.as_ref().unwrap()[0],
        );
        assert!(lower <= expected && expected <= upper, "{last:?}");
        assert!((10.0..90.0).contains(&expected), "{last:?}");
        assert_eq!(last.attribution.len(), 1);
        assert!(
            (last.attribution[0] - last.raw_score).abs() < 1e-6,
            "{last:?}"
        );
    }
}
