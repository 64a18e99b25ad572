//! Which number to lower when a call is over budget, and to what: each whole-number parameter
//! that sizes the work (and the rows and columns sent) is lowered alone, halving the interval
//! between its smallest accepted value and its value until the largest value that fits is
//! found. The refusal names the one that dominates the cost and lists the others that would do.

use super::{WorkBudget, WorkEstimate};
use crate::error::DetectionError;

/// A whole-number parameter that sizes the work, or the rows or columns sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Size {
    /// The parameter as the API names it (`members[1].max_samples` inside an ensemble), or
    /// `rows` or `columns`.
    pub(crate) name: String,
    /// Its value in the call.
    pub(crate) value: usize,
    /// Its smallest accepted value.
    pub(crate) min: usize,
    /// Its default, for a parameter; `None` for the rows and columns of the data.
    pub(crate) default: Option<usize>,
}

impl Size {
    /// A parameter of the given value, smallest accepted value and default.
    pub(crate) fn parameter(
        name: impl Into<String>,
        value: usize,
        min: usize,
        default: usize,
    ) -> Self {
        Self {
            name: name.into(),
            value,
            min,
            default: Some(default),
        }
    }

    /// The rows or columns sent (`what` is `rows` or `columns`); at least 1 of each is needed.
    pub(crate) fn data(what: &str, value: usize) -> Self {
        Self {
            name: what.to_owned(),
            value,
            min: 1,
            default: None,
        }
    }

    /// How far above its default a parameter was set (0 for data, and for parameters at or
    /// below their default): the more, the more it is to blame.
    fn inflation(&self) -> f64 {
        match self.default {
            Some(default) if self.value > default => self.value as f64 / default.max(1) as f64,
            _ => 0.0,
        }
    }

    /// The change that fits, as the refusal words it.
    fn advice(&self, limit: usize) -> String {
        match self.default {
            Some(_) => format!("lower {} to at most {limit}", self.name),
            None => format!("send at most {limit} {}", self.name),
        }
    }
}

/// The refusal of a call estimated at `estimate`, over `budget` or over `max_model_bytes` of
/// model. `what` says what the call is ("training gmm on 1000 rows x 5 columns");
/// `cost_at(i, v)` is the estimate with `sizes[i]` set to `v` and everything else unchanged.
pub(crate) fn refuse(
    what: &str,
    estimate: &WorkEstimate,
    budget: &WorkBudget,
    max_model_bytes: u64,
    sizes: &[Size],
    cost_at: &dyn Fn(usize, usize) -> WorkEstimate,
) -> DetectionError {
    let fits = |i: usize, v: usize| cost_at(i, v).fits(budget, max_model_bytes);
    // Inflated parameters first (the most inflated first), then the rows and columns, then
    // parameters at their defaults.
    let rank = |s: &Size| match (s.inflation() > 0.0, s.default) {
        (true, _) => 0,
        (false, None) => 1,
        (false, Some(_)) => 2,
    };
    let mut order: Vec<(usize, &Size)> = sizes.iter().enumerate().collect();
    order.sort_by(|(_, a), (_, b)| {
        rank(a)
            .cmp(&rank(b))
            .then(b.inflation().total_cmp(&a.inflation()))
    });
    let solutions: Vec<(&Size, usize)> = order
        .iter()
        .filter_map(|&(i, size)| largest_fitting(size, |v| fits(i, v)).map(|limit| (size, limit)))
        .collect();
    let need = exceeded(estimate, budget, max_model_bytes);
    let (parameter, limit, advice) = match (solutions.as_slice(), order.first()) {
        ([(first, limit), rest @ ..], _) => {
            let mut advice = first.advice(*limit);
            for (size, limit) in rest {
                advice.push_str(", or ");
                advice.push_str(&size.advice(*limit));
            }
            (first.name.clone(), limit.to_string(), advice)
        }
        ([], Some((_, first))) => {
            let names: Vec<&str> = order.iter().map(|(_, s)| s.name.as_str()).collect();
            (
                first.name.clone(),
                first.min.to_string(),
                format!(
                    "no single change fits: lower several of {}",
                    names.join(", ")
                ),
            )
        }
        ([], None) => (
            "rows".to_owned(),
            "1".to_owned(),
            "send fewer rows".to_owned(),
        ),
    };
    DetectionError::OverBudget {
        parameter,
        limit,
        message: format!("{what} is estimated to need {need}: {advice}"),
    }
}

