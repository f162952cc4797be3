//! The rules an indexing policy must follow, checked on container create and
//! replace with the service's messages: the mode, the paths' syntax, the
//! mandatory root path, composite and spatial indexes. (Vector and
//! full-text indexes are checked with their policies, in
//! `container_policies`.)

use serde_json::{Map, Value};

use crate::error::{EngineError, Result};

const MODES: [&str; 3] = ["consistent", "lazy", "none"];
const ORDERS: [&str; 2] = ["ascending", "descending"];
const SPATIAL_TYPES: [&str; 4] = ["Point", "Polygon", "LineString", "MultiPolygon"];

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::bad_request(message)
}

/// What the service answers for a property of the wrong JSON type.
fn invalid_input() -> EngineError {
    invalid("One of the specified inputs is invalid")
}

fn list<'a>(policy: &'a Map<String, Value>, key: &str) -> Result<Option<&'a [Value]>> {
    match policy.get(key).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => v
            .as_array()
            .map(|l| Some(l.as_slice()))
            .ok_or_else(invalid_input),
    }
}

/// The `path` of each entry of a path list.
fn paths(entries: &[Value]) -> Result<Vec<&str>> {
    entries
        .iter()
        .map(|entry| {
            entry
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(invalid_input)
        })
        .collect()
}

/// Checks `indexingPolicy` as the service does; `Ok` for what it accepts.
pub(crate) fn check(policy: &Value) -> Result<()> {
    let Some(policy) = policy.as_object() else {
        return if policy.is_null() {
            Ok(())
        } else {
            Err(invalid_input())
        };
    };
    let mode = match policy.get("indexingMode").filter(|v| !v.is_null()) {
        None => "consistent".to_string(),
        Some(mode) => mode
            .as_str()
            .ok_or_else(invalid_input)?
            .to_ascii_lowercase(),
    };
    if !MODES.contains(&mode.as_str()) {
        return Err(invalid(format!(
            "The indexing mode '{}' is invalid. Valid values are 'consistent', 'lazy' and 'none'.",
            policy["indexingMode"].as_str().unwrap_or_default()
        )));
    }
    let automatic = match policy.get("automatic").filter(|v| !v.is_null()) {
        None => None,
        Some(value) => Some(value.as_bool().ok_or_else(invalid_input)?),
    };
    if mode == "none" && automatic == Some(true) {
        return Err(invalid(
            "Indexing mode value cannot be 'none' when automatic indexing is specified as 'true'.",
        ));
    }
    let included = list(policy, "includedPaths")?.map(paths).transpose()?;
    let excluded = list(policy, "excludedPaths")?.map(paths).transpose()?;
    for path in included.iter().chain(excluded.iter()).flatten() {
        check_path(path)?;
    }
    // Without included paths the service indexes everything (`/*`); a
    // policy that lists some must say what happens to the root.
    if let (Some(included), false) = (&included, mode == "none") {
        let root = |p: &&str| matches!(*p, "/*" | "/");
        if !included.iter().any(root) && !excluded.iter().flatten().any(root) {
            return Err(invalid(
                "The special mandatory indexing path \"/\" is not provided in any of the path type \
                 sets. Please provide this path in one of the sets.",
            ));
        }
    }
    for composite in list(policy, "compositeIndexes")?.unwrap_or_default() {
        check_composite(composite)?;
    }
    for spatial in list(policy, "spatialIndexes")?.unwrap_or_default() {
        check_spatial(spatial)?;
    }
    Ok(())
}

/// A path is `/`, then labels (quoted or plain) or `[]`, separated by `/`,
/// ending in `/?` (the value there) or `/*` (everything below).
fn check_path(path: &str) -> Result<()> {
    if path == "/" || path == "/*" {
        return Ok(());
    }
    let refuse = |at: usize| {
        invalid(format!(
            "The indexing path '{path}' could not be accepted, failed near position '{at}'. \
             Please ensure that the path is a valid path. Common errors include invalid \
             characters or absence of quotes around labels."
        ))
    };
    if path == "/?" {
        return Err(invalid(format!(
            "The indexing path '{path}' could not be accepted. Please ensure that the path has \
             at least one label before its '?' or '*'."
        )));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(refuse(0));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let Some((last, labels)) = segments.split_last() else {
        return Err(refuse(path.len()));
    };
    let mut at = 1;
    for label in labels {
        let quoted = label.len() >= 2 && label.starts_with('"') && label.ends_with('"');
        let plain = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '$' || c == '@');
        if !(quoted || plain || *label == "[]") {
            return Err(refuse(at));
        }
        at += label.len() + 1;
    }
    if !matches!(*last, "?" | "*") {
        return Err(refuse(path.len()));
    }
    Ok(())
}

