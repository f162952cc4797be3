//! The continuous backup task: ships buffered commits as a segment every
//! interval, renews the writer lease, takes a snapshot when one is due and
//! applies retention after it. On shutdown it ships what is left and
//! releases the lease.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cosmonaut_storage::Backend;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::account::{self, AccountSource};
use crate::buffer::CommitBuffer;
use crate::catalog::Catalog;
use crate::codec;
use crate::error::{BackupError, Result};
use crate::layout::{self, SegmentName, SnapshotName};
use crate::lease::Lease;
use crate::seal::Kind;
use crate::snapshot::{self, Manifest};
use crate::stats::BackupStats;
use crate::target::Target;

/// A segment carries at most this much.
const MAX_SEGMENT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// How often buffered commits ship: the most acknowledged writes a lost
    /// machine can take with it, plus one upload.
    pub interval: Duration,
    /// How often a snapshot is taken when anything changed.
    pub snapshot_every: Duration,
    /// How long snapshots (and the log after them) are kept; the newest is always kept.
    pub retention: Duration,
    pub lease_ttl: Duration,
    /// How often the location's log is checked for segments it lost.
    pub verify_every: Duration,
    /// The account's configuration files, uploaded when they change.
    pub account: Option<AccountSource>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            snapshot_every: Duration::from_secs(15 * 60),
            retention: Duration::from_secs(7 * 24 * 3600),
            lease_ttl: Duration::from_secs(15),
            verify_every: Duration::from_secs(30),
            account: None,
        }
    }
}

/// The running backup of one store.
pub struct BackupService {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct Worker {
    target: Target,
    backend: Arc<dyn Backend>,
    lease: Lease,
    buffer: Arc<CommitBuffer>,
    config: BackupConfig,
    stats: Arc<BackupStats>,
    /// Chunks the location has.
    chunks: HashSet<String>,
    /// The chunks of each snapshot the location has, for retention.
    manifests: BTreeMap<SnapshotName, Vec<String>>,
    /// Commits up to here are in a snapshot or a segment already.
    covered_seq: u64,
    /// Set until a snapshot of this epoch exists.
    snapshot_due: bool,
    last_snapshot: Option<Instant>,
    last_snapshot_seq: u64,
    last_verified: Instant,
    /// Something failed since the last check: the location may have been
    /// away, and a store that restarts may have dropped recent writes, so
    /// the next round checks it at once.
    verify_soon: bool,
    /// The digest of the account files last uploaded.
    account_digest: Option<String>,
}

impl BackupService {
    /// Starts backing up `backend` (whose commits flow into `buffer`) to `target`
    /// under `lease`. The first thing it does is take a snapshot, so the
    /// epoch's log has a base.
    pub async fn start(
        target: Target,
        backend: Arc<dyn Backend>,
        lease: Lease,
        buffer: Arc<CommitBuffer>,
        config: BackupConfig,
        stats: Arc<BackupStats>,
    ) -> Result<Self> {
        stats.lease_epoch.store(lease.epoch, Relaxed);
        let catalog = Catalog::read(&target).await?;
        let mut manifests = BTreeMap::new();
        for snapshot in &catalog.snapshots {
            let manifest = Manifest::load(&target, &snapshot.name).await?;
            let hashes = manifest.chunks.into_iter().map(|c| c.hash).collect();
            manifests.insert(snapshot.name, hashes);
        }
        let mut worker = Worker {
            chunks: catalog.chunks.into_iter().map(|(h, _)| h).collect(),
            manifests,
            target,
            backend,
            lease,
            buffer,
            config,
            stats,
            covered_seq: 0,
            snapshot_due: true,
            last_snapshot: None,
            last_snapshot_seq: 0,
            last_verified: Instant::now(),
            verify_soon: false,
            account_digest: None,
        };
        // The account goes up before serving too: a restore of this epoch
        // brings its keys back.
        worker.back_up_account().await?;
        // The epoch's base snapshot is taken before serving, so that a backup
        // exists as soon as the server answers.
        worker.snapshot().await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker.run(stopped));
        Ok(Self { stop, task })
    }

