//! How a MongoDB document is kept as an engine item: `{"id": <key>, "doc":
//! <document>}`. The document is JSON in which the types JSON has keep
//! their plain form (strings, booleans, null, objects, arrays, Int32 as an
//! integer, finite doubles as a number with a fraction or exponent), so the
//! engine's indexes and queries see ordinary values; every other BSON type
//! is written in canonical extended JSON (`{"$numberLong": "5"}`, `{"$oid":
//! ...}`, `{"$date": ...}`), which keeps it exactly. Field order is kept.
//!
//! The item id is derived from `_id`: an ObjectId's hex, a plain string as
//! it is, anything else as `~` and the base64url of its BSON encoding, with
//! numbers reduced to one form so that `1`, `1.0` and `NumberLong(1)` are
//! the same `_id`, as MongoDB compares them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bson::{Bson, Document};
use serde_json::{Map, Number, Value};

use crate::error::{MongoError, Result};

/// The property of an item holding the document.
pub const DOC: &str = "doc";
/// The property of an item holding its place in the collection's natural
/// (insertion) order.
pub const ORDER: &str = "ord";
/// The property of an item that says how its last write changed it
/// (`"update"`; absent for an insert or a replacement).
pub const OP: &str = "op";
/// The property of an item holding the keys of its collection's indexes.
pub const KEYS: &str = "keys";

/// The JSON form of a document for storage.
pub fn to_json(document: &Document) -> Value {
    Value::Object(
        document
            .iter()
            .map(|(k, v)| (escape(k), value_to_json(v)))
            .collect::<Map<_, _>>(),
    )
}

/// Field names starting with `$` would read back as extended JSON types,
/// so they (and names starting with the escape character itself) are
/// stored with a `~` in front.
fn escape(key: &str) -> String {
    if key.starts_with(['$', '~']) {
        format!("~{key}")
    } else {
        key.to_string()
    }
}

fn unescape(value: Bson) -> Bson {
    match value {
        Bson::Document(d) => Bson::Document(unescape_document(d)),
        Bson::Array(items) => Bson::Array(items.into_iter().map(unescape).collect()),
        other => other,
    }
}

fn unescape_document(document: Document) -> Document {
    document
        .into_iter()
        .map(|(k, v)| {
            let key = match k.strip_prefix('~') {
                Some(rest) => rest.to_string(),
                None => k,
            };
            (key, unescape(v))
        })
        .collect()
}

fn value_to_json(value: &Bson) -> Value {
    match value {
        Bson::Int32(i) => Value::Number((*i).into()),
        Bson::Double(f) if f.is_finite() => Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or_else(|| value.clone().into_canonical_extjson()),
        Bson::String(s) => Value::String(s.clone()),
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Null => Value::Null,
        Bson::Document(d) => to_json(d),
        Bson::Array(items) => Value::Array(items.iter().map(value_to_json).collect()),
        other => other.clone().into_canonical_extjson(),
    }
}

/// The document back from its stored JSON.
pub fn from_json(value: &Value) -> Result<Document> {
    match Bson::try_from(value.clone()) {
        Ok(Bson::Document(document)) => Ok(unescape_document(document)),
        Ok(_) => Err(MongoError::internal("a stored document is not an object")),
        Err(e) => Err(MongoError::internal(format!(
            "a stored document cannot be read back: {e}"
        ))),
    }
}

/// The engine item for `document`, which has an `_id`.
pub fn to_item(document: &Document, ttl: Option<i64>, keys: Option<Value>) -> Result<Value> {
    let id = document
        .get("_id")
        .ok_or_else(|| MongoError::internal("a document to store has no _id"))?;
    let mut item = Map::new();
    item.insert("id".into(), Value::String(item_id(id)?));
    item.insert(DOC.into(), to_json(document));
    if let Some(ttl) = ttl {
        item.insert("ttl".into(), Value::from(ttl));
    }
    if let Some(keys) = keys {
        item.insert(KEYS.into(), keys);
    }
    Ok(Value::Object(item))
}

/// The document of a stored engine item.
pub fn from_item(item: &Value) -> Result<Document> {
    from_json(
        item.get(DOC)
            .ok_or_else(|| MongoError::internal("a stored item holds no document"))?,
    )
}

/// The `_id` an item id stands for (the inverse of [`item_id`]).
pub fn id_of_item(id: &str) -> Bson {
    if let Some(encoded) = id.strip_prefix('~') {
        let decoded = URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .and_then(|bytes| Document::from_reader(bytes.as_slice()).ok())
            .and_then(|d| d.get("").cloned());
        if let Some(value) = decoded {
            return value;
        }
    }
    if id.len() == 24 {
        if let Ok(oid) = bson::oid::ObjectId::parse_str(id) {
            return Bson::ObjectId(oid);
        }
    }
    Bson::String(id.to_string())
}

