//! `ORDER BY` served by an index: walking a path's entries (or a composite
//! index's) in key order yields documents in the query's order, so a page
//! reads only the documents it returns (plus those the filter drops), `TOP`
//! stops early, and a continuation resumes at an index entry.
//!
//! The walk sees only items that have a scalar at the ordered paths. The
//! service also returns items where a single `ORDER BY` path is undefined
//! (first when ascending), so the walk is used only when no item lacks the
//! value (the index's presence counter equals the item count) or when the
//! filter itself bounds the ordered path, which drops such items anyway.

use cosmonaut_query::{Parameters, Query};
use cosmonaut_storage::KvRead;
use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::feed::{scan_each, FeedPage, FeedRequest, MAX_PAGE_BYTES};
use crate::hex::{decode_hex, encode_hex};
use crate::index::{self, IndexPolicy, Segment, ValueRange};
use crate::keys;

/// Index keys `[low, high)` to walk.
pub(crate) type KeyRange = (Vec<u8>, Vec<u8>);

/// The index that gives a query's `ORDER BY` order.
#[derive(Debug, Clone)]
pub(crate) struct OrderIndex {
    /// Every entry of the index starts with this.
    prefix: Vec<u8>,
    /// Walk from the largest key down: `DESC` on one path, or the inverse
    /// of a composite's directions.
    pub backwards: bool,
    presence: Vec<u8>,
    /// The single path ordered on (composites have several).
    single: Option<Vec<Segment>>,
    /// The index as a policy names it, for index-utilization reports.
    pub name: String,
}

impl OrderIndex {
    /// One path's index, walked from its lowest value up.
    pub(crate) fn ascending(container_rid: &[u8; 8], path: &[Segment]) -> Self {
        let prefix = keys::index_path(container_rid, path);
        Self {
            presence: keys::index_presence(&prefix),
            prefix,
            backwards: false,
            single: Some(path.to_vec()),
            name: index::policy_path(path),
        }
    }
}

/// The index that serves the query's `ORDER BY`, `None` when the query has
/// none or reads something other than whole documents; the service's 400
/// when the policy lacks the index it needs.
pub(crate) fn order_index(
    query: &Query,
    policy: &IndexPolicy,
    container_rid: &[u8; 8],
) -> Result<Option<OrderIndex>> {
    if query.order_by.is_empty() || !policy.enabled() {
        return Ok(None);
    }
    let Some(alias) = index::document_alias(query) else {
        return Ok(None);
    };
    let Some(paths) = query
        .order_by
        .iter()
        .map(|key| index::path_of(&key.expr, alias).filter(|p| !p.is_empty()))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    if let [path] = paths.as_slice() {
        if !policy.includes(path) {
            return Err(EngineError::bad_request(
                "Order-by item requires a range index to be defined on the corresponding index path.",
            ));
        }
        return Ok(Some(OrderIndex {
            backwards: query.order_by[0].descending,
            ..OrderIndex::ascending(container_rid, path)
        }));
    }
    let wanted: Vec<(&Vec<Segment>, bool)> = paths
        .iter()
        .zip(&query.order_by)
        .map(|(p, key)| (p, key.descending))
        .collect();
    for composite in policy.composites() {
        if composite.paths.len() != wanted.len()
            || composite
                .paths
                .iter()
                .zip(&wanted)
                .any(|((p, _), (q, _))| p != *q)
        {
            continue;
        }
        let same = composite
            .paths
            .iter()
            .zip(&wanted)
            .all(|((_, d), (_, w))| d == w);
        let inverse = composite
            .paths
            .iter()
            .zip(&wanted)
            .all(|((_, d), (_, w))| d != w);
        if same || inverse {
            let prefix = keys::composite_index(container_rid, &composite.name());
            return Ok(Some(OrderIndex {
                presence: keys::index_presence(&prefix),
                prefix,
                backwards: inverse,
                single: None,
                name: composite.name(),
            }));
        }
    }
    Err(EngineError::bad_request(
        "The order by query does not have a corresponding composite index that it can be served from.",
    ))
}

/// `WHERE c.a = @v ORDER BY c.b` through a composite index of `(a, b)`:
/// the entries whose first part is `@v` come in `b` order, so a page reads
/// only its own items and `TOP` stops early, where reading every item with
/// `a = @v` and sorting them cost their number. Used when the composite
/// holds every item (items without `b` would be missed) and no cut string.
pub(crate) fn equality_then_order(
    reader: &dyn KvRead,
    query: &Query,
    policy: &IndexPolicy,
    container_rid: &[u8; 8],
    lookup: &index::Lookup,
    item_count: u64,
) -> Result<Option<(OrderIndex, KeyRange)>> {
    let (Some(alias), [key]) = (index::document_alias(query), query.order_by.as_slice()) else {
        return Ok(None);
    };
    let (Some(ordered), [ValueRange::Equal(value)]) =
        (index::path_of(&key.expr, alias), lookup.ranges.as_slice())
    else {
        return Ok(None);
    };
    let composite = policy.composites().iter().find(|c| {
        matches!(c.paths.as_slice(), [(first, _), (second, _)]
            if *first == lookup.path && *second == ordered)
    });
    let Some(composite) = composite else {
        return Ok(None);
    };
    let (first_descending, second_descending) = (composite.paths[0].1, composite.paths[1].1);
    let name = composite.name();
    let Some(range) = index::composite_first_part(container_rid, &name, first_descending, value)
    else {
        return Ok(None);
    };
    let prefix = keys::composite_index(container_rid, &name);
    let order = OrderIndex {
        presence: keys::index_presence(&prefix),
        prefix,
        backwards: second_descending != key.descending,
        single: None,
        name,
    };
    if !index::holds_exact_values(reader, &order.prefix)?
        || index::presence(reader, &order.presence)? != item_count
    {
        return Ok(None);
    }
    Ok(Some((order, range)))
}