fn check_composite(composite: &Value) -> Result<()> {
    let paths = composite.as_array().ok_or_else(invalid_input)?;
    if paths.len() < 2 {
        return Err(invalid(
            "A composite index must have at least 2 paths; a single path is served by the range \
             index every included path has.",
        ));
    }
    for entry in paths {
        let entry = entry.as_object().ok_or_else(invalid_input)?;
        let path = entry
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(invalid_input)?;
        if path.contains('*') || path.ends_with("/?") || !path.starts_with('/') {
            return Err(invalid(format!(
                "The composite index path '{path}' is invalid: it must name one property, such \
                 as /name, without a wildcard."
            )));
        }
        if let Some(order) = entry.get("order").filter(|v| !v.is_null()) {
            let order = order.as_str().ok_or_else(invalid_input)?;
            if !ORDERS.iter().any(|o| o.eq_ignore_ascii_case(order)) {
                return Err(invalid(format!(
                    "The composite index order '{order}' of path '{path}' is invalid. Valid \
                     values are 'ascending' and 'descending'."
                )));
            }
        }
    }
    Ok(())
}

fn check_spatial(spatial: &Value) -> Result<()> {
    let spatial = spatial.as_object().ok_or_else(invalid_input)?;
    let path = spatial
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(invalid_input)?;
    check_path(path)?;
    let types = spatial
        .get("types")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if types.is_empty() {
        return Err(invalid(format!(
            "The spatial data types array cannot be empty. Assign at least one spatial type for \
             the 'types' array for the path '{path}'."
        )));
    }
    for kind in types {
        let kind = kind.as_str().ok_or_else(invalid_input)?;
        if !SPATIAL_TYPES.iter().any(|t| t.eq_ignore_ascii_case(kind)) {
            return Err(invalid(format!(
                "The spatial data type '{kind}' of path '{path}' is invalid. Valid values are \
                 'Point', 'Polygon', 'LineString' and 'MultiPolygon'."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(policy: Value) -> String {
        check(&policy).expect_err("refused").message
    }

    #[test]
    fn policies_the_sdks_send_are_accepted() {
        for policy in [
            json!({}),
            json!({"indexingMode": "Consistent", "automatic": true}),
            json!({"indexingMode": "none", "automatic": false}),
            json!({"includedPaths": [{"path": "/", "indexes": [{"kind": "Hash"}]}]}),
            json!({"includedPaths": [{"path": "/a/?"}, {"path": "/b/[]/\"c d\"/*"}],
                   "excludedPaths": [{"path": "/*"}, {"path": "/\"_etag\"/?"}]}),
            json!({"excludedPaths": [{"path": "/\"systemMetadata\"/*"}]}),
            json!({"compositeIndexes": [[{"path": "/a", "order": "ascending"},
                                         {"path": "/b", "order": "Descending"}]],
                   "spatialIndexes": [{"path": "/loc/*", "types": ["Point", "Polygon"]}]}),
        ] {
            assert!(check(&policy).is_ok(), "{policy}");
        }
    }

    #[test]
    fn what_the_service_refuses_is_refused_with_its_message() {
        assert!(refused(json!({"indexingMode": "bogus"})).contains("'bogus' is invalid"));
        assert!(refused(json!({"indexingMode": "none", "automatic": true}))
            .contains("cannot be 'none' when automatic"));
        assert!(refused(json!({"includedPaths": [{"path": "nope"}]}))
            .contains("failed near position '0'"));
        assert!(refused(
            json!({"includedPaths": [{"path": "/*"}], "excludedPaths": [{"path": "/expiration"}]})
        )
        .contains("failed near position '11'"));
        assert!(refused(json!({"includedPaths": [{"path": "/?"}]})).contains("has at least"));
        assert!(
            refused(json!({"includedPaths": [{"path": "/a/?"}], "excludedPaths": []}))
                .contains("mandatory indexing path")
        );
        assert!(refused(json!({"includedPaths": "x"})).contains("specified inputs"));
        assert!(refused(json!({"compositeIndexes": [[{"path": "/a"}]]})).contains("at least 2"));
        assert!(
            refused(json!({"compositeIndexes": [[{"path": "/a"}, {"path": "/b/*"}]]}))
                .contains("wildcard")
        );
        assert!(
            refused(json!({"spatialIndexes": [{"path": "/loc/*", "types": []}]}))
                .contains("cannot be empty")
        );
    }
}
