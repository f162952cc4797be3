//! Open cursors: the rest of a result set, handed out by `getMore` in
//! batches. A result is computed whole when its command runs (so a cursor
//! sees one state of the collection); idle cursors go after ten minutes, as
//! MongoDB's do.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};

use crate::changes::ChangeStream;

/// Documents in a first batch when the client names no batch size.
pub const DEFAULT_FIRST_BATCH: usize = 101;
/// A reply stays under MongoDB's 16 MiB document limit with room to spare.
const BATCH_BYTES: usize = 15 * 1024 * 1024;
const IDLE: Duration = Duration::from_secs(600);

struct Cursor {
    namespace: String,
    source: Source,
    used: Instant,
}

enum Source {
    /// The rest of a result computed when the command ran.
    Results(VecDeque<Document>),
    /// A change stream, read on each `getMore`.
    Changes(ChangeStream),
}

/// What `getMore` found for a cursor id.
pub enum Next {
    /// The reply with the next batch of a result.
    Batch(Document),
    /// A change stream, taken out of the registry while it is read; the
    /// caller puts it back.
    Stream(ChangeStream),
    Missing,
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
            self.register(namespace, Source::Results(rest))
        };
        doc! {"cursor": {"firstBatch": batch, "id": id, "ns": namespace}, "ok": 1.0}
    }

    fn register(&self, namespace: &str, source: Source) -> i64 {
        let mut open = self.lock();
        open.retain(|_, c| c.used.elapsed() < IDLE);
        let id = loop {
            let candidate = (uuid::Uuid::new_v4().as_u64_pair().0 >> 2) as i64;
            if candidate != 0 && !open.contains_key(&candidate) {
                break candidate;
            }
        };
        let cursor = Cursor {
            namespace: namespace.to_string(),
            source,
            used: Instant::now(),
        };
        open.insert(id, cursor);
        id
    }

    /// Registers a change stream; returns its cursor id.
    pub fn open_stream(&self, namespace: &str, stream: ChangeStream) -> i64 {
        self.register(namespace, Source::Changes(stream))
    }

    /// Puts a change stream back after a `getMore` read it.
    pub fn put_back(&self, id: i64, namespace: &str, stream: ChangeStream) {
        let cursor = Cursor {
            namespace: namespace.to_string(),
            source: Source::Changes(stream),
            used: Instant::now(),
        };
        self.lock().insert(id, cursor);
    }

    /// What `getMore` on cursor `id` (of this namespace) reads.
    pub fn next(&self, id: i64, namespace: &str, batch_size: Option<usize>) -> Next {
        let mut open = self.lock();
        let Some(cursor) = open.get_mut(&id).filter(|c| c.namespace == namespace) else {
            return Next::Missing;
        };
        cursor.used = Instant::now();
        let Source::Results(rest) = &mut cursor.source else {
            return match open.remove(&id).map(|c| c.source) {
                Some(Source::Changes(stream)) => Next::Stream(stream),
                _ => Next::Missing,
            };
        };
        let batch = take(rest, batch_size);
        let id = if rest.is_empty() {
            open.remove(&id);
            0
        } else {
            id
        };
        Next::Batch(doc! {"cursor": {"nextBatch": batch, "id": id, "ns": namespace}, "ok": 1.0})
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
