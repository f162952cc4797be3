//! Backup telemetry: counters the service keeps and `/metrics` shows.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct BackupStats {
    pub segments_uploaded: AtomicU64,
    pub segment_bytes: AtomicU64,
    pub commits_shipped: AtomicU64,
    pub last_shipped_seq: AtomicU64,
    pub snapshots_taken: AtomicU64,
    pub snapshot_bytes: AtomicU64,
    pub last_snapshot_ms: AtomicU64,
    pub last_snapshot_duration_ms: AtomicU64,
    pub last_success_ms: AtomicU64,
    pub failures: AtomicU64,
    /// Times the location was found to have lost shipped segments.
    pub segments_lost: AtomicU64,
    pub last_failure_ms: AtomicU64,
    pub lease_epoch: AtomicU64,
    pub lease_lost: AtomicBool,
    /// Commits waiting to ship and the commit time of the oldest of them.
    pub pending_commits: AtomicU64,
    pub oldest_pending_ms: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

impl BackupStats {
    pub(crate) fn failed(&self, error: &str) {
        self.failures.fetch_add(1, Relaxed);
        self.last_failure_ms.store(crate::now_ms(), Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.to_string());
        }
    }

    pub(crate) fn succeeded(&self) {
        self.last_success_ms.store(crate::now_ms(), Relaxed);
    }

    /// The figures an operator looks at first, as JSON (the Data Explorer's
    /// account page shows them).
    pub fn summary(&self) -> serde_json::Value {
        let at = |ms: u64| (ms > 0).then_some(ms);
        serde_json::json!({
            "lagMs": self.lag_ms(),
            "pendingCommits": self.pending_commits.load(Relaxed),
            "lastShippedCommit": self.last_shipped_seq.load(Relaxed),
            "segmentsUploaded": self.segments_uploaded.load(Relaxed),
            "snapshotsTaken": self.snapshots_taken.load(Relaxed),
            "lastSnapshotMs": at(self.last_snapshot_ms.load(Relaxed)),
            "lastSuccessMs": at(self.last_success_ms.load(Relaxed)),
            "failures": self.failures.load(Relaxed),
            "segmentsLost": self.segments_lost.load(Relaxed),
            "leaseEpoch": self.lease_epoch.load(Relaxed),
            "leaseLost": self.lease_lost.load(Relaxed),
            "lastError": self.last_error.lock().ok().and_then(|e| e.clone()),
        })
    }

    /// How far the backup trails the store: the age of the oldest commit not yet shipped.
    pub fn lag_ms(&self) -> u64 {
        if self.pending_commits.load(Relaxed) == 0 {
            return 0;
        }
        crate::now_ms().saturating_sub(self.oldest_pending_ms.load(Relaxed))
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP cosmonaut_backup_{name} {help}");
            let _ = writeln!(out, "# TYPE cosmonaut_backup_{name} {kind}");
            let _ = writeln!(out, "cosmonaut_backup_{name} {value}");
        };
        let seconds = |ms: u64| ms / 1000;
        metric(
            "lag_milliseconds",
            "gauge",
            "Age of the oldest commit not yet shipped.",
            self.lag_ms(),
        );
        metric(
            "pending_commits",
            "gauge",
            "Commits waiting to ship.",
            self.pending_commits.load(Relaxed),
        );
        metric(
            "segments_uploaded_total",
            "counter",
            "Log segments uploaded.",
            self.segments_uploaded.load(Relaxed),
        );
        metric(
            "segment_bytes_total",
            "counter",
            "Bytes of log segments uploaded.",
            self.segment_bytes.load(Relaxed),
        );
        metric(
            "commits_shipped_total",
            "counter",
            "Commits shipped in segments.",
            self.commits_shipped.load(Relaxed),
        );
        metric(
            "last_shipped_sequence",
            "gauge",
            "Sequence number of the last commit shipped.",
            self.last_shipped_seq.load(Relaxed),
        );
        metric(
            "snapshots_total",
            "counter",
            "Snapshots taken.",
            self.snapshots_taken.load(Relaxed),
        );
        metric(
            "snapshot_bytes_total",
            "counter",
            "Bytes of snapshot chunks uploaded.",
            self.snapshot_bytes.load(Relaxed),
        );
        metric(
            "last_snapshot_timestamp_seconds",
            "gauge",
            "When the last snapshot was taken.",
            seconds(self.last_snapshot_ms.load(Relaxed)),
        );
        metric(
            "last_snapshot_duration_milliseconds",
            "gauge",
            "How long the last snapshot took.",
            self.last_snapshot_duration_ms.load(Relaxed),
        );
        metric(
            "last_success_timestamp_seconds",
            "gauge",
            "When an upload last succeeded.",
            seconds(self.last_success_ms.load(Relaxed)),
        );
        metric(
            "failures_total",
            "counter",
            "Uploads or renewals that failed.",
            self.failures.load(Relaxed),
        );
        metric(
            "segments_lost_total",
            "counter",
            "Times the location was found to have lost shipped log segments (a snapshot then covers them).",
            self.segments_lost.load(Relaxed),
        );
        metric(
            "last_failure_timestamp_seconds",
            "gauge",
            "When an upload last failed.",
            seconds(self.last_failure_ms.load(Relaxed)),
        );
        metric(
            "lease_epoch",
            "gauge",
            "The writer lease this instance holds.",
            self.lease_epoch.load(Relaxed),
        );
        metric(
            "lease_lost",
            "gauge",
            "1 when another instance took the lease over.",
            u64::from(self.lease_lost.load(Relaxed)),
        );
        out
    }
}
