//! Paged reads of a key range with resumable, opaque continuation tokens.

use std::collections::BTreeSet;

use cosmonaut_storage::KvRead;
use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::hex::{decode_hex, encode_hex};

/// Items per page when the client names no limit.
const DEFAULT_PAGE_ITEMS: usize = 100;
/// Items per page when the client lets the server decide (`-1`).
const DYNAMIC_PAGE_ITEMS: usize = 1000;
/// The service caps a response body at 4 MB.
pub(crate) const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Paging options of a feed read.
#[derive(Debug, Clone, Default)]
pub struct FeedRequest {
    /// `x-ms-max-item-count`: `None` for the default, negative for "server decides".
    pub max_items: Option<i64>,
    /// `x-ms-continuation` from a previous page.
    pub continuation: Option<String>,
}

/// One page of a feed.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    pub items: Vec<Value>,
    /// Present when more items may follow.
    pub continuation: Option<String>,
    /// Stored documents read to produce the page (query metrics report it).
    pub documents_read: usize,
}

impl FeedRequest {
    pub(crate) fn page_items(&self) -> usize {
        match self.max_items {
            None | Some(0) => DEFAULT_PAGE_ITEMS,
            Some(n) if n < 0 => DYNAMIC_PAGE_ITEMS,
            Some(n) => usize::try_from(n)
                .unwrap_or(DYNAMIC_PAGE_ITEMS)
                .min(DYNAMIC_PAGE_ITEMS),
        }
    }
}

/// Rows read from storage at a time while filling a page.
pub(crate) const SCAN_CHUNK: usize = 256;

/// Fills a page row by row; `decode` turns each row into zero or more items
/// (a filtered-out row gives none, a query with a JOIN may give several, all
/// of which land on the same page).
pub(crate) struct PageFiller {
    limit: usize,
    bytes: usize,
    page: FeedPage,
}

impl PageFiller {
    pub(crate) fn new(request: &FeedRequest) -> Self {
        Self {
            limit: request.page_items(),
            bytes: 0,
            page: FeedPage::default(),
        }
    }

    /// Takes one row, or returns `false` when the page is full; the
    /// continuation then points at this row.
    pub(crate) fn offer(
        &mut self,
        key: &[u8],
        value: &[u8],
        decode: &mut impl FnMut(&[u8]) -> Result<Vec<Value>>,
    ) -> Result<bool> {
        if self.page.items.len() >= self.limit
            || (self.bytes + value.len() > MAX_PAGE_BYTES && !self.page.items.is_empty())
        {
            self.page.continuation = Some(encode_hex(key));
            return Ok(false);
        }
        self.page.documents_read += 1;
        let items = decode(value)?;
        if !items.is_empty() {
            self.bytes += value.len();
            self.page.items.extend(items);
        }
        Ok(true)
    }

    pub(crate) fn into_page(self) -> FeedPage {
        self.page
    }
}

/// Where a page starts: the continuation's key, checked to lie inside the
/// range, so a forged token cannot read another resource; tokens are storage
/// keys, so they survive restarts.
pub(crate) fn resume_key(start: &[u8], end: &[u8], request: &FeedRequest) -> Result<Vec<u8>> {
    match &request.continuation {
        None => Ok(start.to_vec()),
        Some(token) => decode_hex(token)
            .filter(|k| k.as_slice() >= start && k.as_slice() <= end)
            .ok_or_else(|| invalid_continuation(token)),
    }
}

/// The 400 for a continuation token this feed did not hand out, naming the
/// token (its start, for a long one) as the service names it.
fn invalid_continuation(token: &str) -> EngineError {
    const SHOWN: usize = 64;
    let shown: String = token.chars().take(SHOWN).collect();
    let more = if token.chars().count() > SHOWN {
        "..."
    } else {
        ""
    };
    EngineError::bad_request(format!("Invalid continuation token '{shown}{more}'."))
}

