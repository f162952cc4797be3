//! Secondary indexes: every scalar at every path of every item (as the
//! container's indexing policy allows), kept in the same key space and
//! written in the same transaction as the item, so they are never stale.
//!
//! An entry's key is `container / path / value / item key` with the value
//! encoded so byte order is value order; an equality or range lookup is one
//! key-range scan that yields item keys, and walking a path's entries in key
//! order (or backwards) yields items in `ORDER BY` order. Composite entries
//! are `container / composite / values / item key`, descending parts stored
//! bit-inverted so one scan serves the composite's order.
//!
//! A presence counter per single path and per composite counts the items
//! with an entry there; when it equals the container's item count, no item
//! lacks the value and the index alone gives the whole `ORDER BY` order.

mod advice;
mod encode;
mod lookup;
mod policy;

pub use advice::potential_indexes;
pub(crate) use lookup::flatten_and;
pub use lookup::{document_alias, exact_lookup, path_of, plan_lookup, Lookup, ValueRange};
pub use policy::IndexPolicy;

use std::collections::{BTreeMap, BTreeSet};

use cosmonaut_storage::{KvRead, Txn};
use serde_json::Value;

use crate::error::{EngineError, ErrorKind, Result};
use crate::keys;

/// One path segment: a property name, or any element of an array.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    Property(String),
    Element,
}

/// What one document puts in its container's index.
#[derive(Debug, Default)]
pub struct IndexEntries {
    /// Entry keys with their values: empty for single paths, the item key's
    /// suffix for composite entries (whose inverted parts hide it).
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The presence counters this document adds one to: single paths
    /// without array steps it has a scalar at, and composites it fills.
    present: BTreeSet<Vec<u8>>,
    /// The cut-string counters it adds one to: indexes where one of its
    /// strings was too long to keep whole.
    cut: BTreeSet<Vec<u8>>,
    /// Unique-key entries: no other item of the logical partition may hold one.
    unique: BTreeSet<Vec<u8>>,
}

/// The index entries of a document stored under `item_key`.
pub fn entries(
    container_rid: &[u8; 8],
    item_key: &[u8],
    document: &Value,
    policy: &IndexPolicy,
) -> IndexEntries {
    let mut out = IndexEntries::default();
    let suffix = keys::item_suffix(item_key);
    // Expiry times are kept whatever the indexing mode: the purge needs them.
    if let Some(at) = policy.ttl.expires_at(document) {
        out.entries
            .insert(keys::expiry(container_rid, at, suffix), Vec::new());
    }
    // Unique keys hold whatever the indexing mode: they are constraints.
    for (number, paths) in policy.unique_keys.iter().enumerate() {
        let key = keys::unique(container_rid, number, suffix, |key| {
            for path in paths {
                // A missing or non-scalar value takes part as null, as on the service.
                let value = value_at(document, path).and_then(encode::exact_value);
                key.extend(
                    value.unwrap_or_else(|| encode::value(&Value::Null).unwrap_or_default()),
                );
            }
        });
        if let Some(key) = key {
            out.unique.insert(key.clone());
            out.entries.insert(key, suffix.to_vec());
        }
    }
    if !policy.enabled() {
        return out;
    }
    // The entry key is built in one buffer sized for it: path, value, item.
    let mut add = |path: &[Segment], value: &Value| {
        if !policy.includes(path) {
            return;
        }
        let room = encode::encoded_len_bound(value) + suffix.len();
        let mut key = keys::index_path_with_room(container_rid, path, room);
        let path_end = key.len();
        if !encode::push_value(&mut key, value) {
            return;
        }
        if !path.contains(&Segment::Element) {
            out.present.insert(keys::index_presence(&key[..path_end]));
        }
        if encode::is_cut(&key[path_end..]) {
            out.cut.insert(keys::index_cut(&key[..path_end]));
        }
        key.extend_from_slice(suffix);
        out.entries.insert(key, Vec::new());
    };
    walk(document, &mut Vec::new(), &mut add);
    // Indexed computed properties, as if the document held their values.
    for property in &policy.computed {
        if let Some(value) = property.value_for(document) {
            walk(
                &value,
                &mut vec![Segment::Property(property.name.clone())],
                &mut add,
            );
        }
    }
    for composite in policy.composites() {
        let mut key = keys::composite_index(container_rid, &composite.name());
        let prefix_len = key.len();
        for (path, descending) in &composite.paths {
            let Some(encoded) = value_at(document, path).and_then(encode::value) else {
                key.truncate(prefix_len);
                break;
            };
            if encode::is_cut(&encoded) {
                out.cut.insert(keys::index_cut(&key[..prefix_len]));
            }
            if *descending {
                key.extend(encoded.iter().map(|b| !b));
            } else {
                key.extend_from_slice(&encoded);
            }
        }
        if key.len() > prefix_len {
            out.present.insert(keys::index_presence(&key[..prefix_len]));
            key.extend_from_slice(suffix);
            out.entries.insert(key, suffix.to_vec());
        }
    }
    out
}

