//! Partial document update: the service's JSON-Patch-like operations
//! (`add`, `set`, `replace`, `remove`, `incr`, `move`) applied in order to
//! one document; any failing operation fails the whole patch.
//!
//! Paths are JSON pointers (`/a/0/b`, `~1` for `/`, `~0` for `~`); the last
//! step may be `-`, the end of an array. `add` inserts into arrays and
//! overwrites properties; `set` overwrites array elements too; `replace`
//! and `remove` need the target to exist; `incr` adds to a number or
//! creates it; `move` removes `from` and adds it at `path`.

use serde_json::Value;

use crate::error::{EngineError, Result};

/// The service accepts at most this many operations in one patch.
pub const MAX_OPERATIONS: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub enum PatchOperation {
    Add {
        path: Vec<String>,
        value: Value,
    },
    Set {
        path: Vec<String>,
        value: Value,
    },
    Replace {
        path: Vec<String>,
        value: Value,
    },
    Remove {
        path: Vec<String>,
    },
    Increment {
        path: Vec<String>,
        by: Value,
    },
    Move {
        from: Vec<String>,
        path: Vec<String>,
    },
}

/// A patch's `condition` (`FROM c WHERE ...`), as a query to run on the item.
pub fn parse_condition(filter: &str) -> Result<cosmonaut_query::Query> {
    let invalid = |e: cosmonaut_query::QueryError| bad(format!("Invalid patch condition: {e}"));
    let query = cosmonaut_query::parse(&format!("SELECT * {filter}")).map_err(invalid)?;
    query
        .validate(&cosmonaut_query::Parameters::new())
        .map_err(invalid)?;
    Ok(query)
}

fn bad(message: impl Into<String>) -> EngineError {
    EngineError::bad_request(message)
}

/// Reads the operations of a patch request body: `{"operations": [...]}`
/// (with an optional `condition`, read by the caller) or a bare list.
pub fn parse_operations(body: &Value) -> Result<Vec<PatchOperation>> {
    let list = match body {
        Value::Array(list) => list,
        Value::Object(map) => map
            .get("operations")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("The patch request has no 'operations' list."))?,
        _ => return Err(bad("The patch request body must be an object or a list.")),
    };
    if list.is_empty() {
        return Err(bad("The patch request has no operations."));
    }
    if list.len() > MAX_OPERATIONS {
        return Err(bad(format!(
            "A patch request can have at most {MAX_OPERATIONS} operations; this one has {}.",
            list.len()
        )));
    }
    list.iter().map(parse_operation).collect()
}

fn parse_operation(op: &Value) -> Result<PatchOperation> {
    let text = |key: &str| {
        op.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("A patch operation needs a string '{key}'.")))
    };
    let path = pointer(text("path")?)?;
    let value = || {
        op.get("value").cloned().ok_or_else(|| {
            bad(format!(
                "The patch operation on '{}' needs a 'value'.",
                join(&path)
            ))
        })
    };
    Ok(match text("op")?.to_ascii_lowercase().as_str() {
        "add" => PatchOperation::Add {
            value: value()?,
            path,
        },
        "set" => PatchOperation::Set {
            value: value()?,
            path,
        },
        "replace" => PatchOperation::Replace {
            value: value()?,
            path,
        },
        "remove" => PatchOperation::Remove { path },
        "incr" | "increment" => {
            let by = value()?;
            if !by.is_number() {
                return Err(bad(format!(
                    "The increment of '{}' must be a number.",
                    join(&path)
                )));
            }
            PatchOperation::Increment { by, path }
        }
        "move" => PatchOperation::Move {
            from: pointer(text("from")?)?,
            path,
        },
        other => return Err(bad(format!("'{other}' is not a patch operation."))),
    })
}

/// A JSON pointer's steps, unescaped.
fn pointer(text: &str) -> Result<Vec<String>> {
    let rest = text
        .strip_prefix('/')
        .filter(|r| !r.is_empty())
        .ok_or_else(|| bad(format!("'{text}' is not a valid patch path.")))?;
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn join(path: &[String]) -> String {
    path.iter().map(|s| format!("/{s}")).collect()
}

/// Applies `operations` to `document` in order.
pub fn apply(document: &mut Value, operations: &[PatchOperation]) -> Result<()> {
    for op in operations {
        match op {
            PatchOperation::Add { path, value } => insert(document, path, value.clone(), true)?,
            PatchOperation::Set { path, value } => insert(document, path, value.clone(), false)?,
            PatchOperation::Replace { path, value } => {
                *existing(document, path)? = value.clone();
            }
            PatchOperation::Remove { path } => {
                take(document, path)?;
            }
            PatchOperation::Increment { path, by } => increment(document, path, by)?,
            PatchOperation::Move { from, path } => {
                if path.starts_with(from) && path != from {
                    return Err(bad(format!(
                        "Cannot move '{}' into itself ('{}').",
                        join(from),
                        join(path)
                    )));
                }
                let value = take(document, from)?;
                insert(document, path, value, true)?;
            }
        }
    }
    Ok(())
}

fn missing(path: &[String]) -> EngineError {
    bad(format!("The patch path '{}' does not exist.", join(path)))
}

/// The container one step above `path`'s target, and the last step.
fn parent<'d>(document: &'d mut Value, path: &[String]) -> Result<(&'d mut Value, String)> {
    let (last, steps) = path.split_last().ok_or_else(|| missing(path))?;
    let mut at = document;
    for (i, step) in steps.iter().enumerate() {
        at = match at {
            Value::Object(map) => map.get_mut(step),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|n| items.get_mut(n)),
            _ => None,
        }
        .ok_or_else(|| missing(&path[..=i]))?;
    }
    Ok((at, last.clone()))
}