/// The item id for an `_id` value.
pub fn item_id(id: &Bson) -> Result<String> {
    match id {
        Bson::ObjectId(oid) => return Ok(oid.to_hex()),
        Bson::String(s) if is_plain(s) => return Ok(s.clone()),
        Bson::Array(_) => {
            return Err(MongoError::bad_value(
                "can't use an array for _id".to_string(),
            ))
        }
        Bson::RegularExpression(_) => {
            return Err(MongoError::bad_value("can't use a regex for _id"))
        }
        _ => {}
    }
    let normal = normal_number(id).unwrap_or_else(|| id.clone());
    let encoded = bson::doc! {"": normal}
        .to_vec()
        .map_err(|e| MongoError::bad_value(format!("_id cannot be encoded: {e}")))?;
    let text = format!("~{}", URL_SAFE_NO_PAD.encode(&encoded));
    if text.len() > 1020 {
        return Err(MongoError::bad_value("_id is too large"));
    }
    Ok(text)
}

/// Strings that name themselves: not an ObjectId's hex form, not starting
/// with the `~` of encoded ids, and free of what item ids may not hold.
fn is_plain(s: &str) -> bool {
    let object_id_like = s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let refused = s.is_empty()
        || s.len() > 255
        || s.starts_with('~')
        || object_id_like
        || s.contains(['/', '\\', '?', '#'])
        || s.ends_with(' ')
        || s.chars().any(char::is_control);
    !refused
}

/// A value with numbers reduced to one form (others as they are).
pub fn normal_number_or_self(value: &Bson) -> Bson {
    normal_number(value).unwrap_or_else(|| value.clone())
}

/// Numbers as one type, so equal numbers give equal ids.
fn normal_number(value: &Bson) -> Option<Bson> {
    let f = match value {
        Bson::Int32(i) => f64::from(*i),
        Bson::Int64(i) => return Some(Bson::Int64(*i)),
        Bson::Double(f) => *f,
        _ => return None,
    };
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Some(Bson::Int64(f as i64))
    } else {
        Some(Bson::Double(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, DateTime, Decimal128, Timestamp};

    #[test]
    fn every_type_survives_the_round_trip_in_order() {
        let document = doc! {
            "_id": ObjectId::new(),
            "i32": 5, "i64": 5i64, "big": i64::MAX, "double": 5.0, "frac": 0.25,
            "nan": f64::NAN, "inf": f64::INFINITY,
            "date": DateTime::from_millis(1_700_000_000_123),
            "dec": "1.50".parse::<Decimal128>().unwrap(),
            "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 255] },
            "ts": Timestamp { time: 7, increment: 9 },
            "min": Bson::MinKey, "max": Bson::MaxKey, "null": Bson::Null,
            "nested": {"z": [1, [2, {"a": "b"}]], "a": true},
            "$dollar": {"$oid": "not an id", "~tilde": 1, "a.b": 2},
        };
        let json = serde_json::to_string(&to_item(&document, None, None).unwrap()).unwrap();
        let back = from_item(&serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(
            format!("{:?}", back).replace("NaN", "n"),
            format!("{:?}", document).replace("NaN", "n")
        );
        let keys: Vec<_> = back.keys().collect();
        assert_eq!(keys[..3], ["_id", "i32", "i64"]);
        assert!(matches!(back.get("i64"), Some(Bson::Int64(5))));
        assert!(matches!(back.get("double"), Some(Bson::Double(_))));
    }

    #[test]
    fn equal_numbers_are_one_id_and_types_stay_apart() {
        assert_eq!(
            item_id(&Bson::Int32(1)).unwrap(),
            item_id(&Bson::Double(1.0)).unwrap()
        );
        assert_eq!(
            item_id(&Bson::Int64(1)).unwrap(),
            item_id(&Bson::Int32(1)).unwrap()
        );
        assert_ne!(
            item_id(&Bson::Int32(1)).unwrap(),
            item_id(&Bson::String("1".into())).unwrap()
        );
        let oid = ObjectId::new();
        assert_ne!(
            item_id(&Bson::ObjectId(oid)).unwrap(),
            item_id(&Bson::String(oid.to_hex())).unwrap()
        );
        assert!(item_id(&Bson::String("a/b".into()))
            .unwrap()
            .starts_with('~'));
    }
}