/// Moves a document's index from `old` to `new` entries (either may be
/// empty: a create or a delete), keeping the presence counters in step;
/// 409 when another item of the logical partition holds a unique key.
/// `new` is consumed: its keys go into the transaction without a copy.
pub fn apply(txn: &mut Txn<'_>, old: &IndexEntries, new: IndexEntries) -> Result<()> {
    for claimed in new.unique.difference(&old.unique) {
        if txn.get(claimed)?.is_some() {
            return Err(EngineError::new(
                ErrorKind::Conflict,
                "Unique index constraint violation: another item in this logical partition has \
                 the same values for a unique key of the container.",
            ));
        }
    }
    for stale in old.entries.keys() {
        if !new.entries.contains_key(stale) {
            txn.delete(stale.clone());
        }
    }
    move_counters(txn, &old.present, &new.present)?;
    move_counters(txn, &old.cut, &new.cut)?;
    for (fresh, value) in new.entries {
        if !old.entries.contains_key(&fresh) {
            txn.put(fresh, value);
        }
    }
    Ok(())
}

/// Takes one from each counter only in `old` and adds one to each only in
/// `new` (a counter at zero is removed). The counters are read in one
/// request: a document with many paths moves many counters, and a store
/// across a network would otherwise take a round trip for each.
fn move_counters(
    txn: &mut Txn<'_>,
    old: &BTreeSet<Vec<u8>>,
    new: &BTreeSet<Vec<u8>>,
) -> Result<()> {
    let gone: Vec<Vec<u8>> = old.difference(new).cloned().collect();
    let added: Vec<Vec<u8>> = new.difference(old).cloned().collect();
    if gone.is_empty() && added.is_empty() {
        return Ok(());
    }
    let keys: Vec<Vec<u8>> = gone.iter().chain(&added).cloned().collect();
    let counts: Vec<u64> = txn
        .get_many(&keys)?
        .into_iter()
        .map(|bytes| {
            bytes
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map_or(0, u64::from_be_bytes)
        })
        .collect();
    for (key, count) in keys.into_iter().zip(counts) {
        let is_gone = gone.binary_search(&key).is_ok();
        let next = if is_gone {
            count.saturating_sub(1)
        } else {
            count + 1
        };
        if next == 0 {
            txn.delete(key);
        } else {
            txn.put(key, next.to_be_bytes().to_vec());
        }
    }
    Ok(())
}

/// Whether every value in the index whose entries start with `prefix` is
/// kept whole, so entries give exact values in exact order.
pub fn holds_exact_values(reader: &dyn KvRead, prefix: &[u8]) -> Result<bool> {
    Ok(presence(reader, &keys::index_cut(prefix))? == 0)
}

/// How many items have an entry in the index whose presence counter is `key`.
pub fn presence(reader: &dyn KvRead, key: &[u8]) -> Result<u64> {
    Ok(reader
        .get(key)?
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
        .map_or(0, u64::from_be_bytes))
}

/// The value at a path of property names, if it is there.
fn value_at<'v>(document: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    path.iter().try_fold(document, |v, segment| match segment {
        Segment::Property(name) => v.get(name),
        Segment::Element => None,
    })
}

/// Visits every scalar under `value` with its path. System properties
/// other than `_ts` are left out: nobody filters on them.
fn walk(value: &Value, path: &mut Vec<Segment>, visit: &mut dyn FnMut(&[Segment], &Value)) {
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                if path.is_empty() && name.starts_with('_') && name != "_ts" {
                    continue;
                }
                path.push(Segment::Property(name.clone()));
                walk(child, path, visit);
                path.pop();
            }
        }
        Value::Array(items) => {
            path.push(Segment::Element);
            for item in items {
                walk(item, path, visit);
            }
            path.pop();
        }
        scalar => visit(path, scalar),
    }
}

