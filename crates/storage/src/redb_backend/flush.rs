//! Moving full memtables into the B-tree, in the background.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::layers::{self, Layers};
use super::reopen::ReopenBackoff;
use super::{poisoned, write_tree, Log, Shared, FLUSH_BYTES, FLUSH_COMMIT_BYTES, STALL_BYTES};
use crate::memtable::Memtable;
use crate::wal::Wal;
use crate::{Result, StorageError};

/// How often an idle flusher checks whether the memtable is due anyway.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What the flusher does next.
enum Task {
    Flush(Arc<Memtable>, Vec<PathBuf>),
    FreezeIfDue,
    Stop,
}

#[derive(Default)]
pub(super) struct FlushQueue {
    /// A frozen memtable, and the log files that hold its commits.
    pending: Option<(Arc<Memtable>, Vec<PathBuf>)>,
    stop: bool,
}

impl FlushQueue {
    pub(super) fn with_pending(pending: Option<(Arc<Memtable>, Vec<PathBuf>)>) -> Self {
        Self {
            pending,
            stop: false,
        }
    }
}

impl Shared {
    /// Freezes the active memtable when it is full or old enough, moving
    /// the log on to a new file; the flusher takes it from there.
    pub(super) fn maybe_freeze(&self, log: &mut Log, layers: &Layers) -> Result<()> {
        let active = &layers.active;
        let due = active.bytes() >= FLUSH_BYTES
            || (!active.is_empty() && log.last_freeze.elapsed() >= log.flush_interval);
        if !due || layers.frozen.is_some() {
            return Ok(());
        }
        let old_log = log.wal.rotate()?;
        // Rotating synced the old file: everything applied is durable.
        self.durable.fetch_max(log.applied, Ordering::SeqCst);
        let frozen = Arc::clone(active);
        *self.layers.write().map_err(|_| poisoned("memtable"))? = Arc::new(Layers {
            active: Arc::default(),
            frozen: Some(Arc::clone(&frozen)),
            // Freezing leaves the tree as it is.
            tree: layers.tree.clone(),
        });
        log.last_freeze = Instant::now();
        let mut queue = self.flush.lock().map_err(|_| poisoned("flush"))?;
        queue.pending = Some((frozen, vec![old_log]));
        self.flush_signal.notify_all();
        Ok(())
    }

    /// Holds a write back while the flush is behind: while flushes fail
    /// (a full disk), a write that finds a full memtable is refused, so the
    /// log and memory stay bounded and the client hears why; while one is
    /// merely slow, a write that finds a very large memtable waits for it.
    pub(super) fn wait_for_flush(&self, active: &Memtable) -> Result<()> {
        if active.bytes() < FLUSH_BYTES {
            return Ok(());
        }
        let mut queue = self.flush.lock().map_err(|_| poisoned("flush"))?;
        loop {
            if queue.pending.is_none() || queue.stop {
                return Ok(());
            }
            if let Some(err) = self.flush_error.lock().ok().and_then(|e| e.clone()) {
                return Err(StorageError::Unavailable(format!(
                    "The server cannot move its write-ahead log into the data file ({err}), \
                     so it takes no more writes until it can; reads still work, and writes \
                     resume by themselves once the flush succeeds (free disk space if it is \
                     full)."
                )));
            }
            if active.bytes() < STALL_BYTES {
                return Ok(());
            }
            queue = self
                .flush_signal
                .wait_timeout(queue, IDLE_CHECK)
                .map_err(|_| poisoned("flush"))?
                .0;
        }
    }

    pub(super) fn run_flusher(&self) {
        let mut backoff = ReopenBackoff::default();
        loop {
            match self.next_task() {
                Task::Stop => return,
                Task::FreezeIfDue => {
                    // Commits stop coming: freeze what is due here, since
                    // only the writer's next commit would check otherwise.
                    if let Err(err) = self.freeze_if_due() {
                        tracing::error!(%err, "cannot freeze the idle memtable");
                        // Its flush cannot start: the store says so until one succeeds.
                        if let Ok(mut last) = self.flush_error.lock() {
                            *last = Some(format!("cannot move to a new log file: {err}"));
                        }
                    }
                }
                Task::Flush(table, old_logs) => {
                    let flushed = self.flush(&table, &old_logs);
                    if flushed.is_ok() {
                        backoff.reset();
                    }
                    if let Err(err) = flushed {
                        // The memtable and its log stay; the next attempt retries.
                        tracing::error!(%err, "flushing the memtable failed; retrying in 1 s");
                        self.flush_failures.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut last) = self.flush_error.lock() {
                            *last = Some(err.to_string());
                        }
                        if self.flush.lock().map_or(true, |queue| queue.stop) {
                            return;
                        }
                        thread::sleep(Duration::from_secs(1));
                        // redb refuses every transaction after a failed
                        // write until its file is opened again.
                        if let Err(err) = self.reopen_if_failed(&mut backoff) {
                            tracing::warn!(%err, "the data file cannot be reopened yet");
                        }
                    }
                }
            }
        }
    }

    /// Waits for a memtable to flush, a stop, or a second to pass.
    fn next_task(&self) -> Task {
        let Ok(mut queue) = self.flush.lock() else {
            return Task::Stop;
        };
        loop {
            if let Some((table, old_logs)) = &queue.pending {
                return Task::Flush(Arc::clone(table), old_logs.clone());
            }
            if queue.stop {
                return Task::Stop;
            }
            queue = match self.flush_signal.wait_timeout(queue, IDLE_CHECK) {
                Ok((queue, waited)) if waited.timed_out() => {
                    if queue.pending.is_none() && !queue.stop {
                        return Task::FreezeIfDue;
                    }
                    queue
                }
                Ok((queue, _)) => queue,
                Err(_) => return Task::Stop,
            };
        }
    }

    fn freeze_if_due(&self) -> Result<()> {
        let mut log = self.lock_log()?;
        let layers = self.layers()?;
        self.maybe_freeze(&mut log, &layers)
    }

    fn flush(&self, table: &Arc<Memtable>, old_logs: &[PathBuf]) -> Result<()> {
        let started = Instant::now();
        {
            let db = self.db.lock().map_err(|_| poisoned("data file"))?;
            let db = db.as_ref().ok_or_else(|| {
                StorageError::Backend("the data file is not open (reopening failed)".into())
            })?;
            write_tree(db, table, FLUSH_COMMIT_BYTES, || self.check_room())?;
            let tree = layers::open_tree(db)?;
            let mut layers = self.layers.write().map_err(|_| poisoned("memtable"))?;
            *layers = Arc::new(Layers {
                active: Arc::clone(&layers.active),
                frozen: None,
                tree: Some(tree),
            });
        }
        Wal::retire(&self.data_file, old_logs)?;
        // Writers may wait while this runs: worth seeing when tuning sizes.
        tracing::debug!(
            bytes = table.bytes(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "memtable flushed"
        );
        self.flushes.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.flush_error.lock() {
            *last = None;
        }
        let mut queue = self.flush.lock().map_err(|_| poisoned("flush"))?;
        queue.pending = None;
        self.flush_signal.notify_all();
        Ok(())
    }

    /// Tells the flusher to stop once the flush under way, if any, is done.
    pub(super) fn stop_flusher(&self) {
        if let Ok(mut queue) = self.flush.lock() {
            queue.stop = true;
            self.flush_signal.notify_all();
        }
    }
}
