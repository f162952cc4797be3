//! Input rules the service enforces on ids and documents.

use serde_json::Value;

use crate::error::{EngineError, Result};

/// Largest document the service stores, in bytes of JSON.
pub const MAX_ITEM_BYTES: usize = 2 * 1024 * 1024;
/// Longest item id, in bytes.
pub const MAX_ITEM_ID_BYTES: usize = 1023;
/// Longest database or container id, in characters.
pub const MAX_RESOURCE_ID_CHARS: usize = 255;

const FORBIDDEN_ID_CHARS: [char; 4] = ['/', '\\', '?', '#'];

/// The `id` of a request body: present, a string, and a legal name.
pub fn body_id(body: &Value, max_len: usize, counts_bytes: bool) -> Result<String> {
    let obj = body.as_object().ok_or_else(|| {
        EngineError::bad_request("The input content is invalid: the body must be a JSON object.")
    })?;
    let id = match obj.get("id") {
        None => return Err(EngineError::bad_request(
            "The input content is invalid because the required properties - 'id; ' - are missing",
        )),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(EngineError::bad_request(
                "The input content is invalid: the property 'id' must be a string.",
            ))
        }
    };
    check_id(&id, max_len, counts_bytes)?;
    Ok(id)
}

pub fn check_id(id: &str, max_len: usize, counts_bytes: bool) -> Result<()> {
    let len = if counts_bytes {
        id.len()
    } else {
        id.chars().count()
    };
    let bad = id.is_empty()
        || len > max_len
        || id.ends_with(' ')
        || id.contains(FORBIDDEN_ID_CHARS)
        || id.chars().any(char::is_control);
    if bad {
        // The service's numbers, word for word: items "less than '1024'"
        // (1023 bytes allowed), other resources "less than '255'" (255
        // characters allowed).
        let stated = if max_len == MAX_ITEM_ID_BYTES {
            max_len + 1
        } else {
            max_len
        };
        return Err(EngineError::bad_request(format!(
            "The input name '{id}' is invalid. Ensure to provide a unique non-empty string less \
             than '{stated}' characters. Ensure the name does not contain any of the following \
             characters: '/', '\\\\', '?', '#' and does not end with a space."
        )));
    }
    Ok(())
}

pub fn check_item_size(bytes: usize) -> Result<()> {
    if bytes > MAX_ITEM_BYTES {
        return Err(EngineError::too_large(format!(
            "Request size is too large: the document is {bytes} bytes and the limit is {MAX_ITEM_BYTES} bytes."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn id_rules() {
        for bad in ["", "a/b", "a\\b", "a?b", "a#b", "trailing ", "tab\t"] {
            assert!(check_id(bad, 255, false).is_err(), "{bad:?}");
        }
        assert!(check_id(&"x".repeat(255), 255, false).is_ok());
        assert!(check_id(&"x".repeat(256), 255, false).is_err());
        assert!(body_id(&json!({"id": 5}), 255, false).is_err());
        assert!(body_id(&json!([1]), 255, false).is_err());
        assert_eq!(body_id(&json!({"id": "ok"}), 255, false).expect("id"), "ok");
    }
}
