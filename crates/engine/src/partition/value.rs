use serde_json::Value;

use crate::error::{EngineError, Result};

/// Longest partition key value the service accepts, in bytes.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;

/// One component of a partition key as the service models it: JSON scalars
/// plus `Undefined`, the value of a path the document does not have.
#[derive(Debug, Clone, PartialEq)]
pub enum PartitionKeyValue {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
}

impl PartitionKeyValue {
    /// The component found in a document at a partition key path. A path
    /// that is missing, or that holds an object or an array, is undefined
    /// for the document, as on the service.
    pub fn from_document(value: Option<&Value>) -> Self {
        value.and_then(Self::from_json).unwrap_or(Self::Undefined)
    }

    fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(Self::Null),
            Value::Bool(b) => Some(Self::Bool(*b)),
            Value::Number(n) => n.as_f64().map(Self::Number),
            Value::String(s) => Some(Self::String(s.clone())),
            Value::Array(_) => None,
            // `{}` is how the wire protocol spells Undefined.
            Value::Object(o) if o.is_empty() => Some(Self::Undefined),
            Value::Object(_) => None,
        }
    }

    /// The JSON form used in headers and in `partitionKey` response fields.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Undefined => Value::Object(Default::default()),
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => serde_json::Number::from_f64(*n)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Self::String(s) => Value::String(s.clone()),
        }
    }
}

/// Parses `x-ms-documentdb-partitionkey`: a JSON array of components. An empty
/// array is the "none" key of containers written without one and reads as Undefined.
pub fn parse_partition_key_header(header: &str) -> Result<Vec<PartitionKeyValue>> {
    let invalid = || {
        EngineError::bad_request(format!(
            "Partition key {header} is invalid. It must be a JSON array of strings, numbers, \
             booleans, null or {{}}."
        ))
    };
    let parsed: Value = serde_json::from_str(header).map_err(|_| invalid())?;
    let items = parsed.as_array().ok_or_else(invalid)?;
    let values = items
        .iter()
        .map(|v| PartitionKeyValue::from_json(v).ok_or_else(invalid))
        .collect::<Result<Vec<_>>>()?;
    for v in &values {
        if let PartitionKeyValue::String(s) = v {
            if s.len() > MAX_PARTITION_KEY_BYTES {
                return Err(EngineError::bad_request(format!(
                    "Partition key value is too large: {} bytes, at most {MAX_PARTITION_KEY_BYTES}.",
                    s.len()
                )));
            }
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        assert_eq!(
            parse_partition_key_header(r#"["a"]"#).expect("parse"),
            vec![PartitionKeyValue::String("a".into())]
        );
        assert_eq!(
            parse_partition_key_header("[{}]").expect("parse"),
            vec![PartitionKeyValue::Undefined]
        );
        assert_eq!(
            parse_partition_key_header("[null, 5, true]").expect("parse"),
            vec![
                PartitionKeyValue::Null,
                PartitionKeyValue::Number(5.0),
                PartitionKeyValue::Bool(true)
            ]
        );
        assert!(parse_partition_key_header("a").is_err());
        assert!(parse_partition_key_header(r#"[{"a":1}]"#).is_err());
        assert!(parse_partition_key_header("[[1]]").is_err());
    }
}
