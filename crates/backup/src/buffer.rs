//! Commits waiting to ship. The storage writer hands each durable commit
//! here (a push under a short lock); the backup service drains them into
//! segments. If the location is unreachable for long, the buffer stops
//! growing at its cap: it drops what it holds and asks for a new snapshot,
//! which covers the dropped commits.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use cosmonaut_storage::{Commit, CommitObserver};

use crate::stats::BackupStats;

/// Buffered commits beyond this many bytes are dropped for a snapshot.
pub const DEFAULT_CAP_BYTES: usize = 512 * 1024 * 1024;

#[derive(Default)]
struct Pending {
    commits: VecDeque<Commit>,
    bytes: usize,
    overflowed: bool,
}

pub struct CommitBuffer {
    pending: Mutex<Pending>,
    cap_bytes: usize,
    stats: Arc<BackupStats>,
}

fn size(commit: &Commit) -> usize {
    commit
        .writes
        .iter()
        .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len) + 16)
        .sum::<usize>()
        + 32
}

impl CommitBuffer {
    pub fn new(cap_bytes: usize, stats: Arc<BackupStats>) -> Self {
        Self {
            pending: Mutex::new(Pending::default()),
            cap_bytes,
            stats,
        }
    }

    /// Takes up to `max_bytes` of the oldest commits, and whether commits
    /// were dropped since the last call (then a snapshot must cover them).
    pub(crate) fn take(&self, max_bytes: usize) -> (Vec<Commit>, bool) {
        let Ok(mut pending) = self.pending.lock() else {
            return (Vec::new(), true);
        };
        let overflowed = std::mem::take(&mut pending.overflowed);
        let mut taken = Vec::new();
        let mut bytes = 0;
        while let Some(commit) = pending.commits.front() {
            let n = size(commit);
            if !taken.is_empty() && bytes + n > max_bytes {
                break;
            }
            bytes += n;
            if let Some(commit) = pending.commits.pop_front() {
                taken.push(commit);
            }
        }
        pending.bytes -= bytes;
        self.publish(&pending);
        (taken, overflowed)
    }

    /// Puts commits back at the front after a failed upload.
    pub(crate) fn restore(&self, commits: Vec<Commit>) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        for commit in commits.into_iter().rev() {
            pending.bytes += size(&commit);
            pending.commits.push_front(commit);
        }
        self.publish(&pending);
    }

    fn publish(&self, pending: &Pending) {
        self.stats
            .pending_commits
            .store(pending.commits.len() as u64, Relaxed);
        if let Some(oldest) = pending.commits.front() {
            self.stats
                .oldest_pending_ms
                .store(oldest.position.time_ms, Relaxed);
        }
    }
}

impl CommitObserver for CommitBuffer {
    fn committed(&self, commit: Commit) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        pending.bytes += size(&commit);
        pending.commits.push_back(commit);
        if pending.bytes > self.cap_bytes {
            tracing::error!(
                cap_bytes = self.cap_bytes,
                "backup is too far behind; dropping buffered commits until the next snapshot"
            );
            pending.commits.clear();
            pending.bytes = 0;
            pending.overflowed = true;
        }
        self.publish(&pending);
    }
}
