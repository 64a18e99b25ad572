//! Reading the whole job table page by page (backups) and the jobs whose lease expired (the
//! sweep).

use async_trait::async_trait;

use super::{JobPage, StoreError};
use crate::domain::Job;

/// Reading the whole job table, for backups.
#[async_trait]
pub trait JobScan: Send + Sync {
    /// One page of the job items of every tenant: at most `limit` (a page may hold fewer, even
    /// none, and still not be the last), after `cursor` (a page's `next_cursor`; `None` for the
    /// first). The order is the store's own; every job is on exactly one page of a scan.
    async fn scan_jobs(&self, cursor: Option<&str>, limit: usize) -> Result<JobPage, StoreError>;

    /// Every job item, by tenant then id: every page of [`JobScan::scan_jobs`], in memory (tests
    /// and tools; the backup reads page by page).
    async fn all_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.scan_jobs(cursor.as_deref(), 1000).await?;
            jobs.extend(page.jobs);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        jobs.sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
        Ok(jobs)
    }

    /// At most `limit` jobs of every tenant that are [overdue](crate::domain::Job::overdue) at
    /// `now_ms` (running under an ended lease, or pending past their deadline), oldest first.
    async fn expired_leases(&self, now_ms: u64, limit: usize) -> Result<Vec<Job>, StoreError>;
}
