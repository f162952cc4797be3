//! Open cursors: the rest of a result set, handed out by `getMore` in
//! batches. A result is computed whole when its command runs (so a cursor
//! sees one state of the collection); idle cursors go after ten minutes, as
//! MongoDB's do.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};

/// Documents in a first batch when the client names no batch size.
pub const DEFAULT_FIRST_BATCH: usize = 101;
/// A reply stays under MongoDB's 16 MiB document limit with room to spare.
const BATCH_BYTES: usize = 15 * 1024 * 1024;
const IDLE: Duration = Duration::from_secs(600);

struct Cursor {
    namespace: String,
    rest: VecDeque<Document>,
    used: Instant,
}

#[derive(Default)]
pub struct Cursors {
    open: Mutex<HashMap<i64, Cursor>>,
}

/// Takes up to `limit` documents (and no more than fit in one reply).
fn take(rest: &mut VecDeque<Document>, limit: Option<usize>) -> Vec<Bson> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(next) = rest.front() {
        if limit.is_some_and(|l| batch.len() >= l) {
            break;
        }
        let size = next.to_vec().map_or(0, |v| v.len());
        if !batch.is_empty() && bytes + size > BATCH_BYTES {
            break;
        }
        bytes += size;
        if let Some(d) = rest.pop_front() {
            batch.push(Bson::Document(d));
        }
    }
    batch
}

impl Cursors {
    /// The reply of a command returning `results`: the first batch and, if
    /// more remain (and the client wants more), a cursor id.
    pub fn first_batch(
        &self,
        namespace: &str,
        results: Vec<Document>,
        batch_size: Option<usize>,
        single_batch: bool,
    ) -> Document {
        let mut rest: VecDeque<Document> = results.into();
        let batch = take(&mut rest, Some(batch_size.unwrap_or(DEFAULT_FIRST_BATCH)));
        let id = if rest.is_empty() || single_batch {
            0
        } else {
            let mut open = self.lock();
            open.retain(|_, c| c.used.elapsed() < IDLE);
            let id = loop {
                let candidate = (uuid::Uuid::new_v4().as_u64_pair().0 >> 2) as i64;
                if candidate != 0 && !open.contains_key(&candidate) {
                    break candidate;
                }
            };
            open.insert(
                id,
                Cursor {
                    namespace: namespace.to_string(),
                    rest,
                    used: Instant::now(),
                },
            );
            id
        };
        doc! {"cursor": {"firstBatch": batch, "id": id, "ns": namespace}, "ok": 1.0}
    }

    /// The next batch of cursor `id`, or None if there is no such cursor
    /// (for this namespace).
    pub fn next_batch(
        &self,
        id: i64,
        namespace: &str,
        batch_size: Option<usize>,
    ) -> Option<Document> {
        let mut open = self.lock();
        let cursor = open.get_mut(&id).filter(|c| c.namespace == namespace)?;
        cursor.used = Instant::now();
        let batch = take(&mut cursor.rest, batch_size);
        let id = if cursor.rest.is_empty() {
            open.remove(&id);
            0
        } else {
            id
        };
        Some(doc! {"cursor": {"nextBatch": batch, "id": id, "ns": namespace}, "ok": 1.0})
    }

    /// Closes cursors; returns (killed, not found).
    pub fn kill(&self, ids: &[i64]) -> (Vec<i64>, Vec<i64>) {
        let mut open = self.lock();
        ids.iter().partition(|id| open.remove(id).is_some())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Cursor>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
