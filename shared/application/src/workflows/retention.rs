//! Which backups to keep: a grandfather-father-son policy over the good backups (the newest of
//! each of the last `keep_daily` days that have one, and of the last `keep_weekly` ISO weeks),
//! plus, whatever the policy, the newest good backup. Failed backups never count as good: they
//! are kept only while newer than the newest good one (for diagnosis) and pruned after. A
//! backup in progress (continued by a follow-up invocation) is always kept.
//!
//! Pure logic over (id, time, status) records, so the backup function only lists and deletes.

use std::collections::BTreeSet;

/// Milliseconds in a UTC day.
const DAY_MS: u64 = 86_400_000;

/// One backup as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRecord {
    /// Backup id.
    pub id: String,
    /// Start time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Whether the backup completed and verified.
    pub good: bool,
    /// Whether a follow-up invocation is to continue it (kept whatever its age).
    pub in_progress: bool,
}

impl BackupRecord {
    fn day(&self) -> u64 {
        self.created_at / DAY_MS
    }

    /// ISO week index (weeks start on Monday; 1970-01-01 was a Thursday).
    fn week(&self) -> u64 {
        (self.day() + 3) / 7
    }
}

/// How many daily and weekly backups to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Newest good backup of each of this many most recent days that have one.
    pub keep_daily: usize,
    /// Newest good backup of each of this many most recent ISO weeks that have one.
    pub keep_weekly: usize,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            keep_daily: 7,
            keep_weekly: 4,
        }
    }
}

/// What the policy decided, ids sorted newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    /// Backups to keep.
    pub keep: Vec<String>,
    /// Backups to delete.
    pub prune: Vec<String>,
}

impl RetentionPolicy {
    /// Splits `backups` into those to keep and those to prune.
    pub fn plan(&self, backups: &[BackupRecord]) -> RetentionPlan {
        let mut sorted: Vec<&BackupRecord> = backups.iter().collect();
        // Newest first; ties broken by id so the plan does not depend on input order.
        sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let good: Vec<&BackupRecord> = sorted.iter().copied().filter(|b| b.good).collect();
        let mut keep: BTreeSet<&str> = BTreeSet::new();
        if let Some(newest) = good.first() {
            keep.insert(&newest.id);
        }
        keep.extend(newest_per_period(&good, BackupRecord::day, self.keep_daily));
        keep.extend(newest_per_period(
            &good,
            BackupRecord::week,
            self.keep_weekly,
        ));
        let newest_good_at = good.first().map(|b| b.created_at);
        for failed in sorted.iter().filter(|b| !b.good) {
            if failed.in_progress || newest_good_at.is_none_or(|at| failed.created_at > at) {
                keep.insert(&failed.id);
            }
        }
        let (kept, pruned): (Vec<&&BackupRecord>, Vec<&&BackupRecord>) =
            sorted.iter().partition(|b| keep.contains(b.id.as_str()));
        RetentionPlan {
            keep: kept.into_iter().map(|b| b.id.clone()).collect(),
            prune: pruned.into_iter().map(|b| b.id.clone()).collect(),
        }
    }
}

/// Ids of the newest backup in each of the `count` most recent periods (of `good`, newest first).
fn newest_per_period<'a>(
    good: &[&'a BackupRecord],
    period: fn(&BackupRecord) -> u64,
    count: usize,
) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    good.iter()
        .filter(|b| seen.insert(period(b)))
        .take(count)
        .map(|b| b.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOUR: u64 = 3_600_000;

    fn backup(id: &str, day: u64, hour: u64, good: bool) -> BackupRecord {
        BackupRecord {
            id: id.into(),
            // Day 4 after the epoch is Monday 1970-01-05.
            created_at: (4 + day) * DAY_MS + hour * HOUR,
            good,
            in_progress: false,
        }
    }

    #[test]
    fn when_backups_span_weeks_should_keep_newest_per_day_and_week() {
        // Two a day for 30 days: ids d{day}h{hour}.
        let backups: Vec<BackupRecord> = (0..30)
            .flat_map(|d| [2, 14].map(|h| backup(&format!("d{d:02}h{h:02}"), d, h, true)))
            .collect();
        let plan = RetentionPolicy {
            keep_daily: 3,
            keep_weekly: 3,
        }
        .plan(&backups);
        // Days 29, 28, 27 (newest of each); weeks: day 29 is in week 4 (days 28-34), then the
        // newest of week 3 (day 27) and week 2 (day 20).
        assert_eq!(plan.keep, ["d29h14", "d28h14", "d27h14", "d20h14"]);
        assert_eq!(plan.keep.len() + plan.prune.len(), 60);
    }

    #[test]
    fn when_newest_backups_failed_should_keep_them_and_the_newest_good_one() {
        let backups = vec![
            backup("good-old", 0, 1, true),
            backup("failed-older", 0, 0, false),
            backup("failed-1", 5, 0, false),
            backup("failed-2", 6, 0, false),
        ];
        let plan = RetentionPolicy {
            keep_daily: 0,
            keep_weekly: 0,
        }
        .plan(&backups);
        assert_eq!(plan.keep, ["failed-2", "failed-1", "good-old"]);
        assert_eq!(plan.prune, ["failed-older"]);
    }

    #[test]
    fn when_an_old_backup_is_in_progress_should_keep_it() {
        let mut resumed = backup("resumed", 0, 0, false);
        resumed.in_progress = true;
        let backups = vec![
            resumed,
            backup("good", 1, 0, true),
            backup("dead", 0, 1, false),
        ];
        let plan = RetentionPolicy::default().plan(&backups);
        assert_eq!(plan.keep, ["good", "resumed"]);
        assert_eq!(plan.prune, ["dead"]);
    }

    #[test]
    fn when_no_backup_is_good_should_prune_nothing() {
        let backups = vec![backup("f1", 0, 0, false), backup("f2", 1, 0, false)];
        let plan = RetentionPolicy::default().plan(&backups);
        assert_eq!(plan.keep, ["f2", "f1"]);
        assert!(plan.prune.is_empty());
    }

    proptest! {
        #[test]
        fn the_newest_good_backup_is_never_pruned_and_failed_ones_never_count(
            entries in proptest::collection::vec((0u64..60, 0u64..24, any::<bool>()), 0..80),
            keep_daily in 0usize..10,
            keep_weekly in 0usize..6,
        ) {
            let backups: Vec<BackupRecord> = entries
                .iter()
                .enumerate()
                .map(|(i, (d, h, good))| backup(&format!("b{i}"), *d, *h, *good))
                .collect();
            let policy = RetentionPolicy { keep_daily, keep_weekly };
            let plan = policy.plan(&backups);
            prop_assert_eq!(plan.keep.len() + plan.prune.len(), backups.len());
            let good_kept = plan
                .keep
                .iter()
                .filter(|id| backups.iter().any(|b| &b.id == *id && b.good))
                .count();
            prop_assert!(good_kept <= 1 + keep_daily + keep_weekly);
            let newest_good = backups
                .iter()
                .filter(|b| b.good)
                .max_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            if let Some(newest) = newest_good {
                prop_assert!(plan.keep.contains(&newest.id));
                // Adding failed backups never changes which good ones are kept.
                let only_good: Vec<BackupRecord> =
                    backups.iter().filter(|b| b.good).cloned().collect();
                let good_plan = policy.plan(&only_good);
                let kept_good: Vec<&String> = plan
                    .keep
                    .iter()
                    .filter(|id| only_good.iter().any(|b| &b.id == *id))
                    .collect();
                prop_assert_eq!(kept_good, good_plan.keep.iter().collect::<Vec<_>>());
            }
        }
    }
}
