//! Previous images in the all-versions-and-deletes change feed. The service
//! records the version a replace or delete overwrote only where the
//! container opts in, per operation, through
//! `previousImageRetentionPolicy.supportedFeatures.allVersionsAndDeletes`:
//! `mode` is a set of flags (1: replaces, 2: deletes), and `includedPaths`,
//! when given, keeps only those paths of the previous image.

use serde_json::{Map, Value};

use crate::error::{EngineError, Result};

const POLICY: &str = "/previousImageRetentionPolicy/supportedFeatures/allVersionsAndDeletes";
const ON_REPLACE: u64 = 0x01;
const ON_DELETE: u64 = 0x02;

/// Which writes keep the version they overwrote, and which of its paths.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct PreviousImages {
    pub on_replace: bool,
    pub on_delete: bool,
    /// Paths kept, each as its segments; all of the document when empty.
    included: Vec<Vec<String>>,
}

impl PreviousImages {
    /// The policy of a container's stored properties (checked when stored).
    pub fn of_container(body: &Value) -> Self {
        parse(body).unwrap_or_default()
    }

    /// What the change record keeps of `document` as its previous image.
    pub fn image_of(&self, document: &Value) -> Value {
        if self.included.is_empty() {
            return document.clone();
        }
        let mut kept = Map::new();
        if let Some(id) = document.get("id") {
            kept.insert("id".into(), id.clone());
        }
        for path in &self.included {
            copy_path(document, &mut kept, path);
        }
        Value::Object(kept)
    }
}

/// Checks the policy a container create or replace sends.
pub(crate) fn check(body: &Value) -> Result<()> {
    parse(body).map(|_| ())
}

fn parse(body: &Value) -> Result<PreviousImages> {
    let invalid = |why: &str| {
        EngineError::bad_request(format!(
            "The previousImageRetentionPolicy is invalid: {why}."
        ))
    };
    let Some(feature) = body.pointer(POLICY).filter(|v| !v.is_null()) else {
        return Ok(PreviousImages::default());
    };
    let feature = feature
        .as_object()
        .ok_or_else(|| invalid("allVersionsAndDeletes must be an object"))?;
    let mode = match feature.get("mode") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .filter(|m| *m <= ON_REPLACE | ON_DELETE)
            .ok_or_else(|| {
                invalid("mode must be 0 (disabled), 1 (replaces), 2 (deletes) or 3 (both)")
            })?,
    };
    let included = match feature.get("includedPaths") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(paths)) => paths
            .iter()
            .map(|p| {
                p.as_str()
                    .filter(|p| p.starts_with('/') && p.len() > 1)
                    .map(|p| p[1..].split('/').map(str::to_string).collect())
                    .ok_or_else(|| {
                        invalid("each included path must be a path such as /address/city")
                    })
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(invalid("includedPaths must be a list of paths")),
    };
    Ok(PreviousImages {
        on_replace: mode & ON_REPLACE != 0,
        on_delete: mode & ON_DELETE != 0,
        included,
    })
}

/// Copies the value at `path` of `from` into `into`, making the objects on the way.
fn copy_path(from: &Value, into: &mut Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(value) = from.get(first) else {
        return;
    };
    if rest.is_empty() {
        into.insert(first.clone(), value.clone());
        return;
    }
    let slot = into
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(inner) = slot {
        copy_path(value, inner, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(feature: Value) -> Value {
        json!({"previousImageRetentionPolicy": {"supportedFeatures": {"allVersionsAndDeletes": feature}}})
    }

    #[test]
    fn modes_are_flags() {
        assert_eq!(
            PreviousImages::of_container(&json!({})),
            PreviousImages::default()
        );
        let both = PreviousImages::of_container(&policy(json!({"mode": 3})));
        assert!(both.on_replace && both.on_delete);
        let deletes = PreviousImages::of_container(&policy(json!({"mode": 2})));
        assert!(!deletes.on_replace && deletes.on_delete);
        assert!(check(&policy(json!({"mode": 4}))).is_err());
        assert!(check(&policy(json!({"mode": "all"}))).is_err());
        assert!(check(&policy(json!({"mode": 1, "includedPaths": ["x"]}))).is_err());
    }

    #[test]
    fn included_paths_narrow_the_image() {
        let images = PreviousImages::of_container(&policy(
            json!({"mode": 1, "includedPaths": ["/a/b", "/c"]}),
        ));
        let document = json!({"id": "1", "a": {"b": 1, "x": 2}, "c": [1], "d": 4});
        assert_eq!(
            images.image_of(&document),
            json!({"id": "1", "a": {"b": 1}, "c": [1]})
        );
    }
}