/// Visits the rows in `[start, end)` in key order (descending when asked),
/// reading `SCAN_CHUNK` at a time, until `visit` returns `false`. Returns
/// whether every row of the range was visited.
pub(crate) fn scan_each(
    reader: &dyn KvRead,
    start: &[u8],
    end: &[u8],
    descending: bool,
    mut visit: impl FnMut(Vec<u8>, Vec<u8>) -> Result<bool>,
) -> Result<bool> {
    let (mut low, mut high) = (start.to_vec(), end.to_vec());
    loop {
        let rows = if descending {
            reader.scan_rev(&low, &high, SCAN_CHUNK)?
        } else {
            reader.scan(&low, &high, SCAN_CHUNK)?
        };
        let exhausted = rows.len() < SCAN_CHUNK;
        // The next chunk starts just past the last row of this one.
        match rows.last() {
            Some((last, _)) if descending => high = last.clone(),
            Some((last, _)) => {
                low = last.clone();
                low.push(0);
            }
            None => {}
        }
        for (key, value) in rows {
            if !visit(key, value)? {
                return Ok(false);
            }
        }
        if exhausted {
            return Ok(true);
        }
    }
}

/// Reads one page of the rows in `[start, end)`.
pub(crate) fn read_page(
    reader: &dyn KvRead,
    start: &[u8],
    end: &[u8],
    request: &FeedRequest,
    mut decode: impl FnMut(&[u8]) -> Result<Vec<Value>>,
) -> Result<FeedPage> {
    let resume = resume_key(start, end, request)?;
    let mut filler = PageFiller::new(request);
    scan_each(reader, &resume, end, false, |key, value| {
        filler.offer(&key, &value, &mut decode)
    })?;
    Ok(filler.page)
}

/// Reads one page of the rows at `keys` (an index's answer) that lie in `[start, end)`.
pub(crate) fn read_keys_page(
    reader: &dyn KvRead,
    keys: &BTreeSet<Vec<u8>>,
    start: &[u8],
    end: &[u8],
    request: &FeedRequest,
    mut decode: impl FnMut(&[u8]) -> Result<Vec<Value>>,
) -> Result<FeedPage> {
    let resume = resume_key(start, end, request)?;
    let mut filler = PageFiller::new(request);
    for key in keys.range(resume..).take_while(|k| k.as_slice() < end) {
        let Some(value) = reader.get(key)? else {
            continue;
        };
        if !filler.offer(key, &value, &mut decode)? {
            break;
        }
    }
    Ok(filler.page)
}

/// Pages through results computed whole (ordered or aggregated queries): the
/// token is the offset of the next result, marked so it is never taken for a
/// storage key.
pub(crate) fn page_of_results(results: Vec<Value>, request: &FeedRequest) -> Result<FeedPage> {
    let offset = match &request.continuation {
        None => 0,
        Some(token) => token
            .strip_prefix(RESULT_OFFSET_MARK)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= results.len())
            .ok_or_else(|| invalid_continuation(token))?,
    };
    let limit = request.page_items();
    let total = results.len();
    let items: Vec<Value> = results.into_iter().skip(offset).take(limit).collect();
    let next = offset + items.len();
    Ok(FeedPage {
        items,
        continuation: (next < total).then(|| format!("{RESULT_OFFSET_MARK}{next}")),
        documents_read: 0,
    })
}

const RESULT_OFFSET_MARK: &str = "r";

#[cfg(test)]
mod tests {
    use super::*;
    use cosmonaut_storage::{Backend, RedbBackend};

    #[test]
    fn scan_each_crosses_chunks_both_ways_and_stops_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = RedbBackend::open(&dir.path().join("data.redb")).expect("open");
        let rows = SCAN_CHUNK * 2 + 17;
        let key = |i: usize| (i as u32).to_be_bytes().to_vec();
        let writes: Vec<_> = (0..rows).map(|i| (key(i), Some(Vec::new()))).collect();
        backend.commit(&writes).expect("commit");
        let snapshot = backend.snapshot().expect("snapshot");
        let (start, end) = (key(0), key(rows));
        for descending in [false, true] {
            let mut seen = Vec::new();
            let all = scan_each(snapshot.as_ref(), &start, &end, descending, |k, _| {
                seen.push(k);
                Ok(true)
            })
            .expect("scan");
            let mut expected: Vec<_> = (0..rows).map(key).collect();
            if descending {
                expected.reverse();
            }
            assert!(all);
            assert_eq!(seen, expected, "descending: {descending}");
        }
        let mut count = 0;
        let all = scan_each(snapshot.as_ref(), &start, &end, false, |_, _| {
            count += 1;
            Ok(count < SCAN_CHUNK + 3)
        })
        .expect("scan");
        assert!(!all);
        assert_eq!(count, SCAN_CHUNK + 3);
    }
}
