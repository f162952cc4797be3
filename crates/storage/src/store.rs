use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use tokio::sync::oneshot;

use crate::backend::{Backend, KeyValue, KvRead, Snapshot};
use crate::commit_log::{Commit, CommitObserver, CommitPosition};
use crate::txn::{Staged, Txn};
use crate::{Result, StorageError};

/// Upper bound on closures folded into one commit, so one commit stays short.
const MAX_GROUP: usize = 512;
/// Applied groups that may wait for a sync; beyond it the writer waits too.
const MAX_UNSYNCED_GROUPS: usize = 256;

type Finish = Box<dyn FnOnce(Result<(), Arc<StorageError>>) + Send>;

/// What a queued closure hands back to the writer: whether its writes stand,
/// and how to tell its caller the outcome once the commit is (or is not) durable.
struct JobOutcome {
    keep: bool,
    finish: Finish,
}

type Job = Box<dyn FnOnce(&mut Txn<'_>) -> JobOutcome + Send>;

/// Counters that show how well group commit is batching.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Groups that wrote something.
    pub commits: AtomicU64,
    pub transactions: AtomicU64,
    /// Sync requests to the backend, each covering every group applied
    /// before it (a request with nothing new to sync returns at once).
    pub syncs: AtomicU64,
}

/// The engine's handle on storage: snapshot reads and group-committed writes.
pub struct Store {
    backend: Arc<dyn Backend>,
    /// `None` only while dropping, so the writer sees the queue close.
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<thread::JoinHandle<()>>,
    syncer: Option<thread::JoinHandle<()>>,
    stats: Arc<StoreStats>,
}

impl Store {
    pub fn new(backend: Arc<dyn Backend>) -> Result<Self> {
        Self::with_observer(backend, None)
    }

    /// A store whose every durable commit is also handed to `observer`, in order.
    pub fn with_observer(
        backend: Arc<dyn Backend>,
        observer: Option<Arc<dyn CommitObserver>>,
    ) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (applied, unsynced) = mpsc::sync_channel::<AppliedGroup>(MAX_UNSYNCED_GROUPS);
        let stats = Arc::new(StoreStats::default());
        let position = CommitPosition::read(backend.snapshot()?.as_ref())?;
        let mut writer = Writer {
            backend: Arc::clone(&backend),
            stats: Arc::clone(&stats),
            keep_writes: observer.is_some(),
            position,
            last_commit: 0,
        };
        let syncer = Syncer {
            backend: Arc::clone(&backend),
            stats: Arc::clone(&stats),
            observer,
        };
        let syncer = thread::Builder::new()
            .name("cosmonaut-sync".into())
            .spawn(move || syncer.run(&unsynced))?;
        let writer = thread::Builder::new()
            .name("cosmonaut-writer".into())
            .spawn(move || writer.run(&queue, &applied))?;
        Ok(Self {
            backend,
            jobs: Some(jobs),
            writer: Some(writer),
            syncer: Some(syncer),
            stats,
        })
    }

    /// A consistent view of everything committed so far.
    pub fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        self.backend.snapshot()
    }

    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    /// The backend's sizes and health.
    pub fn backend_status(&self) -> crate::BackendStatus {
        self.backend.status()
    }

    /// Runs `work` in a write transaction and returns its result once its
    /// writes are durable. Closures run one at a time, so `work` may read,
    /// check and write without races; if it returns `Err` its writes are dropped.
    pub async fn transact<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |txn| {
            let result = work(txn);
            JobOutcome {
                keep: result.is_ok(),
                finish: Box::new(move |committed| {
                    let outcome = match committed {
                        Ok(()) => result,
                        Err(err) => Err(E::from(err.as_ref().shared())),
                    };
                    let _ = reply.send(outcome);
                }),
            }
        });
        self.jobs
            .as_ref()
            .ok_or(StorageError::WriterStopped)?
            .send(job)
            .map_err(|_| E::from(StorageError::WriterStopped))?;
        answer
            .await
            .unwrap_or_else(|_| Err(E::from(StorageError::WriterStopped)))
    }
}

impl Drop for Store {
    /// Closes the queue and waits for the writer to commit what is queued, so
    /// the backend is released (and every accepted write on disk) when the store is gone.
    fn drop(&mut self) {
        self.jobs.take();
        // The writer drops its end of the sync queue as it stops, which stops the syncer.
        for thread in [self.writer.take(), self.syncer.take()]
            .into_iter()
            .flatten()
        {
            let _ = thread.join();
        }
    }
}

