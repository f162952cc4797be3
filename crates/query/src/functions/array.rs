//! Array functions.

use serde_json::Value;

use super::{flag, num};
use crate::value::{canonical, deep_equal, number, Val};

fn array(v: &Val) -> Option<&Vec<Value>> {
    v.as_ref()?.as_array()
}

/// `ARRAY_CONTAINS` with `partial`: an object matches when it has every
/// property of `wanted` with equal values.
fn matches(item: &Value, wanted: &Value, partial: bool) -> bool {
    match (item, wanted, partial) {
        (Value::Object(have), Value::Object(want), true) => want
            .iter()
            .all(|(k, v)| have.get(k).is_some_and(|h| deep_equal(h, v))),
        _ => deep_equal(item, wanted),
    }
}

pub fn call(name: &str, args: &[Val]) -> Option<Val> {
    let first = args.first().and_then(array);
    Some(match name {
        "ARRAY_CONCAT" => {
            let mut out = Vec::new();
            for a in args {
                out.extend(array(a)?.iter().cloned());
            }
            Some(Value::Array(out))
        }
        "ARRAY_CONTAINS" => {
            let (Some(items), Some(Some(wanted)), Some(partial)) =
                (first, args.get(1), flag(args.get(2)))
            else {
                return Some(None);
            };
            Some(Value::Bool(
                items.iter().any(|i| matches(i, wanted, partial)),
            ))
        }
        "ARRAY_CONTAINS_ANY" | "ARRAY_CONTAINS_ALL" => {
            let items = first?;
            let wanted: Vec<&Value> = args[1..].iter().flatten().collect();
            let found = |w: &&Value| items.iter().any(|i| deep_equal(i, w));
            Some(Value::Bool(if name == "ARRAY_CONTAINS_ANY" {
                wanted.iter().any(found)
            } else {
                wanted.iter().all(found)
            }))
        }
        "ARRAY_LENGTH" => first.and_then(|a| number(a.len() as f64)),
        "ARRAY_SLICE" => {
            let items = first?;
            let len = items.len() as i64;
            let start = num(args.get(1)?)?.trunc() as i64;
            let start = if start < 0 {
                (len + start).max(0)
            } else {
                start.min(len)
            };
            let count = match args.get(2) {
                Some(v) => (num(v)?.trunc() as i64).max(0),
                None => len,
            };
            let end = start.saturating_add(count).min(len);
            Some(Value::Array(
                items[start as usize..end.max(start) as usize].to_vec(),
            ))
        }
        "SETINTERSECT" | "SETUNION" => {
            let (a, b) = (first?, args.get(1).and_then(array)?);
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            let in_b: std::collections::HashSet<String> =
                b.iter().map(|v| canonical(&Some(v.clone()))).collect();
            let candidates: Box<dyn Iterator<Item = &Value>> = if name == "SETUNION" {
                Box::new(a.iter().chain(b.iter()))
            } else {
                Box::new(
                    a.iter()
                        .filter(|v| in_b.contains(&canonical(&Some((*v).clone())))),
                )
            };
            for v in candidates {
                if seen.insert(canonical(&Some(v.clone()))) {
                    out.push(v.clone());
                }
            }
            Some(Value::Array(out))
        }
        "OBJECTTOARRAY" => match args.first()? {
            Some(Value::Object(map)) => Some(Value::Array(
                map.iter()
                    .map(|(k, v)| serde_json::json!({"k": k, "v": v}))
                    .collect(),
            )),
            _ => None,
        },
        _ => return None,
    })
}
