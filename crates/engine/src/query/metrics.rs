//! What one page of a query read and how long the reading took: the
//! figures behind the query metrics and index metrics clients ask for.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// One index the query used, as the index-metrics report names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexUse {
    /// A single-path range index, as a policy path (`/a/?`).
    Single(String),
    /// A composite index, each part as `/path ASC` or `/path DESC`.
    Composite(Vec<String>),
}

/// Measurements of one page of a query.
#[derive(Debug, Clone, Default)]
pub struct QueryMetrics {
    /// Bytes of stored documents read (index entries are not documents).
    pub bytes_read: usize,
    /// Time spent reading index entries: lookups, ordered walks, covering scans.
    pub index_lookup_time: Duration,
    /// Time spent reading and decoding stored documents.
    pub document_load_time: Duration,
    /// The indexes that chose or held the rows read.
    pub utilized: Vec<IndexUse>,
}

/// Accumulates a query run's measurements while it reads; the run is
/// single-threaded and reads through shared references, hence cells.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    bytes_read: Cell<usize>,
    index_time: Cell<Duration>,
    load_time: Cell<Duration>,
}

impl Meter {
    /// Counts one stored document read, and the time since `started` as loading.
    pub(crate) fn document(&self, bytes: usize, started: Instant) {
        self.bytes_read.set(self.bytes_read.get() + bytes);
        self.load_time.set(self.load_time.get() + started.elapsed());
    }

    /// Counts the time since `started` as reading the index.
    pub(crate) fn index_read(&self, started: Instant) {
        self.index_time
            .set(self.index_time.get() + started.elapsed());
    }

    pub(crate) fn finish(&self, utilized: Vec<IndexUse>) -> QueryMetrics {
        QueryMetrics {
            bytes_read: self.bytes_read.get(),
            index_lookup_time: self.index_time.get(),
            document_load_time: self.load_time.get(),
            utilized,
        }
    }
}

/// The index a name from the policy denotes: single paths end in `/?`;
/// composite names list their parts as `/path/? asc|desc`, comma-separated
/// (see `CompositeIndex::name`), reported as the service does (`/path ASC`).
pub(crate) fn index_use(name: &str) -> IndexUse {
    if name.ends_with("/?") {
        return IndexUse::Single(name.to_string());
    }
    let part = |part: &str| {
        let (path, direction) = match part.strip_suffix(" desc") {
            Some(path) => (path, "DESC"),
            None => (part.strip_suffix(" asc").unwrap_or(part), "ASC"),
        };
        format!("{} {direction}", path.strip_suffix("/?").unwrap_or(path))
    };
    IndexUse::Composite(name.split(',').map(part).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_told_apart() {
        assert_eq!(index_use("/a/?"), IndexUse::Single("/a/?".into()));
        assert_eq!(
            index_use("/a/? asc,/b/? desc"),
            IndexUse::Composite(vec!["/a ASC".into(), "/b DESC".into()])
        );
    }
}
