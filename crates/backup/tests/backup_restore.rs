//! Backup and restore against a real folder target: continuous shipping,
//! point-in-time restore, the writer lease, incremental snapshots,
//! retention, and refusal of corrupt objects.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cosmonaut_backup::{
    restore, BackupConfig, BackupError, BackupService, BackupStats, Catalog, Claimant,
    CommitBuffer, Lease, RestorePoint, Target,
};
use cosmonaut_storage::{
    Backend, KeyValue, RedbBackend, StorageError, Store, DATA_END, DATA_START,
};

struct Running {
    store: Store,
    backend: Arc<dyn Backend>,
    service: BackupService,
    stats: Arc<BackupStats>,
}

fn target(dir: &Path) -> Target {
    Target::from_url(&format!("file://{}", dir.display())).expect("target")
}

fn claimant(instance: &str) -> Claimant {
    Claimant {
        holder: format!("test {instance}"),
        instance: instance.into(),
        ttl: Duration::from_secs(30),
    }
}

fn config() -> BackupConfig {
    BackupConfig {
        interval: Duration::from_millis(50),
        ..BackupConfig::default()
    }
}

async fn start(data: &Path, target: &Target, config: BackupConfig) -> Running {
    let lease = Lease::acquire(target, &claimant("source"))
        .await
        .expect("lease");
    let backend: Arc<dyn Backend> =
        Arc::new(RedbBackend::open(&data.join(RedbBackend::FILE_NAME)).expect("open"));
    let stats = Arc::new(BackupStats::default());
    let buffer = Arc::new(CommitBuffer::new(1 << 30, Arc::clone(&stats)));
    let store = Store::with_observer(Arc::clone(&backend), Some(buffer.clone())).expect("store");
    let service = BackupService::start(
        target.clone(),
        Arc::clone(&backend),
        lease,
        buffer,
        config,
        Arc::clone(&stats),
    )
    .await
    .expect("service");
    Running {
        store,
        backend,
        service,
        stats,
    }
}

impl Running {
    async fn write(&self, puts: Vec<KeyValue>, deletes: Vec<Vec<u8>>) {
        self.store
            .transact(move |t| {
                for (k, v) in puts {
                    t.put(k, v);
                }
                for k in deletes {
                    t.delete(k);
                }
                Ok::<_, StorageError>(())
            })
            .await
            .expect("write");
    }

    async fn stop(self) -> Vec<KeyValue> {
        let contents = everything(self.backend.as_ref());
        drop(self.store);
        self.service.shutdown().await;
        contents
    }
}

fn everything(backend: &dyn Backend) -> Vec<KeyValue> {
    backend
        .snapshot()
        .expect("snapshot")
        .scan(DATA_START, DATA_END, usize::MAX)
        .expect("scan")
}

fn restored(file: &Path) -> Vec<KeyValue> {
    everything(&RedbBackend::open(file).expect("open restored"))
}

fn key(i: u32) -> Vec<u8> {
    [&[0x40u8][..], &i.to_be_bytes()].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_backup_restores_every_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let location = target(&dir.path().join("backup"));
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).expect("mkdir");
    let running = start(&source, &location, config()).await;
    for round in 0..20u32 {
        let puts = (0..50)
            .map(|i| (key(round * 50 + i), vec![round as u8; 100]))
            .collect();
        let deletes = if round > 0 {
            vec![key((round - 1) * 50)]
        } else {
            vec![]
        };
        running.write(puts, deletes).await;
        if round % 5 == 0 {
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        running
            .stats
            .segments_uploaded
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
    let expected = running.stop().await;

    let file = dir.path().join("restored").join(RedbBackend::FILE_NAME);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    let report = restore(&location, &file, RestorePoint::Latest)
        .await
        .expect("restore");
    assert_eq!(report.position.seq, 20);
    assert!(report.gap_after.is_none());
    assert_eq!(restored(&file), expected);
    // A restore never overwrites a store.
    assert!(restore(&location, &file, RestorePoint::Latest)
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_in_time_restore_stops_between_two_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let location = target(&dir.path().join("backup"));
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).expect("mkdir");
    let running = start(&source, &location, config()).await;
    running
        .write(vec![(key(1), b"first".to_vec())], vec![])
        .await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let between = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(30)).await;
    running
        .write(
            vec![(key(1), b"second".to_vec()), (key(2), b"new".to_vec())],
            vec![],
        )
        .await;
    running.stop().await;

    let file = dir.path().join("pitr.redb");
    let report = restore(&location, &file, RestorePoint::At(between))
        .await
        .expect("restore");
    assert_eq!(report.position.seq, 1);
    assert_eq!(restored(&file), vec![(key(1), b"first".to_vec())]);

    let before_anything = dir.path().join("none.redb");
    let err = restore(&location, &before_anything, RestorePoint::At(1_000))
        .await
        .expect_err("nothing that old");
    assert!(matches!(err, BackupError::NothingBefore { .. }), "{err}");
    assert!(!before_anything.exists());
}