/// The largest value of `size` from its minimum up to (not including) its value for which
/// `fits` holds, by halving; `None` when even its minimum does not fit.
fn largest_fitting(size: &Size, fits: impl Fn(usize) -> bool) -> Option<usize> {
    if size.value <= size.min || !fits(size.min) {
        return None;
    }
    let (mut lo, mut hi) = (size.min, size.value);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// What `estimate` needs beyond `budget`, in words.
fn exceeded(estimate: &WorkEstimate, budget: &WorkBudget, max_model_bytes: u64) -> String {
    let mut parts = Vec::new();
    if estimate.peak_bytes > budget.memory_bytes {
        parts.push(format!(
            "{} of memory (the budget is {})",
            bytes(estimate.peak_bytes),
            bytes(budget.memory_bytes)
        ));
    }
    if estimate.seconds > budget.seconds {
        parts.push(format!(
            "{} of work (the budget is {})",
            seconds(estimate.seconds),
            seconds(budget.seconds)
        ));
    }
    if estimate.model_bytes > max_model_bytes {
        parts.push(format!(
            "a model of {} (a model may take at most {})",
            bytes(estimate.model_bytes),
            bytes(max_model_bytes)
        ));
    }
    parts.join(" and ")
}

/// A byte count in binary units, as people read them.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if unit == "bytes" || value >= 100.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// Seconds as people read them.
fn seconds(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: WorkBudget = WorkBudget {
        seconds: 10.0,
        memory_bytes: 1000,
    };

    /// Memory `components x samples` bytes, the shape of a Gaussian mixture's responsibilities.
    fn mixture(sizes: &[Size], i: usize, v: usize) -> WorkEstimate {
        let value = |j: usize| if j == i { v } else { sizes[j].value };
        WorkEstimate::new(1.0, (value(0) * value(1).min(value(2))) as f64, 0.0)
    }

    fn sizes() -> Vec<Size> {
        vec![
            Size::parameter("n_components", 64, 1, 2),
            Size::parameter("max_samples", 100, 2, 100),
            Size::data("rows", 500),
        ]
    }

    fn refusal(sizes: &[Size]) -> (String, String, String) {
        let estimate = mixture(sizes, usize::MAX, 0);
        match refuse("training", &estimate, &BUDGET, 1 << 20, sizes, &|i, v| {
            mixture(sizes, i, v)
        }) {
            DetectionError::OverBudget {
                parameter,
                limit,
                message,
            } => (parameter, limit, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn when_a_parameter_is_inflated_should_name_it_with_the_largest_value_that_fits() {
        let (parameter, limit, message) = refusal(&sizes());
        assert_eq!((parameter.as_str(), limit.as_str()), ("n_components", "10"));
        assert_eq!(
            message,
            "training is estimated to need 6.2 KiB of memory (the budget is 1000 bytes): \
             lower n_components to at most 10, or send at most 15 rows, \
             or lower max_samples to at most 15"
        );
    }

    #[test]
    fn when_parameters_are_at_their_defaults_should_ask_for_fewer_rows_first() {
        let mut sizes = sizes();
        sizes[0] = Size::parameter("n_components", 20, 1, 20);
        let (parameter, limit, message) = refusal(&sizes);
        assert_eq!((parameter.as_str(), limit.as_str()), ("rows", "50"));
        assert!(message.ends_with(": send at most 50 rows, or lower n_components to at most 10, or lower max_samples to at most 50"), "{message}");
    }

    #[test]
    fn when_no_single_change_fits_should_say_so() {
        let sizes = vec![Size::parameter("n_components", 64, 60, 2)];
        let estimate = WorkEstimate::new(100.0, 0.0, 0.0);
        let err = refuse("scoring", &estimate, &BUDGET, 1 << 20, &sizes, &|_, _| {
            estimate
        });
        assert_eq!(
            err,
            DetectionError::OverBudget {
                parameter: "n_components".into(),
                limit: "60".into(),
                message: "scoring is estimated to need 100 s of work (the budget is 10.0 s): \
                          no single change fits: lower several of n_components"
                    .into()
            }
        );
    }

    #[test]
    fn when_bytes_are_shown_should_use_binary_units() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(768 << 20), "768 MiB");
        assert_eq!(bytes(23_085_449_216), "21.5 GiB");
    }
}
