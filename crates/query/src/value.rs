//! How the service compares values. Comparing different types yields
//! `undefined` (so `WHERE` drops the row); `ORDER BY` and `MIN`/`MAX` instead
//! order across types: undefined < null < booleans < numbers < strings <
//! arrays < objects.

use std::cmp::Ordering;

use serde_json::Value;

/// A query value: `None` is `undefined`.
pub type Val = Option<Value>;

fn rank(v: &Val) -> u8 {
    match v {
        None => 0,
        Some(Value::Null) => 1,
        Some(Value::Bool(_)) => 2,
        Some(Value::Number(_)) => 3,
        Some(Value::String(_)) => 4,
        Some(Value::Array(_)) => 5,
        Some(Value::Object(_)) => 6,
    }
}

/// Equality as `=` sees it: `None` (undefined) when the types differ or
/// either side is undefined.
pub fn equals(a: &Val, b: &Val) -> Option<bool> {
    match (a, b) {
        (Some(x), Some(y)) if rank(a) == rank(b) => Some(deep_equal(x, y)),
        _ => None,
    }
}

pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| deep_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Ordering as `<`, `>`, `BETWEEN` see it: only between two numbers, two
/// strings, two booleans or two nulls.
pub fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    match (a.as_ref()?, b.as_ref()?) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

/// The total order of `ORDER BY`, across types.
pub fn sort_order(a: &Val, b: &Val) -> Ordering {
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for (p, q) in x.iter().zip(y) {
                let o = sort_order(&Some(p.clone()), &Some(q.clone()));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Some(Value::Object(_)), Some(Value::Object(_))) => canonical(a).cmp(&canonical(b)),
        _ => compare(a, b).unwrap_or(Ordering::Equal),
    })
}

/// A string equal for exactly the values `DISTINCT` and `GROUP BY` treat as
/// equal: object keys sorted, numbers by value.
pub fn canonical(v: &Val) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Number(n) => out.push_str(&format!("n{}", n.as_f64().unwrap_or(0.0))),
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    write(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut keys: Vec<_> = map.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    write(&map[k], out);
                    out.push(',');
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    match v {
        None => out.push('u'),
        Some(v) => write(v, &mut out),
    }
    out
}

/// Truthiness for `WHERE`, `AND`, `OR`, `NOT`: only booleans count.
pub fn as_bool(v: &Val) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// A number as JSON, keeping integers integral.
pub fn number(n: f64) -> Val {
    if !n.is_finite() {
        return None;
    }
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Some(Value::from(n as i64))
    } else {
        serde_json::Number::from_f64(n).map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cross_type_semantics() {
        assert_eq!(equals(&Some(json!(1)), &Some(json!("1"))), None);
        assert_eq!(equals(&Some(json!(1)), &Some(json!(1.0))), Some(true));
        assert_eq!(equals(&None, &None), None);
        assert_eq!(compare(&Some(json!("a")), &Some(json!(1))), None);
        let mut values = vec![
            Some(json!("b")),
            Some(json!(2)),
            None,
            Some(json!(true)),
            Some(Value::Null),
            Some(json!(false)),
            Some(json!("a")),
            Some(json!(1)),
        ];
        values.sort_by(sort_order);
        assert_eq!(
            values,
            vec![
                None,
                Some(Value::Null),
                Some(json!(false)),
                Some(json!(true)),
                Some(json!(1)),
                Some(json!(2)),
                Some(json!("a")),
                Some(json!("b"))
            ]
        );
        assert_eq!(
            canonical(&Some(json!({"b": 1, "a": 2.0}))),
            canonical(&Some(json!({"a": 2, "b": 1.0})))
        );
    }
}
