//! Secondary indexes: every scalar at every path of every item (as the
//! container's indexing policy allows), kept in the same key space and
//! written in the same transaction as the item, so they are never stale.
//!
//! An entry's key is `container / path / value / item key` with the value
//! encoded so byte order is value order; an equality or range lookup is one
//! key-range scan that yields item keys.

mod encode;
mod lookup;
mod policy;

pub use lookup::{plan_lookup, ValueRange};
pub use policy::IndexPolicy;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::keys;

/// One path segment: a property name, or any element of an array.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    Property(String),
    Element,
}

/// The index keys of a document (with the item's own key appended).
pub fn entries(
    container_rid: &[u8; 8],
    item_key: &[u8],
    document: &Value,
    policy: &IndexPolicy,
) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    if !policy.enabled() {
        return out;
    }
    let suffix = keys::item_suffix(item_key);
    let mut path = Vec::new();
    walk(document, &mut path, &mut |path, value| {
        if let Some(encoded) = encode::value(value) {
            if policy.includes(path) {
                let mut key = keys::index_path(container_rid, path);
                key.extend_from_slice(&encoded);
                key.extend_from_slice(suffix);
                out.insert(key);
            }
        }
    });
    out
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
            let start = match low {
                None => with(&type_start),
                Some((v, true)) => with(&encode::value(v)?),
                Some((v, false)) => keys::prefix_end(&with(&encode::value(v)?)),
            };
            let end = match high {
                None => with(&type_end),
                Some((v, true)) => keys::prefix_end(&with(&encode::value(v)?)),
                Some((v, false)) => with(&encode::value(v)?),
            };
            (start, end)
        }
    })
}

/// The item key an index entry points at.
pub fn item_key_of(container_rid: &[u8; 8], path: &[Segment], entry: &[u8]) -> Option<Vec<u8>> {
    let base = keys::index_path(container_rid, path);
    let rest = entry.strip_prefix(base.as_slice())?;
    let value_len = encode::encoded_len(rest)?;
    Some(keys::item_from_suffix(container_rid, &rest[value_len..]))
}
