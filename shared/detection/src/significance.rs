//! Significance tests for comparing detectors across seeds and sets: Welch's two-sample t-test
//! (our seeds against a reference's seeds, from their means and spreads) and the paired t-test
//! (two detectors over the same sets). The accuracy report uses them instead of fixed margins.

/// A t-test's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    /// The t statistic (positive when the first sample's mean is higher).
    pub t: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Welch's t-test of two samples given as mean, standard deviation (n - 1 denominator) and
/// size; `None` when a sample has fewer than 2 values or both spreads are 0.
pub fn welch(m1: f64, s1: f64, n1: usize, m2: f64, s2: f64, n2: usize) -> Option<TTest> {
    if n1 < 2 || n2 < 2 {
        return None;
    }
    let (v1, v2) = (s1 * s1 / n1 as f64, s2 * s2 / n2 as f64);
    let se2 = v1 + v2;
    if se2.is_nan() || se2 <= 0.0 {
        return None;
    }
    let t = (m1 - m2) / se2.sqrt();
    let df = se2 * se2 / (v1 * v1 / (n1 - 1) as f64 + v2 * v2 / (n2 - 1) as f64);
    Some(TTest {
        t,
        df,
        p: two_sided_p(t, df),
    })
}

/// The paired t-test of `a[i] - b[i]`; `None` with fewer than 2 pairs or no spread.
pub fn paired(a: &[f64], b: &[f64]) -> Option<TTest> {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (mean, sd) = mean_sd(&d);
    if d.len() < 2 || sd.is_nan() || sd <= 0.0 {
        return None;
    }
    let t = mean / (sd / (d.len() as f64).sqrt());
    let df = (d.len() - 1) as f64;
    Some(TTest {
        t,
        df,
        p: two_sided_p(t, df),
    })
}

/// Mean and standard deviation (n - 1 denominator; 0 for one value; NaN for none) of `v`.
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

/// P(|T| >= |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2).
fn two_sided_p(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    incomplete_beta(df / (df + t * t), df / 2.0, 0.5).clamp(0.0, 1.0)
}

/// The regularized incomplete beta function I_x(a, b) (continued fraction, Lentz's method).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function.
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let away_from_zero = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / away_from_zero(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / away_from_zero(1.0 + even * d);
        c = away_from_zero(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / away_from_zero(1.0 + odd * d);
        c = away_from_zero(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-14 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    use std::f64::consts::PI;
    if x < 0.5 {
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[0]
        + G.iter()
            .enumerate()
            .skip(1)
            .map(|(i, g)| g / (x + i as f64))
            .sum::<f64>();
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_t_is_known_should_give_scipys_p_values() {
        // scipy.stats.t.sf(2.0, 10) * 2 = 0.0733880348; t.sf(1.0, 3) * 2 = 0.3910022190.
        assert!((two_sided_p(2.0, 10.0) - 0.073_388_035).abs() < 1e-8);
        assert!((two_sided_p(-1.0, 3.0) - 0.391_002_219).abs() < 1e-8);
        assert!((two_sided_p(0.0, 7.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn when_samples_differ_should_welch_like_scipy() {
        // scipy.stats.ttest_ind_from_stats(0.80, 0.02, 20, 0.82, 0.01, 20, equal_var=False):
        // t = -4.0, p = 0.000421458.
        let test = welch(0.80, 0.02, 20, 0.82, 0.01, 20).unwrap();
        assert!((test.t + 4.0).abs() < 1e-9);
        assert!((test.p - 0.000_421_458).abs() < 1e-8, "{}", test.p);
        assert!(welch(0.8, 0.0, 20, 0.8, 0.0, 20).is_none());
    }

    #[test]
    fn when_pairs_are_given_should_test_their_differences() {
        // scipy.stats.ttest_rel([1, 2, 3, 4], [0.5, 1, 2.5, 3]): t = 5.196152, p = 0.013846833.
        let test = paired(&[1.0, 2.0, 3.0, 4.0], &[0.5, 1.0, 2.5, 3.0]).unwrap();
        assert!((test.t - 5.196_152).abs() < 1e-5);
        assert!((test.p - 0.013_846_833).abs() < 1e-8, "{}", test.p);
        assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
    }
}