/// A group whose writes are applied, on its way to the sync that makes
/// them durable; its closures hear their outcome after that sync.
struct AppliedGroup {
    /// The backend's number for the group's commit; for a group that wrote
    /// nothing, the last commit before it, whose writes it may have read.
    commit: u64,
    /// The commit for the observer, if there is one.
    observed: Option<Commit>,
    finishers: Vec<Finish>,
    /// Why the group could not be applied, if it could not.
    failed: Option<Arc<StorageError>>,
}

/// The single writer thread's state.
struct Writer {
    backend: Arc<dyn Backend>,
    stats: Arc<StoreStats>,
    keep_writes: bool,
    /// The last commit applied.
    position: CommitPosition,
    /// The backend's number for it.
    last_commit: u64,
}

impl Writer {
    fn run(&mut self, queue: &mpsc::Receiver<Job>, applied: &mpsc::SyncSender<AppliedGroup>) {
        // Blocks for the first job, then takes whatever else has queued up
        // meanwhile. The writer does not wait for a group's sync: the next
        // group runs (reading what the last one wrote) while the log syncs.
        while let Ok(first) = queue.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            if applied.send(self.run_group(group)).is_err() {
                tracing::error!("the sync thread has stopped; writes are refused");
                return;
            }
        }
    }

    fn run_group(&mut self, group: Vec<Job>) -> AppliedGroup {
        let mut applied = AppliedGroup {
            commit: self.last_commit,
            observed: None,
            finishers: Vec::with_capacity(group.len()),
            failed: None,
        };
        // The view lives until the group is applied: a backend shared by
        // several stores holds its write transaction (and lock) in it.
        let backend = Arc::clone(&self.backend);
        let snapshot = match backend.latest() {
            Ok(s) => s,
            Err(err) => {
                tracing::error!(%err, "cannot open a snapshot for a write group");
                // The closures still run, on a view whose every read fails
                // with this error, so each caller hears why.
                Box::new(Unreadable(Arc::new(err)))
            }
        };
        // Another store over the same backend may have committed since.
        match CommitPosition::read(snapshot.as_ref()) {
            Ok(position) if position > self.position => self.position = position,
            Ok(_) | Err(_) => {}
        }
        let mut batch = Staged::new();
        for job in group {
            let mut txn = Txn::new(snapshot.as_ref(), &batch);
            // A bug in one closure must not take the writer (and every later write) down.
            let outcome = catch_unwind(AssertUnwindSafe(|| job(&mut txn)));
            match outcome {
                Ok(outcome) => {
                    if outcome.keep {
                        let writes = txn.into_writes();
                        batch.extend(writes);
                    }
                    applied.finishers.push(outcome.finish);
                }
                Err(_) => tracing::error!("a write transaction panicked; its writes were dropped"),
            }
        }
        self.stats
            .transactions
            .fetch_add(applied.finishers.len() as u64, Ordering::Relaxed);
        if !batch.is_empty() {
            match self.apply(batch.into_iter().collect()) {
                Ok(observed) => {
                    applied.commit = self.last_commit;
                    applied.observed = observed;
                }
                Err(err) => {
                    tracing::error!(%err, "group commit failed");
                    applied.failed = Some(Arc::new(err));
                }
            }
        }
        drop(snapshot);
        applied
    }

    /// Applies `writes` with the next commit position.
    fn apply(&mut self, mut writes: Vec<crate::Write>) -> Result<Option<Commit>> {
        let position = self.position.next(now_ms());
        writes.push(position.to_write());
        self.last_commit = self.backend.apply(&writes)?;
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.position = position;
        writes.pop();
        Ok(self.keep_writes.then_some(Commit { position, writes }))
    }
}

/// The thread that makes applied groups durable and then answers them.
struct Syncer {
    backend: Arc<dyn Backend>,
    stats: Arc<StoreStats>,
    observer: Option<Arc<dyn CommitObserver>>,
}

impl Syncer {
    fn run(&self, unsynced: &mpsc::Receiver<AppliedGroup>) {
        // One sync covers every group applied before it: the longer a sync
        // takes, the more groups the next one carries.
        while let Ok(first) = unsynced.recv() {
            let mut groups = vec![first];
            groups.extend(unsynced.try_iter());
            let needed = groups
                .iter()
                .filter(|g| g.failed.is_none())
                .map(|g| g.commit)
                .max()
                .unwrap_or(0);
            let synced = if needed == 0 {
                Ok(())
            } else {
                self.stats.syncs.fetch_add(1, Ordering::Relaxed);
                self.backend.sync().map(drop).map_err(Arc::new)
            };
            if let Err(err) = &synced {
                tracing::error!(%err, "syncing the log failed");
            }
            for group in groups {
                let outcome = match (group.failed, &synced) {
                    (Some(err), _) => Err(err),
                    (None, outcome) => outcome.clone(),
                };
                if outcome.is_ok() {
                    if let (Some(observer), Some(commit)) = (&self.observer, group.observed) {
                        observer.committed(commit);
                    }
                }
                for finish in group.finishers {
                    finish(outcome.clone());
                }
            }
        }
    }
}