    /// Ships what is left, releases the lease and stops. Call after the store
    /// has committed its last write.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Worker {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let renew_every = self.config.lease_ttl / 3;
        let mut last_renewal = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            if last_renewal.elapsed() >= renew_every {
                match self.lease.renew(&self.target).await {
                    Ok(()) => last_renewal = Instant::now(),
                    Err(err @ BackupError::LeaseLost { .. }) => {
                        tracing::error!(%err, "backups stopped");
                        self.stats.failed(&err.to_string());
                        self.stats.lease_lost.store(true, Relaxed);
                        return;
                    }
                    Err(err) => self.failed("renewing the backup lease", &err),
                }
            }
            let due = self.snapshot_due
                || self
                    .last_snapshot
                    .is_none_or(|t| t.elapsed() >= self.config.snapshot_every);
            if due && self.has_changes() {
                if let Err(err) = self.snapshot().await {
                    self.failed("taking a snapshot", &err);
                }
            }
            if let Err(err) = self.ship().await {
                self.failed("shipping the log", &err);
            }
            if let Err(err) = self.back_up_account().await {
                self.failed("backing up the account's keys and certificate", &err);
            }
            if self.verify_soon || self.last_verified.elapsed() >= self.config.verify_every {
                self.last_verified = Instant::now();
                match self.verify().await {
                    Ok(()) => self.verify_soon = false,
                    Err(err) => self.failed("checking the uploaded log", &err),
                }
            }
        }
        // The newest snapshot must be restorable: a location that lost
        // chunks since the last check gets them again before the end.
        if let Err(err) = self.verify_chunks().await {
            self.failed("checking the snapshot chunks at shutdown", &err);
        }
        // Final upload: the store is closed, so the buffer holds everything.
        for attempt in 1..=3 {
            match self.ship().await {
                Ok(()) => break,
                Err(err) => {
                    self.failed("shipping the log at shutdown", &err);
                    if attempt < 3 {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
        if let Err(err) = self.lease.release(&self.target).await {
            self.failed("releasing the backup lease", &err);
        }
    }

    /// Checks that the location still holds every segment shipped since the
    /// epoch's newest snapshot: a target that lost one (a deleted object, a
    /// store that dropped recent writes) would leave a restore short of the
    /// newest state. A loss is reported and a snapshot taken at once, which
    /// makes the lost segments unnecessary for restoring the newest state.
    async fn verify(&mut self) -> Result<()> {
        if self.verify_chunks().await? {
            return Ok(());
        }
        let since = self.last_snapshot_seq;
        if self.covered_seq <= since {
            return Ok(());
        }
        let mut held: Vec<SegmentName> = self
            .target
            .list(layout::SEGMENTS)
            .await?
            .into_iter()
            .filter_map(|l| SegmentName::parse(&l.name))
            .filter(|name| name.epoch == self.lease.epoch && name.last > since)
            .collect();
        held.sort();
        let mut next = since + 1;
        for name in &held {
            if name.first > next {
                break;
            }
            next = next.max(name.last + 1);
        }
        if next > self.covered_seq {
            return Ok(());
        }
        let missing = format!(
            "the backup location lost log segments: commits {next}..={} are missing; taking a \
             snapshot to cover them",
            self.covered_seq
        );
        tracing::error!("{missing}");
        self.stats.segments_lost.fetch_add(1, Relaxed);
        self.stats.failed(&missing);
        self.snapshot_due = true;
        self.snapshot().await
    }

    /// Checks that the location still holds every chunk this worker counts
    /// on: a store that dropped acknowledged writes (one that restarted)
    /// would leave the snapshots naming them unrestorable, and later
    /// snapshots would name them again. Lost chunks are forgotten and a
    /// snapshot taken at once, which uploads them again; returns whether
    /// that happened.
    async fn verify_chunks(&mut self) -> Result<bool> {
        let held: HashSet<String> = self
            .target
            .list(layout::CHUNKS)
            .await?
            .into_iter()
            .filter_map(|l| layout::chunk_hash(&l.name).map(str::to_string))
            .collect();
        let lost: Vec<String> = self
            .chunks
            .iter()
            .filter(|hash| !held.contains(*hash))
            .cloned()
            .collect();
        if lost.is_empty() {
            return Ok(false);
        }
        for hash in &lost {
            self.chunks.remove(hash);
        }
        let message = format!(
            "the backup location lost {} snapshot chunks; taking a snapshot to upload them again",
            lost.len()
        );
        tracing::error!("{message}");
        self.stats.failed(&message);
        self.snapshot_due = true;
        self.snapshot().await?;
        Ok(true)
    }

    /// Uploads the account's files if they changed since the last upload.
    async fn back_up_account(&mut self) -> Result<()> {
        let Some(source) = &self.config.account else {
            return Ok(());
        };
        let files = (source.0)();
        let digest = account::digest(&files);
        if self.account_digest.as_ref() == Some(&digest) {
            return Ok(());
        }
        account::upload(&self.target, &files).await?;
        self.account_digest = Some(digest);
        Ok(())
    }

    fn failed(&mut self, what: &str, err: &BackupError) {
        self.verify_soon = true;
        tracing::warn!(%err, "backup: {what} failed; will retry");
        self.stats.failed(&format!("{what}: {err}"));
    }

    fn has_changes(&self) -> bool {
        self.snapshot_due
            || self.covered_seq > self.last_snapshot_seq
            || self.stats.pending_commits.load(Relaxed) > 0
    }

    /// Ships every buffered commit not yet covered, as segments.
    async fn ship(&mut self) -> Result<()> {
        loop {
            let (commits, overflowed) = self.buffer.take(MAX_SEGMENT_BYTES);
            if overflowed {
                self.snapshot_due = true;
                // Every commit taken now is older than the snapshot to come.
                self.snapshot().await?;
                continue;
            }
            let commits: Vec<_> = commits
                .into_iter()
                .filter(|c| c.position.seq > self.covered_seq)
                .collect();
            let (Some(first), Some(last)) = (commits.first(), commits.last()) else {
                return Ok(());
            };
            let name = SegmentName {
                epoch: self.lease.epoch,
                first: first.position.seq,
                last: last.position.seq,
                last_ms: last.position.time_ms,
            };
            let sealed = match self.target.sealer().seal(
                Kind::Segment,
                &codec::encode_segment(self.lease.epoch, &commits),
            ) {
                Ok(sealed) => sealed,
                Err(err) => {
                    self.buffer.restore(commits);
                    return Err(err);
                }
            };
            let bytes = sealed.len() as u64;
            if let Err(err) = self.target.put(&name.name(), sealed).await {
                self.buffer.restore(commits);
                return Err(err);
            }
            self.covered_seq = name.last;
            self.stats.segments_uploaded.fetch_add(1, Relaxed);
            self.stats.segment_bytes.fetch_add(bytes, Relaxed);
            self.stats
                .commits_shipped
                .fetch_add(commits.len() as u64, Relaxed);
            self.stats.last_shipped_seq.store(name.last, Relaxed);
            self.stats.succeeded();
        }
    }

    async fn snapshot(&mut self) -> Result<()> {
        let report = snapshot::take(
            Arc::clone(&self.backend),
            &self.target,
            self.lease.epoch,
            &mut self.chunks,
        )
        .await?;
        tracing::info!(
            seq = report.manifest.seq,
            entries = report.manifest.entries,
            uploaded_chunks = report.uploaded_chunks,
            uploaded_bytes = report.uploaded_bytes,
            millis = report.millis,
            "backup snapshot taken"
        );
        self.covered_seq = self.covered_seq.max(report.manifest.seq);
        self.snapshot_due = false;
        self.last_snapshot = Some(Instant::now());
        self.last_snapshot_seq = report.manifest.seq;
        self.stats
            .snapshot_bytes
            .fetch_add(report.uploaded_bytes, Relaxed);
        // Counted last, with Release: whoever sees the count sees the bytes.
        self.stats
            .snapshots_taken
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        self.stats
            .last_snapshot_ms
            .store(report.manifest.taken_ms, Relaxed);
        self.stats
            .last_snapshot_duration_ms
            .store(report.millis, Relaxed);
        self.stats.succeeded();
        let hashes = report
            .manifest
            .chunks
            .iter()
            .map(|c| c.hash.clone())
            .collect();
        self.manifests.insert(report.name, hashes);
        if let Err(err) = self.apply_retention().await {
            self.failed("applying retention", &err);
        }
        Ok(())
    }

    /// Deletes snapshots older than the retention window (never the newest),
    /// the segments no kept snapshot can replay, and chunks no kept snapshot names.
    async fn apply_retention(&mut self) -> Result<()> {
        let horizon = crate::now_ms().saturating_sub(self.config.retention.as_millis() as u64);
        let newest = self.manifests.keys().max_by_key(|n| n.taken_ms).copied();
        let expired: Vec<SnapshotName> = self
            .manifests
            .keys()
            .filter(|n| n.taken_ms < horizon && Some(**n) != newest)
            .copied()
            .collect();
        if expired.is_empty() {
            return Ok(());
        }
        for name in &expired {
            self.target.delete(&name.name()).await?;
            self.manifests.remove(name);
        }
        let catalog = Catalog::read(&self.target).await?;
        for segment in &catalog.segments {
            let replayable = self
                .manifests
                .keys()
                .any(|s| s.epoch == segment.name.epoch && segment.name.last > s.seq);
            if !replayable {
                self.target.delete(&segment.name.name()).await?;
            }
        }
        let referenced: HashSet<&String> = self.manifests.values().flatten().collect();
        for (hash, _) in &catalog.chunks {
            if !referenced.contains(hash) {
                self.target.delete(&layout::chunk(hash)).await?;
                self.chunks.remove(hash);
            }
        }
        Ok(())
    }
}
