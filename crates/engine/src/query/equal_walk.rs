//! Pages of the items an equality lookup names (`c.a = 1`, `c.a IN (1, 2)`,
//! `ARRAY_CONTAINS(c.tags, 'x')`), read straight off the index.
//!
//! A path's entries for one value differ only in the item key they end
//! with, so they sort as the items do. A page therefore seeks each value's
//! entries to its first item key, merges the values' entries in item-key
//! order and stops when the page is full: a page costs what it reads, and
//! its continuation is the item key it stopped at, as for a scan of the
//! items. Collecting every matching key first, then paging through the set,
//! made reading M matches page by page cost M per page.

use std::collections::VecDeque;

use cosmonaut_storage::KvRead;
use serde_json::Value;

use crate::error::Result;
use crate::feed::{resume_key, FeedPage, FeedRequest, PageFiller, SCAN_CHUNK};
use crate::index::{self, Lookup, ValueRange};
use crate::keys;

/// One page of the items in `[start, end)` that `lookup` names, or `None`
/// when the lookup is not of equalities alone (a range's entries sort by
/// value first).
pub(crate) fn read_page(
    reader: &dyn KvRead,
    container_rid: &[u8; 8],
    lookup: &Lookup,
    (start, end): (&[u8], &[u8]),
    request: &FeedRequest,
    mut decode: impl FnMut(&[u8]) -> Result<Vec<Value>>,
) -> Result<Option<FeedPage>> {
    if !lookup
        .ranges
        .iter()
        .all(|r| matches!(r, ValueRange::Equal(_)))
    {
        return Ok(None);
    }
    let resume = resume_key(start, end, request)?;
    let mut values = Vec::with_capacity(lookup.ranges.len());
    for range in &lookup.ranges {
        // Plans are checked to give key ranges before they are used.
        if let Some((prefix, value_end)) = index::range_keys(container_rid, &lookup.path, range) {
            let mut from = prefix;
            from.extend_from_slice(keys::item_suffix(&resume));
            values.push(ValueEntries {
                from,
                end: value_end,
                items: VecDeque::new(),
                done: false,
            });
        }
    }
    let mut filler = PageFiller::new(request);
    loop {
        for entries in &mut values {
            entries.fill(reader, container_rid, &lookup.path, end)?;
        }
        let Some(next) = values.iter().filter_map(|v| v.items.front()).min().cloned() else {
            break;
        };
        // An item an `IN` names twice (an array holding both values) comes once.
        for entries in &mut values {
            if entries.items.front() == Some(&next) {
                entries.items.pop_front();
            }
        }
        let Some(value) = reader.get(&next)? else {
            continue;
        };
        if !filler.offer(&next, &value, &mut decode)? {
            break;
        }
    }
    Ok(Some(filler.into_page()))
}

/// The item keys one value's entries name, read a chunk at a time.
struct ValueEntries {
    /// Where the next chunk starts.
    from: Vec<u8>,
    end: Vec<u8>,
    items: VecDeque<Vec<u8>>,
    /// No entry is left before `end`, or none names an item before the scope's end.
    done: bool,
}

impl ValueEntries {
    fn fill(
        &mut self,
        reader: &dyn KvRead,
        container_rid: &[u8; 8],
        path: &[index::Segment],
        scope_end: &[u8],
    ) -> Result<()> {
        if !self.items.is_empty() || self.done {
            return Ok(());
        }
        let rows = reader.scan(&self.from, &self.end, SCAN_CHUNK)?;
        self.done = rows.len() < SCAN_CHUNK;
        if let Some((last, _)) = rows.last() {
            self.from = last.clone();
            self.from.push(0);
        }
        for (entry, _) in rows {
            let Some(item) = index::item_key_of(container_rid, path, &entry) else {
                continue;
            };
            if item.as_slice() >= scope_end {
                self.done = true;
                break;
            }
            self.items.push_back(item);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Segment;
    use cosmonaut_storage::{Backend, KeyValue, RedbBackend};
    use serde_json::json;
    use std::cell::Cell;

    const RID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    /// A reader that counts the rows its scans hand out.
    struct Counting<'a> {
        inner: &'a dyn KvRead,
        rows: Cell<usize>,
    }

    impl KvRead for Counting<'_> {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, cosmonaut_storage::StorageError> {
            self.inner.get(key)
        }