/// The view a write group gets when the backend cannot open one.
struct Unreadable(Arc<StorageError>);

impl KvRead for Unreadable {
    fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>> {
        Err(self.0.shared())
    }

    fn scan_ordered(&self, _: &[u8], _: &[u8], _: usize, _: bool) -> Result<Vec<KeyValue>> {
        Err(self.0.shared())
    }
}

impl Snapshot for Unreadable {}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, KeyValue, KvRead, RedbBackend, Snapshot, DATA_END, DATA_START};
    use std::sync::Mutex;

    /// Collects what the writer reports.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Commit>>);

    impl CommitObserver for Recorder {
        fn committed(&self, commit: Commit) {
            self.0.lock().expect("lock").push(commit);
        }
    }

    #[tokio::test]
    async fn a_transaction_reads_many_keys_through_its_own_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = Arc::new(RedbBackend::open(&dir.path().join("data.redb")).expect("open"));
        let store = Store::with_observer(backend, None).expect("store");
        store
            .transact(|t| {
                t.put(vec![1], vec![10]);
                t.put(vec![2], vec![20]);
                Ok::<_, StorageError>(())
            })
            .await
            .expect("seed");
        let seen = store
            .transact(|t| {
                t.put(vec![3], vec![30]);
                t.delete(vec![2]);
                t.get_many(&[vec![1], vec![2], vec![3], vec![4]])
            })
            .await
            .expect("read");
        assert_eq!(seen, vec![Some(vec![10]), None, Some(vec![30]), None]);
    }

    #[tokio::test]
    async fn commits_are_numbered_observed_in_order_and_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.redb");
        let recorder = Arc::new(Recorder::default());
        {
            let backend = Arc::new(RedbBackend::open(&path).expect("open"));
            let observer: Arc<dyn CommitObserver> = recorder.clone();
            let store = Store::with_observer(backend, Some(observer)).expect("store");
            for i in 0..3u8 {
                store
                    .transact(move |t| {
                        t.put(vec![1, i], vec![i]);
                        Ok::<_, StorageError>(())
                    })
                    .await
                    .expect("commit");
            }
            // A transaction that writes nothing commits nothing.
            store
                .transact(|_| Ok::<_, StorageError>(()))
                .await
                .expect("empty");
        }
        let seen = recorder.0.lock().expect("lock").clone();
        let seqs: Vec<u64> = seen.iter().map(|c| c.position.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert_eq!(seen[2].writes, vec![(vec![1, 2], Some(vec![2]))]);
        assert!(seen
            .windows(2)
            .all(|w| w[0].position.time_ms <= w[1].position.time_ms));
        let backend = Arc::new(RedbBackend::open(&path).expect("reopen"));
        let snapshot = backend.snapshot().expect("snap");
        assert_eq!(
            CommitPosition::read(snapshot.as_ref()).expect("position"),
            seen[2].position
        );
        drop(snapshot);
        let store = Store::new(backend).expect("store");
        store
            .transact(|t| {
                t.put(vec![1, 9], vec![9]);
                Ok::<_, StorageError>(())
            })
            .await
            .expect("commit");
        let position = CommitPosition::read(store.snapshot().expect("snap").as_ref()).expect("pos");
        assert_eq!(position.seq, 4, "numbering continues after a restart");
    }

    fn open(dir: &tempfile::TempDir) -> Store {
        let backend = RedbBackend::open(&dir.path().join("data.redb")).expect("open");
        Store::new(Arc::new(backend)).expect("store")
    }

    #[tokio::test]
    async fn writes_are_visible_and_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = open(&dir);
            store
                .transact(|t| {
                    t.put(b"a".to_vec(), b"1".to_vec());
                    t.put(b"b".to_vec(), b"2".to_vec());
                    Ok::<_, StorageError>(())
                })
                .await
                .expect("commit");
            let snap = store.snapshot().expect("snap");
            assert_eq!(snap.get(b"a").expect("get"), Some(b"1".to_vec()));
        }
        let store = open(&dir);
        let snap = store.snapshot().expect("snap");
        let all = snap.scan(DATA_START, DATA_END, 10).expect("scan");
        assert_eq!(all.len(), 2);
    }

    #[tokio::test]
    async fn failed_transaction_leaves_no_trace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        let result: Result<(), StorageError> = store
            .transact(|t| {
                t.put(b"x".to_vec(), b"1".to_vec());
                Err(StorageError::Backend("refused".into()))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(
            store.snapshot().expect("snap").get(b"x").expect("get"),
            None
        );
    }

    #[tokio::test]
    async fn concurrent_transactions_are_serialised_and_grouped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(open(&dir));
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                store
                    .transact(|t| {
                        // Read-modify-write of one counter: lost updates would show.
                        let n = t
                            .get(b"counter")?
                            .map(|v| u64::from_le_bytes(v.try_into().unwrap_or([0; 8])))
                            .unwrap_or(0);
                        t.put(b"counter".to_vec(), (n + 1).to_le_bytes().to_vec());
                        Ok::<_, StorageError>(())
                    })
                    .await
            }));
        }
        for task in tasks {
            task.await.expect("join").expect("commit");
        }
        let value = store
            .snapshot()
            .expect("snap")
            .get(b"counter")
            .expect("get");
        assert_eq!(value, Some(200u64.to_le_bytes().to_vec()));
        let commits = store.stats().commits.load(Ordering::Relaxed);
        assert!(commits <= 200, "commits {commits}");
    }

    /// A backend whose syncs take a while, as an fsync does: writers that
    /// arrive during one sync must share the next instead of queueing one each.
    struct SlowCommits(RedbBackend);

    impl Backend for SlowCommits {
        fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
            self.0.snapshot()
        }

        fn latest(&self) -> Result<Box<dyn Snapshot + '_>> {
            self.0.latest()
        }

        fn apply(&self, writes: &[crate::Write]) -> Result<u64> {
            self.0.apply(writes)
        }

        fn sync(&self) -> Result<u64> {
            std::thread::sleep(std::time::Duration::from_millis(50));
            self.0.sync()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = RedbBackend::open(&dir.path().join("data.redb")).expect("open");
        let store = Arc::new(Store::new(Arc::new(SlowCommits(backend))).expect("store"));
        let writers = 64u32;
        let mut tasks = Vec::new();
        for i in 0..writers {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                store
                    .transact(move |t| {
                        t.put([&[1u8][..], &i.to_be_bytes()].concat(), b"v".to_vec());
                        Ok::<_, StorageError>(())
                    })
                    .await
            }));
        }
        for task in tasks {
            task.await.expect("join").expect("commit");
        }
        let syncs = store.stats().syncs.load(Ordering::Relaxed);
        let transactions = store.stats().transactions.load(Ordering::Relaxed);
        assert_eq!(transactions, u64::from(writers));
        // All 64 are applied within the first 50 ms sync, so a handful of
        // syncs carry them; one fsync each would be 64.
        assert!(syncs <= 8, "{syncs} syncs for {writers} writers");
        let rows = store
            .snapshot()
            .expect("snap")
            .scan(DATA_START, DATA_END, 100)
            .expect("scan");
        assert_eq!(rows.len(), writers as usize);
    }

    #[tokio::test]
    async fn scan_merges_pending_writes_and_deletes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        store
            .transact(|t| {
                for k in [b"k1", b"k2", b"k3"] {
                    t.put(k.to_vec(), b"v".to_vec());
                }
                Ok::<_, StorageError>(())
            })
            .await
            .expect("seed");
        let keys = store
            .transact(|t| {
                t.delete(b"k1".to_vec());
                t.put(b"k4".to_vec(), b"v".to_vec());
                let rows = t.scan(b"k", b"l", 2)?;
                let back = t.scan_rev(b"k", b"l", 3)?;
                let keys =
                    |rows: Vec<KeyValue>| rows.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
                Ok::<_, StorageError>((keys(rows), keys(back)))
            })
            .await
            .expect("scan");
        assert_eq!(keys.0, vec![b"k2".to_vec(), b"k3".to_vec()]);
        assert_eq!(keys.1, vec![b"k4".to_vec(), b"k3".to_vec(), b"k2".to_vec()]);
        let committed = store
            .snapshot()
            .expect("snap")
            .scan_rev(b"k", b"l", 2)
            .expect("rev");
        assert_eq!(committed.len(), 2);
        assert_eq!(committed[0].0, b"k4".to_vec());
    }
}
