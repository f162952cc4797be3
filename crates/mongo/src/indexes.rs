//! What a collection's index specifications oblige writes to do: TTL
//! indexes give each document its expiry (the engine's per-item `ttl`),
//! unique indexes give each document the keys it must hold alone (see
//! `collections::unique`). A partial index (`partialFilterExpression`)
//! obliges only the documents its filter matches; it is not used to find
//! documents, since the others have no keys in it. Neither is a hidden one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bson::{Bson, Document};
use sha2::{Digest, Sha256};

use crate::compare::as_f64;
use crate::error::{MongoError, Result};
use crate::filter::Filter;

/// The engine's largest per-item `ttl` (seconds).
const MAX_TTL: i64 = i32::MAX as i64;

/// A unique index: its name and key paths.
#[derive(Debug, Clone)]
pub struct UniqueIndex {
    pub name: String,
    pub paths: Vec<String>,
    pub sparse: bool,
    /// Only documents this matches hold keys.
    pub partial: Option<Filter>,
}

/// A path an index leads with: its documents carry that path's keys in an
/// item property the engine indexes, so equality filters on the path are
/// engine index lookups.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupPath {
    pub path: String,
    /// The index (the first to lead with the path), as `explain` names it.
    pub index: String,
    /// The item property (under `keys`) holding the path's keys.
    pub property: String,
}

/// The index specifications of one collection, as writes need them.
#[derive(Debug, Clone, Default)]
pub struct IndexSet {
    /// TTL indexes: the date path, seconds after it, and the partial
    /// filter a document must match to expire.
    pub ttl: Vec<(String, i64, Option<Filter>)>,
    pub unique: Vec<UniqueIndex>,
    pub lookup: Vec<LookupPath>,
}

/// The item property holding the keys of `path`: a name the query
/// language takes as an identifier whatever the path holds.
fn property_for(path: &str) -> String {
    let digest = Sha256::digest(path.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("p{hex}")
}

/// The key an index keeps for a value, as JSON the engine compares exactly:
/// numbers as one number type (so `5`, `5.0` and `NumberLong(5)` meet),
/// strings, booleans and null as they are, ObjectIds and dates as tagged
/// strings. Documents and arrays have none: filters on them read the
/// collection.
pub fn key_of(value: &Bson) -> Option<serde_json::Value> {
    use serde_json::Value;
    Some(match value {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::String(s) => Value::String(s.clone()),
        Bson::ObjectId(o) => Value::String(format!("\u{1}oid:{}", o.to_hex())),
        Bson::DateTime(d) => Value::String(format!("\u{1}date:{}", d.timestamp_millis())),
        // Infinities, which JSON lacks, as the largest doubles: they stay in
        // order for ranges, and an equality on the largest double finds
        // them too (the filter decides).
        v => match as_f64(v) {
            Some(f) if f.is_nan() => return None,
            Some(f) => {
                serde_json::Number::from_f64(f.clamp(f64::MIN, f64::MAX)).map(Value::Number)?
            }
            None => return None,
        },
    })
}

impl IndexSet {
    pub fn from_specs(specs: &[Document]) -> IndexSet {
        let mut set = IndexSet::default();
        for spec in specs {
            let Ok(key) = spec.get_document("key") else {
                continue;
            };
            let paths: Vec<String> = key.keys().cloned().collect();
            let ordered = key.values().next().is_some_and(|v| as_f64(v).is_some());
            // Validated when the index was made.
            let partial = spec
                .get_document("partialFilterExpression")
                .ok()
                .and_then(|f| Filter::parse(f).ok());
            // A hidden index is kept but not used to find documents.
            let hidden = spec.get_bool("hidden").unwrap_or(false);
            if let (Some(first), true, None, false) = (paths.first(), ordered, &partial, hidden) {
                if first != "_id" && !set.lookup.iter().any(|l| &l.path == first) {
                    set.lookup.push(LookupPath {
                        path: first.clone(),
                        index: spec.get_str("name").unwrap_or_default().to_string(),
                        property: property_for(first),
                    });
                }
            }
            if let Some(seconds) = spec.get("expireAfterSeconds").and_then(as_f64) {
                if let [path] = paths.as_slice() {
                    set.ttl
                        .push((path.clone(), seconds as i64, partial.clone()));
                }
            }
            if spec.get("unique").is_some_and(crate::expr::truthy) {
                set.unique.push(UniqueIndex {
                    name: spec.get_str("name").unwrap_or_default().to_string(),
                    paths,
                    sparse: spec.get("sparse").is_some_and(crate::expr::truthy),
                    partial,
                });
            }
        }
        set
    }

    /// The engine `ttl` (seconds from now) for `document`: the earliest
    /// date any TTL index finds, plus its seconds. `None` when no TTL index
    /// applies (the document does not expire).
    pub fn ttl_for(&self, document: &Document, now_ms: i64) -> Option<i64> {
        let mut earliest: Option<i64> = None;
        for (path, seconds, partial) in &self.ttl {
            if !applies(partial, document) {
                continue;
            }
            let dates: Vec<i64> = crate::path::lookup(document, path)
                .into_iter()
                .flat_map(|v| match v {
                    Bson::Array(items) => items.iter().collect::<Vec<_>>(),
                    one => vec![one],
                })
                .filter_map(|v| match v {
                    Bson::DateTime(d) => Some(d.timestamp_millis()),
                    _ => None,
                })
                .collect();
            if let Some(first) = dates.into_iter().min() {
                let at = first / 1000 + seconds;
                earliest = Some(earliest.map_or(at, |e: i64| e.min(at)));
            }
        }
        earliest.map(|at| (at - now_ms / 1000).clamp(1, MAX_TTL))
    }

    /// The keys of every lookup path, as the item property `keys` holds
    /// them (`None` when the collection has no such index).
    pub fn lookup_keys(&self, document: &Document) -> Option<serde_json::Value> {
        if self.lookup.is_empty() {
            return None;
        }
        let mut keys = serde_json::Map::new();
        for lookup in &self.lookup {
            let found = crate::path::lookup(document, &lookup.path);
            let mut values: Vec<serde_json::Value> = Vec::new();
            if found.is_empty() {
                values.push(serde_json::Value::Null);
            }
            for v in found {
                match v {
                    Bson::Array(items) if items.is_empty() => values.push(serde_json::Value::Null),
                    Bson::Array(items) => values.extend(items.iter().filter_map(key_of)),
                    one => values.extend(key_of(one)),
                }
            }
            values.dedup();
            keys.insert(lookup.property.clone(), serde_json::Value::Array(values));
        }
        Some(serde_json::Value::Object(keys))
    }

    /// The unique keys `document` holds: (index, marker id, key shown in
    /// errors) for each unique index and each key value it has there.
    pub fn unique_keys(&self, document: &Document) -> Result<Vec<UniqueKey>> {
        let mut out = Vec::new();
        for index in &self.unique {
            if !applies(&index.partial, document) {
                continue;
            }
            let mut combos: Vec<Vec<Bson>> = vec![Vec::new()];
            let mut missing = true;
            for path in &index.paths {
                let found = crate::path::lookup(document, path);
                missing &= found.is_empty();
                let mut values: Vec<Bson> = Vec::new();
                for v in found {
                    match v {
                        Bson::Array(items) if !items.is_empty() => {
                            values.extend(items.iter().cloned())
                        }
                        other => values.push(other.clone()),
                    }
                }
                if values.is_empty() {
                    values.push(Bson::Null);
                }
                values.dedup_by(|a, b| crate::compare::equal(a, b));
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        values.iter().map(move |v| {
                            let mut c = c.clone();
                            c.push(v.clone());
                            c
                        })
                    })
                    .collect();
                if combos.len() > 1000 {
                    return Err(MongoError::bad_value(format!(
                        "too many keys for unique index {}",
                        index.name
                    )));
                }
            }
            if index.sparse && missing {
                continue;
            }
            for values in combos {
                out.push(UniqueKey::new(index, &values)?);
            }
        }
        Ok(out)
    }
}

