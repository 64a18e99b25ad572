use ndarray::{arr2, Array2};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;
use crate::algorithm::{Algorithm, AlgorithmParams};
use crate::Detector;

/// 3,000 rows around the origin and two groups of 60 anomalies far from it.
fn data() -> Array2<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    Array2::from_shape_fn((3_120, 2), |(i, j)| match i {
        0..=59 => 6.0 + rng.gen_range(-0.1..0.1) + j as f64,
        60..=119 => -6.0 + rng.gen_range(-0.1..0.1),
        _ => rng.gen_range(-1.0..1.0),
    })
}

#[test]
fn when_a_row_is_confirmed_should_raise_its_neighbours_above_unlabelled_anomalies() {
    let x = data();
    let detector = AlgorithmParams::default_for(Algorithm::Hbos)
        .fit(x.view())
        .unwrap();
    let labels = LabelledRows::new(arr2(&[[6.0, 7.0]]), vec![true]).unwrap();
    let feedback = Feedback::fit(&FeedbackParams::default(), &detector, x.view(), &labels).unwrap();
    let scores = feedback.adjust(&detector.score(x.view()), x.view());
    let lowest_confirmed_group = scores
        .iter()
        .take(60)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let highest_other_group = scores.iter().skip(60).take(60).copied().fold(0.0, f64::max);
    assert!(lowest_confirmed_group > highest_other_group, "{scores}");
    assert_eq!(feedback.labels(), 1);
}

#[test]
fn when_an_alarm_is_rejected_should_lower_its_neighbours_most() {
    let x = data();
    let detector = AlgorithmParams::default_for(Algorithm::Hbos)
        .fit(x.view())
        .unwrap();
    let base = detector.score(x.view());
    let params = FeedbackParams::default();
    let none = Feedback::fit(
        &params,
        &detector,
        x.view(),
        &LabelledRows::new(Array2::zeros((0, 2)), vec![]).unwrap(),
    )
    .unwrap();
    let rejected = LabelledRows::new(arr2(&[[-6.0, -6.0]]), vec![false]).unwrap();
    let feedback = Feedback::fit(&params, &detector, x.view(), &rejected).unwrap();
    let (before, after) = (
        none.adjust(&base, x.view()),
        feedback.adjust(&base, x.view()),
    );
    let drop = |i: usize| before[i] - after[i];
    let least_near = (60..120).map(drop).fold(f64::INFINITY, f64::min);
    let most_far = (0..60).chain(120..3_120).map(drop).fold(0.0, f64::max);
    assert!(
        least_near > 0.0 && most_far < least_near / 10.0,
        "{least_near} {most_far}"
    );
}

#[test]
fn when_labels_are_malformed_should_refuse_them() {
    assert!(LabelledRows::new(Array2::zeros((2, 2)), vec![true]).is_err());
    assert!(LabelledRows::new(arr2(&[[f64::NAN, 1.0]]), vec![true]).is_err());
    let x = data();
    let detector = AlgorithmParams::default_for(Algorithm::Hbos)
        .fit(x.view())
        .unwrap();
    let wide = LabelledRows::new(Array2::zeros((1, 3)), vec![true]).unwrap();
    assert!(Feedback::fit(&FeedbackParams::default(), &detector, x.view(), &wide).is_err());
    let params = FeedbackParams {
        anomaly_weight: 2.0,
        ..FeedbackParams::default()
    };
    let one = LabelledRows::new(Array2::zeros((1, 2)), vec![true]).unwrap();
    assert!(Feedback::fit(&params, &detector, x.view(), &one).is_err());
}