#[tokio::test]
async fn one_writer_per_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let location = target(dir.path());
    let first = Lease::acquire(&location, &claimant("a")).await.expect("a");
    let err = Lease::acquire(&location, &claimant("b"))
        .await
        .expect_err("held");
    let message = err.to_string();
    assert!(message.contains("test a"), "{message}");
    assert!(matches!(err, BackupError::LeaseHeld { epoch: 1, .. }));
    // The same data dir restarting (its old process is gone) takes over at once...
    let again = Lease::acquire(&location, &claimant("a"))
        .await
        .expect("a again");
    assert_eq!(again.epoch, 2);
    // ...and the superseded holder learns it on its next renewal.
    let lost = first.renew(&location).await.expect_err("lost");
    assert!(
        matches!(lost, BackupError::LeaseLost { epoch: 1, .. }),
        "{lost}"
    );
    again.renew(&location).await.expect("renew");
    // A released lease is free for anyone.
    again.release(&location).await.expect("release");
    let other = Lease::acquire(&location, &claimant("b")).await.expect("b");
    assert_eq!(other.epoch, 3);
    // An expired one too.
    let short = Claimant {
        ttl: Duration::from_millis(1),
        ..claimant("c")
    };
    other.release(&location).await.expect("release");
    let c = Lease::acquire(&location, &short).await.expect("c");
    c.renew(&location).await.expect("renew");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        Lease::acquire(&location, &claimant("d"))
            .await
            .expect("expired")
            .epoch,
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_upload_only_changed_chunks_and_retention_keeps_the_newest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let location = target(&dir.path().join("backup"));
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).expect("mkdir");
    let config = BackupConfig {
        interval: Duration::from_millis(50),
        snapshot_every: Duration::from_millis(200),
        retention: Duration::ZERO,
        ..BackupConfig::default()
    };
    let running = start(&source, &location, config).await;
    // About 8 MB in 20,000 keys: dozens of chunks.
    for batch in 0..20u32 {
        let puts = (0..1000)
            .map(|i| (key(batch * 1000 + i), vec![(i % 251) as u8; 400]))
            .collect();
        running.write(puts, vec![]).await;
    }
    let snapshots = |stats: &BackupStats| {
        stats
            .snapshots_taken
            .load(std::sync::atomic::Ordering::Acquire)
    };
    let wait_for_snapshot = |n: u64| {
        let stats = Arc::clone(&running.stats);
        async move {
            for _ in 0..100 {
                if snapshots(&stats) >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("no snapshot {n}");
        }
    };
    wait_for_snapshot(2).await;
    let after_full = Catalog::read(&location).await.expect("catalog");
    assert!(
        after_full.chunks.len() >= 10,
        "{} chunks",
        after_full.chunks.len()
    );
    let bytes_before = running
        .stats
        .snapshot_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    // One key changes: the next snapshot uploads the chunk around it, not the rest.
    running
        .write(vec![(key(10_500), b"changed".to_vec())], vec![])
        .await;
    wait_for_snapshot(3).await;
    let uploaded = running
        .stats
        .snapshot_bytes
        .load(std::sync::atomic::Ordering::Relaxed)
        - bytes_before;
    assert!(
        uploaded * 5 < bytes_before,
        "an incremental snapshot uploaded {uploaded} of {bytes_before} bytes"
    );
    let expected = running.stop().await;
    // Retention zero: only the newest snapshot, and only its chunks, remain.
    let catalog = Catalog::read(&location).await.expect("catalog");
    assert_eq!(catalog.snapshots.len(), 1);
    let file = dir.path().join("restored.redb");
    restore(&location, &file, RestorePoint::Latest)
        .await
        .expect("restore");
    assert_eq!(restored(&file), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_or_missing_objects_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backup_dir = dir.path().join("backup");
    let location = target(&backup_dir);
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).expect("mkdir");
    let running = start(&source, &location, config()).await;
    running.write(vec![(key(1), vec![1; 64])], vec![]).await;
    running.write(vec![(key(2), vec![2; 64])], vec![]).await;
    running.stop().await;

    let segment = std::fs::read_dir(backup_dir.join("segments"))
        .expect("segments")
        .next()
        .expect("a segment")
        .expect("entry")
        .path();
    let original = std::fs::read(&segment).expect("read");
    let mut flipped = original.clone();
    flipped[20] ^= 0x40;
    std::fs::write(&segment, &flipped).expect("corrupt");
    let file = dir.path().join("r1.redb");
    let err = restore(&location, &file, RestorePoint::Latest)
        .await
        .expect_err("corrupt segment");
    let message = err.to_string();
    assert!(
        message.contains("checksum") && message.contains("segments/"),
        "{message}"
    );
    assert!(!file.exists(), "a failed restore leaves no store behind");
    std::fs::write(&segment, &original).expect("repair");

    // A restart takes a base snapshot of the data so far: now there are chunks.
    start(&source, &location, config()).await.stop().await;
    let chunk = std::fs::read_dir(backup_dir.join("chunks"))
        .expect("chunks")
        .next()
        .expect("a chunk")
        .expect("entry")
        .path();
    std::fs::remove_file(&chunk).expect("remove");
    let err = restore(&location, &dir.path().join("r2.redb"), RestorePoint::Latest)
        .await
        .expect_err("missing chunk");
    assert!(err.to_string().contains("missing"), "{err}");
}