/// The part of the index to walk, when walking it gives the whole answer.
/// `bound` is a filter range on the ordered path (`WHERE c.n > 5 ORDER BY
/// c.n`); `item_count` and the index's presence counter say whether any
/// item lacks a value the walk would miss.
pub(crate) fn walk_range(
    reader: &dyn KvRead,
    order: &OrderIndex,
    container_rid: &[u8; 8],
    bound: Option<&ValueRange>,
    item_count: u64,
) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    // Items whose strings were cut tie in the index whatever their order.
    if !index::holds_exact_values(reader, &order.prefix)? {
        return Ok(None);
    }
    if let (Some(path), Some(range)) = (&order.single, bound) {
        return Ok(index::range_keys(container_rid, path, range));
    }
    if index::presence(reader, &order.presence)? != item_count {
        return Ok(None);
    }
    Ok(Some((
        order.prefix.clone(),
        keys::prefix_end(&order.prefix),
    )))
}

/// One page of an ordered query: documents in index order within the item
/// key range `[start, end)`, each run through `run` (filter and projection),
/// with `OFFSET`/`LIMIT`/`TOP` applied as `window` (rows to skip, most to
/// return). The continuation names the next entry and the rows produced so
/// far, so it resumes exactly and survives restarts.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_ordered_page(
    reader: &dyn KvRead,
    container_rid: &[u8; 8],
    order: &OrderIndex,
    (low, high): (Vec<u8>, Vec<u8>),
    (start, end): (&[u8], &[u8]),
    window: (usize, Option<usize>),
    request: &FeedRequest,
    mut run: impl FnMut(&[u8]) -> Result<Vec<Value>>,
) -> Result<FeedPage> {
    let (skip, take) = window;
    let stop = take.map(|t| skip.saturating_add(t));
    let (mut produced, resume) = match &request.continuation {
        None => (0, None),
        Some(token) => {
            let (count, key) = parse_token(token)
                .filter(|(_, key)| key.starts_with(&order.prefix))
                .ok_or_else(|| {
                    EngineError::bad_request(format!(
                        "Invalid continuation token '{token}' for this ordered query."
                    ))
                })?;
            (count, Some(key))
        }
    };
    let (low, high) = match (resume, order.backwards) {
        (None, _) => (low, high),
        (Some(key), false) => (key, high),
        (Some(mut key), true) => {
            key.push(0);
            (low, key)
        }
    };
    let limit = request.page_items();
    let mut page = FeedPage::default();
    let mut bytes = 0;
    scan_each(reader, &low, &high, order.backwards, |entry, value| {
        if stop.is_some_and(|s| produced >= s) {
            return Ok(false);
        }
        let Some(item_key) = index::entry_item_key(container_rid, &order.prefix, &entry, &value)
        else {
            return Ok(true);
        };
        if item_key.as_slice() < start || item_key.as_slice() >= end {
            return Ok(true);
        }
        let Some(document) = reader.get(&item_key)? else {
            return Ok(true);
        };
        if page.items.len() >= limit
            || (bytes + document.len() > MAX_PAGE_BYTES && !page.items.is_empty())
        {
            page.continuation = Some(format!("{TOKEN_MARK}{produced}.{}", encode_hex(&entry)));
            return Ok(false);
        }
        page.documents_read += 1;
        for row in run(&document)? {
            if stop.is_some_and(|s| produced >= s) {
                break;
            }
            if produced >= skip {
                bytes += document.len();
                page.items.push(row);
            }
            produced += 1;
        }
        Ok(true)
    })?;
    Ok(page)
}

/// Marks an ordered-walk token, so it is never taken for another kind.
const TOKEN_MARK: &str = "o";

fn parse_token(token: &str) -> Option<(usize, Vec<u8>)> {
    let (count, key) = token.strip_prefix(TOKEN_MARK)?.split_once('.')?;
    Some((count.parse().ok()?, decode_hex(key)?))
}

/// The filter's range on the single ordered path, if it has exactly one.
pub(crate) fn same_path_bound<'l>(
    order: &OrderIndex,
    lookup: Option<&'l index::Lookup>,
) -> Option<&'l ValueRange> {
    let lookup = lookup?;
    match (&order.single, lookup.ranges.as_slice()) {
        (Some(path), [range]) if *path == lookup.path => Some(range),
        _ => None,
    }
}

/// The query's window, as a 400 when `TOP`/`OFFSET`/`LIMIT` are not counts.
pub(crate) fn window(query: &Query, parameters: &Parameters) -> Result<(usize, Option<usize>)> {
    query
        .window(parameters)
        .map_err(|e| EngineError::bad_request(e.to_string()))
}
