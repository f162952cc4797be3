//! Opening the data file again after a write to it failed.
//!
//! redb latches the first write that fails (a full disk during a flush)
//! and refuses every later transaction, reads of pages it has not cached
//! included, until the file is opened again; and a process cannot open the
//! file a second time while the first handle lives (it is locked). So the
//! flusher takes the B-tree out of the readers' layers, waits for the reads
//! in flight to let go of it, and only then opens the file again (redb
//! repairs it to its last commit) and puts the new tree in place. Reads of
//! the B-tree get a retryable error for that moment; writes go on into the
//! log and the memtable throughout.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::layers::{self, Layers, Tree};
use super::{open_database, poisoned, Shared};
use crate::{Result, StorageError};

/// How long reads in flight may keep the old file before the reopen is
/// put off to the next attempt.
const READERS_LET_GO: Duration = Duration::from_secs(30);

/// Reopens that fail again (a disk with a little room, not enough) come
/// this far apart at most, as each one holds reads of the B-tree up.
const MOST_BETWEEN_REOPENS: Duration = Duration::from_secs(30);

/// When the next reopen may be tried, and how long to wait after it.
#[derive(Default)]
pub(super) struct ReopenBackoff {
    next: Option<Instant>,
    wait: Duration,
}

impl ReopenBackoff {
    /// A flush went through: the next failure is reopened after at once.
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }
}

impl Shared {
    /// Reopens the data file if redb refuses transactions after a failed
    /// write; does nothing while it takes them.
    pub(super) fn reopen_if_failed(&self, backoff: &mut ReopenBackoff) -> Result<()> {
        let mut db = self.db.lock().map_err(|_| poisoned("data file"))?;
        if let Some(open) = db.as_ref() {
            match open.begin_write() {
                Err(redb::TransactionError::Storage(redb::StorageError::PreviousIo)) => {}
                // A usable handle (the transaction just taken is dropped
                // unused), or a failure reopening would not mend.
                _ => return Ok(()),
            }
            if backoff.next.is_some_and(|next| Instant::now() < next) {
                return Ok(());
            }
        }
        backoff.wait = (backoff.wait * 2).clamp(Duration::from_secs(1), MOST_BETWEEN_REOPENS);
        backoff.next = Some(Instant::now() + backoff.wait);
        let Some(old) = self.swap_tree(None)? else {
            return self.open_again(&mut db);
        };
        let deadline = Instant::now() + READERS_LET_GO;
        while Arc::strong_count(&old) > 1 {
            if Instant::now() >= deadline {
                self.swap_tree(Some(old))?;
                return Err(StorageError::Unavailable(
                    "reads in flight still hold the data file; reopening it later".into(),
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
        drop(old);
        self.open_again(&mut db)
    }

    fn open_again(&self, db: &mut Option<redb::Database>) -> Result<()> {
        // The failed handle goes first: its lock on the file goes with it.
        drop(db.take());
        let reopened = open_database(&self.data_file, self.options)?;
        let tree = layers::open_tree(&reopened)?;
        *db = Some(reopened);
        self.swap_tree(Some(tree))?;
        tracing::info!(file = %self.data_file.display(), "reopened the data file after a failed write");
        Ok(())
    }

    /// Puts `tree` under the memtables and returns the one it replaces.
    /// Under the log's lock, as freezing also changes the layers.
    fn swap_tree(&self, tree: Option<Arc<Tree>>) -> Result<Option<Arc<Tree>>> {
        let _log = self.lock_log()?;
        let mut layers = self.layers.write().map_err(|_| poisoned("memtable"))?;
        let old = layers.tree.clone();
        *layers = Arc::new(Layers {
            active: Arc::clone(&layers.active),
            frozen: layers.frozen.clone(),
            tree,
        });
        Ok(old)
    }
}
