//! When a long workflow (a backup, a restore) must stop and leave the rest to a follow-up
//! invocation: the function's time limit less a margin, or never.

use std::time::{Duration, Instant};

/// The moment after which a resumable workflow checkpoints and returns instead of starting
/// another step. Every invocation makes at least one step, so a run always progresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: run to the end.
    pub fn none() -> Self {
        Self(None)
    }

    /// `budget` from now.
    pub fn within(budget: Duration) -> Self {
        Self(Some(Instant::now() + budget))
    }

    /// Whether it has passed.
    pub fn passed(&self) -> bool {
        self.0.is_some_and(|at| Instant::now() >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_the_budget_is_spent_should_have_passed_and_never_without_one() {
        assert!(Deadline::within(Duration::ZERO).passed());
        assert!(!Deadline::within(Duration::from_secs(60)).passed());
        assert!(!Deadline::none().passed());
    }
}