/// Whether an index with this partial filter covers `document`.
fn applies(partial: &Option<Filter>, document: &Document) -> bool {
    partial
        .as_ref()
        .is_none_or(|f| f.matches(document).unwrap_or(false))
}

/// One unique key a document claims.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueKey {
    pub index: String,
    /// The marker's item id: a hash of the index name and normalised values.
    pub marker: String,
    /// `{ field: value, ... }` as duplicate key errors show it.
    pub shown: String,
}

impl UniqueKey {
    fn new(index: &UniqueIndex, values: &[Bson]) -> Result<Self> {
        let normal: Vec<Bson> = values
            .iter()
            .map(crate::stored::normal_number_or_self)
            .collect();
        let encoded = bson::doc! {"i": &index.name, "v": normal}
            .to_vec()
            .map_err(|e| MongoError::bad_value(format!("index key cannot be encoded: {e}")))?;
        let marker = URL_SAFE_NO_PAD.encode(Sha256::digest(&encoded));
        let shown = index
            .paths
            .iter()
            .zip(values)
            .map(|(p, v)| format!("{p}: {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(UniqueKey {
            index: index.name.clone(),
            marker,
            shown: format!("{{ {shown} }}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn ttl_counts_from_the_earliest_date() {
        let set = IndexSet::from_specs(&[
            doc! {"key": {"at": 1}, "name": "at_1", "expireAfterSeconds": 60},
        ]);
        let now = 1_000_000_000;
        let d = doc! {"at": [bson::DateTime::from_millis(now + 30_000), bson::DateTime::from_millis(now)]};
        assert_eq!(set.ttl_for(&d, now), Some(60));
        assert_eq!(set.ttl_for(&doc! {"at": "not a date"}, now), None);
        assert_eq!(
            set.ttl_for(&doc! {"at": bson::DateTime::from_millis(0)}, now),
            Some(1)
        );
    }

    #[test]
    fn unique_keys_treat_equal_numbers_as_one_and_arrays_per_element() {
        let set = IndexSet::from_specs(&[doc! {"key": {"e": 1}, "name": "e_1", "unique": true}]);
        let a = set.unique_keys(&doc! {"e": 1}).unwrap();
        let b = set.unique_keys(&doc! {"e": 1.0}).unwrap();
        assert_eq!(a, b);
        assert_eq!(set.unique_keys(&doc! {"e": [1, 2]}).unwrap().len(), 2);
        assert_eq!(
            set.unique_keys(&doc! {}).unwrap(),
            set.unique_keys(&doc! {"e": null}).unwrap()
        );
        let sparse = IndexSet::from_specs(&[
            doc! {"key": {"e": 1}, "name": "e_1", "unique": true, "sparse": true},
        ]);
        assert!(sparse.unique_keys(&doc! {}).unwrap().is_empty());
    }
}
