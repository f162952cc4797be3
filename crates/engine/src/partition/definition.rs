use serde_json::{json, Value};

use super::value::PartitionKeyValue;
use crate::error::{EngineError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKeyKind {
    Hash,
    /// Hierarchical partition keys: up to three paths, each hashed on its own.
    MultiHash,
}

/// A container's `partitionKey` property.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionKeyDefinition {
    pub paths: Vec<String>,
    pub kind: PartitionKeyKind,
    /// Hash version: 1 (MurmurHash3-32) or 2 (MurmurHash3-128).
    pub version: u8,
}

/// Most paths a hierarchical partition key may have.
const MAX_MULTI_HASH_PATHS: usize = 3;

impl PartitionKeyDefinition {
    /// Validates the `partitionKey` object of a container body.
    pub fn from_json(value: &Value) -> Result<Self> {
        let bad =
            |m: &str| EngineError::bad_request(format!("Invalid partition key definition: {m}"));
        let obj = value
            .as_object()
            .ok_or_else(|| bad("it must be an object"))?;
        let paths: Vec<String> = obj
            .get("paths")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("'paths' must be an array of strings"))?
            .iter()
            .map(|p| p.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("'paths' must be an array of strings"))?;
        let kind = match obj.get("kind").and_then(Value::as_str).unwrap_or("Hash") {
            "Hash" => PartitionKeyKind::Hash,
            "MultiHash" => PartitionKeyKind::MultiHash,
            other => return Err(bad(&format!("kind '{other}' is not supported"))),
        };
        let version = match obj.get("version") {
            None | Some(Value::Null) => {
                if kind == PartitionKeyKind::MultiHash {
                    2
                } else {
                    1
                }
            }
            Some(v) => match v.as_u64() {
                Some(1) => 1,
                Some(2) => 2,
                _ => return Err(bad("'version' must be 1 or 2")),
            },
        };
        match kind {
            // "Too many partition key paths" is the service's wording.
            PartitionKeyKind::Hash if paths.len() > 1 => {
                return Err(bad(
                    "Too many partition key paths: a Hash partition key has one path",
                ))
            }
            PartitionKeyKind::MultiHash if paths.len() > MAX_MULTI_HASH_PATHS => {
                return Err(bad(
                    "Too many partition key paths: a MultiHash partition key has at most three",
                ))
            }
            _ if paths.is_empty() => return Err(bad("'paths' must name at least one path")),
            PartitionKeyKind::MultiHash if version != 2 => {
                return Err(bad("a MultiHash partition key requires version 2"))
            }
            _ => {}
        }
        for path in &paths {
            split_path(path)?;
        }
        Ok(Self {
            paths,
            kind,
            version,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "paths": self.paths,
            "kind": match self.kind {
                PartitionKeyKind::Hash => "Hash",
                PartitionKeyKind::MultiHash => "MultiHash",
            },
            "version": self.version,
        })
    }

    /// The partition key components of a document, one per path.
    pub fn extract(&self, document: &Value) -> Result<Vec<PartitionKeyValue>> {
        self.paths
            .iter()
            .map(|path| {
                let mut current = Some(document);
                for segment in split_path(path)? {
                    current = current
                        .and_then(|v| v.as_object())
                        .and_then(|o| o.get(&segment));
                }
                Ok(PartitionKeyValue::from_document(current))
            })
            .collect()
    }

    /// Checks a full key (one value per path) from a request header. The
    /// empty key `[]` is the key of legacy containers without one; on a
    /// container with partition key paths it addresses nothing, and items
    /// without the paths are addressed as undefined (`[{}]`).
    pub fn check_full_key(&self, key: &[PartitionKeyValue]) -> Result<()> {
        if key.len() == self.paths.len() {
            return Ok(());
        }
        Err(EngineError::bad_request(
            "Partition key provided either doesn't correspond to definition in the collection \
             or doesn't match partition key field values specified in the document.",
        )
        .with_substatus(crate::error::substatus::PARTITION_KEY_MISMATCH))
    }
}

/// Splits `/a/b` or `/"quoted name"/c` into its segments.
pub(crate) fn split_path(path: &str) -> Result<Vec<String>> {
    let bad = || {
        EngineError::bad_request(format!(
            "Invalid partition key path '{path}': it must start with '/' and name a property."
        ))
    };
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(bad());
    }
    let mut segments = Vec::new();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        let mut segment = String::new();
        if let Some(&quote @ ('"' | '\'')) = chars.peek() {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => segment.push(chars.next().ok_or_else(bad)?),
                    Some(c) if c == quote => break,
                    Some(c) => segment.push(c),
                    None => return Err(bad()),
                }
            }
            match chars.next() {
                None | Some('/') => {}
                Some(_) => return Err(bad()),
            }
        } else {
            for c in chars.by_ref() {
                if c == '/' {
                    break;
                }
                segment.push(c);
            }
        }
        if segment.is_empty() {
            return Err(bad());
        }
        segments.push(segment);
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_nested_and_missing_paths() {
        let def = PartitionKeyDefinition::from_json(
            &json!({"paths": ["/a/b", "/c"], "kind": "MultiHash", "version": 2}),
        )
        .expect("valid");
        let key = def.extract(&json!({"a": {"b": "x"}})).expect("extract");
        assert_eq!(
            key,
            vec![
                PartitionKeyValue::String("x".into()),
                PartitionKeyValue::Undefined
            ]
        );
        // A path that holds an object or an array is undefined too.
        for holder in [
            json!({"a": {"b": {"x": 1}}, "c": [1]}),
            json!({"a": "flat", "c": {}}),
        ] {
            let key = def.extract(&holder).expect("extract");
            assert_eq!(key, vec![PartitionKeyValue::Undefined; 2], "{holder}");
        }
    }

    #[test]
    fn rejects_bad_definitions() {
        for bad in [
            json!({"paths": []}),
            json!({"paths": ["a"]}),
            json!({"paths": ["/a", "/b"], "kind": "Hash"}),
            json!({"paths": ["/a","/b","/c","/d"], "kind": "MultiHash", "version": 2}),
            json!({"paths": ["/a"], "kind": "Range"}),
        ] {
            assert!(PartitionKeyDefinition::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoted_paths() {
        assert_eq!(split_path(r#"/"a b"/c"#).expect("split"), vec!["a b", "c"]);
    }

    #[test]
    fn missing_version_is_v1_for_hash() {
        let def = PartitionKeyDefinition::from_json(&json!({"paths": ["/pk"]})).expect("valid");
        assert_eq!(def.version, 1);
    }
}