/// A path as indexing policies write it: `/a/[]/b/?`.
pub fn policy_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Property(name) if name.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                out.push('/');
                out.push_str(name);
            }
            Segment::Property(name) => out.push_str(&format!(
                "/{}",
                serde_json::to_string(name).unwrap_or_default()
            )),
            Segment::Element => out.push_str("/[]"),
        }
    }
    out + "/?"
}

/// The key range holding the entries of `path` whose values lie in `range`.
pub fn range_keys(
    container_rid: &[u8; 8],
    path: &[Segment],
    range: &ValueRange,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let base = keys::index_path(container_rid, path);
    let with = |bytes: &[u8]| {
        let mut k = base.clone();
        k.extend_from_slice(bytes);
        k
    };
    Some(match range {
        ValueRange::Equal(v) => {
            let start = with(&encode::value(v)?);
            let end = keys::prefix_end(&start);
            (start, end)
        }
        ValueRange::Between { low, high, type_of } => {
            let (type_start, type_end) = encode::type_bounds(type_of)?;
            // A cut bound stands for every string with its prefix: keep them all.
            let bound = |v: &Value, inclusive: bool| {
                encode::value(v).map(|e| (inclusive || encode::is_cut(&e), e))
            };
            let start = match low.as_ref().map(|(v, inc)| bound(v, *inc)) {
                None => with(&type_start),
                Some(None) => return None,
                Some(Some((true, e))) => with(&e),
                Some(Some((false, e))) => keys::prefix_end(&with(&e)),
            };
            let end = match high.as_ref().map(|(v, inc)| bound(v, *inc)) {
                None => with(&type_end),
                Some(None) => return None,
                Some(Some((true, e))) => keys::prefix_end(&with(&e)),
                Some(Some((false, e))) => with(&e),
            };
            (start, end)
        }
    })
}

/// The item key an index entry points at.
pub fn item_key_of(container_rid: &[u8; 8], path: &[Segment], entry: &[u8]) -> Option<Vec<u8>> {
    entry_item_key(
        container_rid,
        &keys::index_path(container_rid, path),
        entry,
        &[],
    )
}

/// The item key of an entry of the index whose entries start with `prefix`:
/// a composite entry's value holds it, a single path's key ends with it.
pub fn entry_item_key(
    container_rid: &[u8; 8],
    prefix: &[u8],
    entry: &[u8],
    value: &[u8],
) -> Option<Vec<u8>> {
    if !value.is_empty() {
        return Some(keys::item_from_suffix(container_rid, value));
    }
    let rest = entry.strip_prefix(prefix)?;
    let value_len = encode::encoded_len(rest)?;
    Some(keys::item_from_suffix(container_rid, &rest[value_len..]))
}

/// Where the entries of composite index `name` whose first part holds
/// `first` start and end; `None` for a value whose entry would be cut
/// (entries of several values share it) or that has no encoding.
pub fn composite_first_part(
    container_rid: &[u8; 8],
    name: &str,
    first_descending: bool,
    first: &Value,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let encoded = encode::value(first)?;
    if encode::is_cut(&encoded) {
        return None;
    }
    let mut start = keys::composite_index(container_rid, name);
    if first_descending {
        start.extend(encoded.iter().map(|b| !b));
    } else {
        start.extend_from_slice(&encoded);
    }
    let end = keys::prefix_end(&start);
    Some((start, end))
}

/// The encoded value of an entry of the single-path index starting with
/// `prefix`: entries of equal values hold equal bytes here.
pub fn entry_value_bytes<'e>(prefix: &[u8], entry: &'e [u8]) -> Option<&'e [u8]> {
    let rest = entry.strip_prefix(prefix)?;
    rest.get(..encode::encoded_len(rest)?)
}

/// The values an entry of the index starting with `prefix` holds, one per
/// part (`true`: stored inverted, a descending part of a composite).
pub fn entry_values(prefix: &[u8], entry: &[u8], parts: &[bool]) -> Option<Vec<Value>> {
    let mut rest = entry.strip_prefix(prefix)?;
    let mut values = Vec::with_capacity(parts.len());
    for inverted in parts {
        let (value, len) = if *inverted {
            let plain: Vec<u8> = rest.iter().map(|b| !b).collect();
            encode::decode(&plain)?
        } else {
            encode::decode(rest)?
        };
        values.push(value);
        rest = &rest[len..];
    }
    Some(values)
}