        fn scan_ordered(
            &self,
            start: &[u8],
            end: &[u8],
            limit: usize,
            descending: bool,
        ) -> Result<Vec<KeyValue>, cosmonaut_storage::StorageError> {
            let rows = self.inner.scan_ordered(start, end, limit, descending)?;
            self.rows.set(self.rows.get() + rows.len());
            Ok(rows)
        }
    }

    fn path() -> Vec<Segment> {
        vec![Segment::Property("k".into())]
    }

    fn item_key(i: usize) -> Vec<u8> {
        keys::item_from_suffix(&RID, format!("item{i:05}").as_bytes())
    }

    /// `count` items; item `i` has `k` = `i % 3`, its entry under that value.
    fn store(count: usize) -> (tempfile::TempDir, RedbBackend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = RedbBackend::open(&dir.path().join("data.redb")).expect("open");
        let mut writes = Vec::new();
        for i in 0..count {
            let value = json!(i % 3);
            let (mut entry, _) =
                index::range_keys(&RID, &path(), &ValueRange::Equal(value.clone())).expect("entry");
            entry.extend_from_slice(keys::item_suffix(&item_key(i)));
            writes.push((entry, Some(Vec::new())));
            writes.push((item_key(i), Some(format!("{i}").into_bytes())));
        }
        backend.commit(&writes).expect("commit");
        (dir, backend)
    }

    fn lookup(values: &[i64]) -> Lookup {
        Lookup {
            path: path(),
            ranges: values.iter().map(|v| ValueRange::Equal(json!(v))).collect(),
        }
    }

    /// Every page, and the rows the index scans handed out for each.
    fn pages(
        reader: &dyn KvRead,
        lookup: &Lookup,
        scope: (&[u8], &[u8]),
    ) -> Vec<(Vec<usize>, usize)> {
        let mut request = FeedRequest {
            max_items: Some(10),
            continuation: None,
        };
        let mut out = Vec::new();
        loop {
            let counting = Counting {
                inner: reader,
                rows: Cell::new(0),
            };
            let page = read_page(&counting, &RID, lookup, scope, &request, |bytes| {
                Ok(vec![json!(std::str::from_utf8(bytes).expect("utf-8"))])
            })
            .expect("page")
            .expect("an equality lookup walks");
            let numbers = page
                .items
                .iter()
                .map(|v| v.as_str().and_then(|s| s.parse().ok()).expect("number"))
                .collect();
            out.push((numbers, counting.rows.get()));
            match page.continuation {
                Some(token) => request.continuation = Some(token),
                None => return out,
            }
        }
    }

    #[test]
    fn pages_come_in_item_order_and_each_reads_about_a_page() {
        let (_dir, backend) = store(3000);
        let snapshot = backend.snapshot().expect("snapshot");
        let (start, end) = keys::items(&RID);
        let pages = pages(snapshot.as_ref(), &lookup(&[1]), (&start, &end));
        let all: Vec<usize> = pages.iter().flat_map(|(n, _)| n.clone()).collect();
        assert_eq!(all, (0..3000).filter(|i| i % 3 == 1).collect::<Vec<_>>());
        assert_eq!(pages.len(), 100);
        // A chunk of entries at most per page, the last page as the first.
        for (_, rows) in &pages {
            assert!(*rows <= SCAN_CHUNK, "{rows} rows scanned for one page");
        }
    }

    #[test]
    fn values_of_an_in_merge_and_the_scope_bounds_the_walk() {
        let (_dir, backend) = store(300);
        let snapshot = backend.snapshot().expect("snapshot");
        let (start, end) = (item_key(100), item_key(200));
        let pages = pages(snapshot.as_ref(), &lookup(&[2, 0, 2]), (&start, &end));
        let all: Vec<usize> = pages.iter().flat_map(|(n, _)| n.clone()).collect();
        let expected: Vec<usize> = (100..200).filter(|i| i % 3 != 1).collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn a_range_lookup_is_left_to_the_candidate_set() {
        let (_dir, backend) = store(3);
        let snapshot = backend.snapshot().expect("snapshot");
        let range = Lookup {
            path: path(),
            ranges: vec![ValueRange::Between {
                low: Some((json!(0), true)),
                high: None,
                type_of: json!(0),
            }],
        };
        let (start, end) = keys::items(&RID);
        let request = FeedRequest::default();
        let page = read_page(
            snapshot.as_ref(),
            &RID,
            &range,
            (&start, &end),
            &request,
            |_| Ok(Vec::new()),
        )
        .expect("read");
        assert!(page.is_none());
    }
}
