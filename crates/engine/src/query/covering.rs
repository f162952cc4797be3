//! Queries answered from index entries alone. When a grouping, aggregating
//! or `DISTINCT` query reads documents only through paths whose values one
//! index holds (one path, or the paths of a composite), each entry is turned
//! back into a document holding just those values and the query runs over
//! those: no stored document is read.
//!
//! As with ordered walks, an item missing from the index would be missed,
//! so the index must hold every item (its presence counter equals the item
//! count), or the filter must bound the one path, which drops such items.

use cosmonaut_query::Query;
use cosmonaut_storage::KvRead;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::feed::scan_each;
use crate::index::{self, IndexPolicy, Lookup, Segment};
use crate::keys;

/// Key ranges `[low, high)` of an index.
pub(crate) type KeyRanges = Vec<(Vec<u8>, Vec<u8>)>;

/// Documents cut down to an index's paths, each with the number of items
/// it stands for.
pub(crate) type Weighted = Vec<(Value, u64)>;

/// An index holding every path a query reads.
pub(crate) struct Covering {
    prefix: Vec<u8>,
    presence: Vec<u8>,
    /// Each part's path and whether it is stored inverted (descending).
    parts: Vec<(Vec<Segment>, bool)>,
    pub name: String,
}

/// The index that covers the query, if one does.
pub(crate) fn covering_index(
    query: &Query,
    policy: &IndexPolicy,
    container_rid: &[u8; 8],
) -> Option<Covering> {
    if !policy.enabled() {
        return None;
    }
    let mut read: Vec<Vec<Segment>> = query
        .document_paths()?
        .into_iter()
        .map(|p| p.into_iter().map(Segment::Property).collect())
        .collect();
    if read.is_empty() {
        // `SELECT VALUE COUNT(1) FROM c` reads no path; every item has an id.
        read.push(vec![Segment::Property("id".into())]);
    }
    if let [path] = read.as_slice() {
        if policy.includes(path) {
            let prefix = keys::index_path(container_rid, path);
            return Some(Covering {
                presence: keys::index_presence(&prefix),
                prefix,
                parts: vec![(path.clone(), false)],
                name: index::policy_path(path),
            });
        }
    }
    let composite = policy.composites().iter().find(|c| {
        read.iter()
            .all(|path| c.paths.iter().any(|(p, _)| p == path))
    })?;
    let prefix = keys::composite_index(container_rid, &composite.name());
    Some(Covering {
        presence: keys::index_presence(&prefix),
        prefix,
        parts: composite.paths.clone(),
        name: composite.name(),
    })
}

/// The key ranges of the covering index that hold every item the query
/// can see, or `None` when some item could be missing from them.
pub(crate) fn covered_ranges(
    reader: &dyn KvRead,
    covering: &Covering,
    container_rid: &[u8; 8],
    lookup: Option<&Lookup>,
    item_count: u64,
) -> Result<Option<KeyRanges>> {
    // Entries of cut strings do not hold the values the query needs.
    if !index::holds_exact_values(reader, &covering.prefix)? {
        return Ok(None);
    }
    if let (Some(lookup), [(path, _)]) = (lookup, covering.parts.as_slice()) {
        if lookup.path == *path {
            let ranges: Option<Vec<_>> = lookup
                .ranges
                .iter()
                .map(|r| index::range_keys(container_rid, path, r))
                .collect();
            // `IN ('a', 'a')` names one range twice; its items count once.
            return Ok(ranges.map(|mut r| {
                r.sort();
                r.dedup();
                r
            }));
        }
    }
    if index::presence(reader, &covering.presence)? != item_count {
        return Ok(None);
    }
    Ok(Some(vec![(
        covering.prefix.clone(),
        keys::prefix_end(&covering.prefix),
    )]))
}

/// The documents, cut down to the covered paths, of the entries in `ranges`
/// whose items lie in `[start, end)`, each with the number of entries it
/// stands for: a single path's entries of one value sort together, so each
/// run of them becomes one document (the query counts it as many), and a
/// grouping or count over many items decodes and evaluates each value once.
pub(crate) fn covered_documents(
    reader: &dyn KvRead,
    covering: &Covering,
    container_rid: &[u8; 8],
    ranges: &KeyRanges,
    (start, end): (&[u8], &[u8]),
) -> Result<Weighted> {
    let inverted: Vec<bool> = covering.parts.iter().map(|(_, d)| *d).collect();
    let single = covering.parts.len() == 1;
    // Every item of the container is in scope: no entry needs its item key.
    let (first, after) = keys::items(container_rid);
    let whole = start <= first.as_slice() && end >= after.as_slice();
    let mut documents: Vec<(Value, u64)> = Vec::new();
    // The entry that began the last run, while the run may go on.
    let mut run: Option<Vec<u8>> = None;
    for (low, high) in ranges {
        scan_each(reader, low, high, false, |entry, value| {
            if !whole {
                let item_key =
                    index::entry_item_key(container_rid, &covering.prefix, &entry, &value);
                if !item_key.is_some_and(|k| k.as_slice() >= start && k.as_slice() < end) {
                    return Ok(true);
                }
            }
            if single {
                let prefix = covering.prefix.as_slice();
                let last = run
                    .as_deref()
                    .and_then(|e| index::entry_value_bytes(prefix, e));
                if last.is_some() && last == index::entry_value_bytes(prefix, &entry) {
                    if let Some((_, n)) = documents.last_mut() {
                        *n += 1;
                    }
                    return Ok(true);
                }
            }
            run = None;
            if let Some(values) = index::entry_values(&covering.prefix, &entry, &inverted) {
                let mut document = Value::Object(Map::new());
                for ((path, _), value) in covering.parts.iter().zip(values) {
                    set_path(&mut document, path, value);
                }
                documents.push((document, 1));
                if single {
                    run = Some(entry);
                }
            }
            Ok(true)
        })?;
        run = None;
    }
    Ok(documents)
}

fn set_path(document: &mut Value, path: &[Segment], value: Value) {
    let mut at = document;
    for (i, segment) in path.iter().enumerate() {
        let Segment::Property(name) = segment else {
            return;
        };
        let Value::Object(map) = at else {
            return;
        };
        if i + 1 == path.len() {
            map.insert(name.clone(), value);
            return;
        }
        at = map
            .entry(name.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}