fn existing<'d>(document: &'d mut Value, path: &[String]) -> Result<&'d mut Value> {
    let (at, last) = parent(document, path)?;
    match at {
        Value::Object(map) => map.get_mut(&last),
        Value::Array(items) => last.parse::<usize>().ok().and_then(|n| items.get_mut(n)),
        _ => None,
    }
    .ok_or_else(|| missing(path))
}

fn take(document: &mut Value, path: &[String]) -> Result<Value> {
    let (at, last) = parent(document, path)?;
    match at {
        Value::Object(map) => map.remove(&last),
        Value::Array(items) => last
            .parse::<usize>()
            .ok()
            .filter(|n| *n < items.len())
            .map(|n| items.remove(n)),
        _ => None,
    }
    .ok_or_else(|| missing(path))
}

/// `add` (`inserting`) or `set`: a property is written either way; in an
/// array, `add` inserts before the index and `set` overwrites it; `-` or
/// the length appends.
fn insert(document: &mut Value, path: &[String], value: Value, inserting: bool) -> Result<()> {
    let (at, last) = parent(document, path)?;
    match at {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|n| *n <= items.len())
                    .ok_or_else(|| missing(path))?
            };
            if index == items.len() {
                items.push(value);
            } else if inserting {
                items.insert(index, value);
            } else {
                items[index] = value;
            }
            Ok(())
        }
        _ => Err(missing(path)),
    }
}

fn increment(document: &mut Value, path: &[String], by: &Value) -> Result<()> {
    let (at, last) = parent(document, path)?;
    let target = match at {
        Value::Object(map) if !map.contains_key(&last) => {
            // A property that is not there starts at the increment.
            map.insert(last, by.clone());
            return Ok(());
        }
        Value::Object(map) => map.get_mut(&last),
        Value::Array(items) => last.parse::<usize>().ok().and_then(|n| items.get_mut(n)),
        _ => None,
    }
    .ok_or_else(|| missing(path))?;
    let (Value::Number(current), Value::Number(step)) = (&*target, by) else {
        return Err(bad(format!(
            "The patch path '{}' does not hold a number to increment.",
            join(path)
        )));
    };
    let sum = match (current.as_i64(), step.as_i64()) {
        (Some(a), Some(b)) => a.checked_add(b).map_or_else(
            || serde_json::Number::from_f64(a as f64 + b as f64),
            |n| Some(n.into()),
        ),
        _ => serde_json::Number::from_f64(
            current.as_f64().unwrap_or(0.0) + step.as_f64().unwrap_or(0.0),
        ),
    };
    // A sum past the largest double has no JSON form: the service refuses
    // the operation rather than store something else.
    *target = Value::Number(sum.ok_or_else(|| {
        bad(format!(
            "The patch increment of '{}' overflows: the result is beyond the range of a number.",
            join(path)
        ))
    })?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(doc: Value, ops: Value) -> Result<Value> {
        let mut doc = doc;
        apply(&mut doc, &parse_operations(&ops)?)?;
        Ok(doc)
    }

    #[test]
    fn operations_follow_the_service() {
        let doc = json!({"a": 1, "arr": [1, 2], "o": {"x": "y"}, "f": 1.5, "t~/": 0});
        let out = patched(
            doc.clone(),
            json!([
                {"op": "add", "path": "/arr/0", "value": 0},
                {"op": "add", "path": "/arr/-", "value": 3},
                {"op": "set", "path": "/arr/1", "value": 10},
                {"op": "replace", "path": "/o/x", "value": "z"},
                {"op": "remove", "path": "/a"},
                {"op": "incr", "path": "/f", "value": 1},
                {"op": "incr", "path": "/n", "value": 5},
                {"op": "incr", "path": "/t~0~1", "value": 2},
                {"op": "move", "from": "/o", "path": "/moved"},
            ]),
        )
        .expect("patch");
        assert_eq!(
            out,
            json!({"arr": [0, 10, 2, 3], "moved": {"x": "z"}, "f": 2.5, "n": 5, "t~/": 2})
        );
        for bad_ops in [
            json!([{"op": "replace", "path": "/missing", "value": 1}]),
            json!([{"op": "remove", "path": "/arr/5"}]),
            json!([{"op": "add", "path": "/no/such", "value": 1}]),
            json!([{"op": "incr", "path": "/o", "value": 1}]),
            json!([{"op": "incr", "path": "/a", "value": "x"}]),
            json!([{"op": "move", "from": "/o", "path": "/o/inner"}]),
            json!([{"op": "copy", "from": "/a", "path": "/b"}]),
            json!([{"op": "add", "path": "", "value": 1}]),
            json!([]),
            json!({"operations": (0..11).map(|i| json!({"op": "set", "path": format!("/k{i}"), "value": i})).collect::<Vec<_>>()}),
        ] {
            assert!(patched(doc.clone(), bad_ops.clone()).is_err(), "{bad_ops}");
        }
        let overflow = json!([{"op": "incr", "path": "/big", "value": 1.7e308}]);
        assert!(patched(json!({"big": 1.7e308}), overflow).is_err());
    }
}
