//! Aggregation expressions (`"$field"`, `{$add: [...]}`, literals), as
//! `$expr`, `$project`, `$group` and friends evaluate them.

use bson::{Bson, Document};

use crate::compare::{as_f64, compare, equal};
use crate::error::{MongoError, Result};
use crate::path::expression_value;

/// MongoDB's truthiness: false, null, undefined and zero are false.
pub fn truthy(value: &Bson) -> bool {
    match value {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        other => as_f64(other).is_none_or(|f| f != 0.0),
    }
}

/// Evaluates `expr` against `root` (the current document).
pub fn eval(expr: &Bson, root: &Document) -> Result<Bson> {
    match expr {
        Bson::String(s) if s.starts_with("$$") => variable(&s[2..], root),
        Bson::String(s) if s.starts_with('$') => Ok(expression_value(root, &s[1..])),
        Bson::Array(items) => Ok(Bson::Array(
            items.iter().map(|i| eval(i, root)).collect::<Result<_>>()?,
        )),
        Bson::Document(d) => match d.iter().next() {
            Some((op, arg)) if op.starts_with('$') => {
                if d.len() > 1 {
                    return Err(MongoError::location(format!(
                        "an expression specification must contain exactly one field, the name \
                         of the expression, but found {} fields",
                        d.len()
                    )));
                }
                operator(op, arg, root)
            }
            _ => {
                let mut out = Document::new();
                for (k, v) in d {
                    let value = eval(v, root)?;
                    if !matches!(value, Bson::Undefined) {
                        out.insert(k.clone(), value);
                    }
                }
                Ok(Bson::Document(out))
            }
        },
        other => Ok(other.clone()),
    }
}

fn variable(name: &str, root: &Document) -> Result<Bson> {
    let (var, path) = name.split_once('.').unwrap_or((name, ""));
    let base = match var {
        "ROOT" | "CURRENT" => Bson::Document(root.clone()),
        "NOW" => Bson::DateTime(bson::DateTime::now()),
        "REMOVE" => return Ok(Bson::Undefined),
        other => {
            return Err(MongoError::location(format!(
                "Use of undefined variable: {other}"
            )))
        }
    };
    Ok(match (path, base) {
        ("", base) => base,
        (path, Bson::Document(d)) => expression_value(&d, path),
        _ => Bson::Null,
    })
}

fn args(arg: &Bson, root: &Document) -> Result<Vec<Bson>> {
    match arg {
        Bson::Array(items) => items.iter().map(|i| eval(i, root)).collect(),
        one => Ok(vec![eval(one, root)?]),
    }
}

fn two(op: &str, arg: &Bson, root: &Document) -> Result<(Bson, Bson)> {
    let mut values = args(arg, root)?;
    if values.len() != 2 {
        return Err(MongoError::location(format!(
            "Expression {op} takes exactly 2 arguments. {} were passed in.",
            values.len()
        )));
    }
    let b = values.pop().unwrap_or(Bson::Null);
    let a = values.pop().unwrap_or(Bson::Null);
    Ok((a, b))
}

fn number(value: f64, integral: bool) -> Bson {
    if integral && value.fract() == 0.0 && value.abs() < 9.0e15 {
        let i = value as i64;
        i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32)
    } else {
        Bson::Double(value)
    }
}

fn is_integral(value: &Bson) -> bool {
    matches!(value, Bson::Int32(_) | Bson::Int64(_))
}

fn arithmetic(op: &str, values: &[Bson]) -> Result<Bson> {
    if values
        .iter()
        .any(|v| matches!(v, Bson::Null | Bson::Undefined))
    {
        return Ok(Bson::Null);
    }
    // A date plus milliseconds is a date.
    if op == "$add" {
        if let Some(Bson::DateTime(d)) = values.iter().find(|v| matches!(v, Bson::DateTime(_))) {
            let ms: f64 = values
                .iter()
                .filter(|v| !matches!(v, Bson::DateTime(_)))
                .filter_map(as_f64)
                .sum();
            return Ok(Bson::DateTime(bson::DateTime::from_millis(
                d.timestamp_millis() + ms as i64,
            )));
        }
    }
    let numbers: Vec<f64> = values
        .iter()
        .map(|v| {
            as_f64(v).ok_or_else(|| {
                MongoError::type_mismatch(format!("{op} only supports numeric types"))
            })
        })
        .collect::<Result<_>>()?;
    let integral = values.iter().all(is_integral);
    Ok(match op {
        "$add" => number(numbers.iter().sum(), integral),
        "$multiply" => number(numbers.iter().product(), integral),
        "$subtract" => number(numbers[0] - numbers[1], integral),
        "$divide" => {
            if numbers[1] == 0.0 {
                return Err(MongoError::bad_value("can't $divide by zero"));
            }
            Bson::Double(numbers[0] / numbers[1])
        }
        "$mod" => {
            if numbers[1] == 0.0 {
                return Err(MongoError::bad_value("can't $mod by zero"));
            }
            number(numbers[0] % numbers[1], integral)
        }
        _ => Bson::Null,
    })
}

fn operator(op: &str, arg: &Bson, root: &Document) -> Result<Bson> {
    use std::cmp::Ordering::*;
    Ok(match op {
        "$literal" => arg.clone(),
        "$rand" => {
            let bits = uuid::Uuid::new_v4().as_u64_pair().0 >> 11;
            Bson::Double(bits as f64 / (1u64 << 53) as f64)
        }
        "$getField" | "$setField" | "$unsetField" => field_operator(op, arg, root)?,
        "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$cmp" => {
            let (a, b) = two(op, arg, root)?;
            let o = compare(&a, &b);
            match op {
                "$eq" => Bson::Boolean(equal(&a, &b)),
                "$ne" => Bson::Boolean(o != Equal),
                "$gt" => Bson::Boolean(o == Greater),
                "$gte" => Bson::Boolean(o != Less),
                "$lt" => Bson::Boolean(o == Less),
                "$lte" => Bson::Boolean(o != Greater),
                _ => Bson::Int32(match o {
                    Less => -1,
                    Equal => 0,
                    Greater => 1,
                }),
            }
        }
        "$and" => Bson::Boolean(args(arg, root)?.iter().all(truthy)),
        "$or" => Bson::Boolean(args(arg, root)?.iter().any(truthy)),
        "$not" => Bson::Boolean(!args(arg, root)?.first().is_some_and(truthy)),
        "$add" | "$multiply" => arithmetic(op, &args(arg, root)?)?,
        "$subtract" | "$divide" | "$mod" => {
            let (a, b) = two(op, arg, root)?;
            arithmetic(op, &[a, b])?
        }
        "$abs" => match args(arg, root)?.first() {
            Some(Bson::Int32(i)) => Bson::Int32(i.abs()),
            Some(Bson::Int64(i)) => Bson::Int64(i.abs()),
            Some(v) => as_f64(v).map_or(Bson::Null, |f| Bson::Double(f.abs())),
            None => Bson::Null,
        },
        "$concat" => {
            let mut out = String::new();
            for value in args(arg, root)? {
                match value {
                    Bson::String(s) => out.push_str(&s),
                    Bson::Null | Bson::Undefined => return Ok(Bson::Null),
                    _ => return Err(MongoError::type_mismatch("$concat only supports strings")),
                }
            }
            Bson::String(out)
        }
        "$toLower" | "$toUpper" => match args(arg, root)?.first() {
            Some(Bson::String(s)) if op == "$toLower" => Bson::String(s.to_lowercase()),
            Some(Bson::String(s)) => Bson::String(s.to_uppercase()),
            _ => Bson::String(String::new()),
        },
        "$toString" => match args(arg, root)?.into_iter().next() {
            Some(Bson::String(s)) => Bson::String(s),
            Some(Bson::ObjectId(o)) => Bson::String(o.to_hex()),
            Some(Bson::Null) | None => Bson::Null,
            Some(v) => Bson::String(match v {
                Bson::Double(f) => f.to_string(),
                other => other.to_string(),
            }),
        },
        "$size" => match args(arg, root)?.first() {
            Some(Bson::Array(items)) => Bson::Int32(items.len() as i32),
            _ => {
                return Err(MongoError::location(
                    "The argument to $size must be an array",
                ))
            }
        },
        "$ifNull" => args(arg, root)?
            .into_iter()
            .find(|v| !matches!(v, Bson::Null | Bson::Undefined))
            .unwrap_or(Bson::Null),
        "$cond" => {
            let (test, then, otherwise) = match arg {
                Bson::Array(items) if items.len() == 3 => (&items[0], &items[1], &items[2]),
                Bson::Document(d) => match (d.get("if"), d.get("then"), d.get("else")) {
                    (Some(i), Some(t), Some(e)) => (i, t, e),
                    _ => return Err(MongoError::location("$cond needs if, then and else")),
                },
                _ => return Err(MongoError::location("$cond needs 3 arguments")),
            };
            if truthy(&eval(test, root)?) {
                eval(then, root)?
            } else {
                eval(otherwise, root)?
            }
        }
        "$in" => {
            let (needle, list) = two(op, arg, root)?;
            match list {
                Bson::Array(items) => Bson::Boolean(items.iter().any(|i| equal(i, &needle))),
                _ => {
                    return Err(MongoError::location(
                        "$in requires an array as a second argument",
                    ))
                }
            }
        }
        "$arrayElemAt" => {
            let (list, index) = two(op, arg, root)?;
            match (list, as_f64(&index)) {
                (Bson::Array(items), Some(i)) => {
                    let i = i as i64;
                    let at = if i < 0 { items.len() as i64 + i } else { i };
                    usize::try_from(at)
                        .ok()
                        .and_then(|at| items.get(at).cloned())
                        .unwrap_or(Bson::Undefined)
                }
                _ => Bson::Null,
            }
        }
        "$sum" | "$avg" | "$min" | "$max" => {
            let values = args(arg, root)?;
            let values: Vec<Bson> = if let [Bson::Array(items)] = values.as_slice() {
                items.clone()
            } else {
                values
            };
            let mut acc = crate::aggregate::Accumulator::new(op);
            for v in &values {
                acc.add(v);
            }
            acc.finish()
        }
        "$type" => Bson::String(
            args(arg, root)?
                .first()
                .map_or("missing", type_name)
                .to_string(),
        ),
        "$strLenCP" => match args(arg, root)?.first() {
            Some(Bson::String(s)) => Bson::Int32(s.chars().count() as i32),
            _ => return Err(MongoError::location("$strLenCP requires a string argument")),
        },
        other => {
            return Err(MongoError::invalid_pipeline(format!(
                "Unrecognized expression '{other}'"
            )))
        }
    })
}

/// `$getField`, `$setField` and `$unsetField`: fields by a name that may
/// hold dots or start with `$`, which paths cannot address.
fn field_operator(op: &str, arg: &Bson, root: &Document) -> Result<Bson> {
    let (field, input, value) = match arg {
        Bson::String(name) if op == "$getField" => (Bson::String(name.clone()), None, None),
        Bson::Document(d) => (
            eval(d.get("field").unwrap_or(&Bson::Null), root)?,
            d.get("input"),
            d.get("value"),
        ),
        _ => return Err(MongoError::location(format!("{op} needs an object"))),
    };
    let Bson::String(field) = field else {
        return Err(MongoError::location(format!(
            "{op} requires 'field' to evaluate to a string"
        )));
    };
    let input = match input {
        Some(e) => eval(e, root)?,
        None => Bson::Document(root.clone()),
    };
    let mut document = match input {
        Bson::Document(d) => d,
        Bson::Null | Bson::Undefined => return Ok(Bson::Null),
        _ => {
            return Err(MongoError::location(format!(
                "{op} requires 'input' to evaluate to an object"
            )))
        }
    };
    Ok(match op {
        "$getField" => document.get(&field).cloned().unwrap_or(Bson::Undefined),
        "$unsetField" => {
            document.remove(&field);
            Bson::Document(document)
        }
        _ => {
            match eval(value.unwrap_or(&Bson::Null), root)? {
                Bson::Undefined => {
                    document.remove(&field);
                }
                v => {
                    document.insert(field, v);
                }
            }
            Bson::Document(document)
        }
    })
}

/// The alias `$type` reports.
pub fn type_name(value: &Bson) -> &'static str {
    match value {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
        _ => "unknown",
    }
}

/// The command's `let` variables, each evaluated once (a variable may be an
/// expression such as `{$rand: {}}`).
pub fn evaluate_variables(variables: &Document) -> Result<Document> {
    let empty = Document::new();
    variables
        .iter()
        .map(|(k, v)| Ok((k.clone(), eval(v, &empty)?)))
        .collect()
}

/// Replaces the command's `let` variables (`$$name`, `$$name.path`) in an
/// expression by their values.
pub fn bind(value: &Bson, variables: &Document) -> Bson {
    match value {
        Bson::String(s) if s.starts_with("$$") => {
            let (name, path) = s[2..]
                .split_once('.')
                .map_or((&s[2..], None), |(n, p)| (n, Some(p)));
            match (variables.get(name), path) {
                (Some(v), None) => Bson::Document(bson::doc! {"$literal": v.clone()}),
                (Some(Bson::Document(d)), Some(path)) => {
                    Bson::Document(bson::doc! {"$literal": expression_value(d, path)})
                }
                (Some(_), Some(_)) => Bson::Null,
                (None, _) => value.clone(),
            }
        }
        Bson::Array(items) => Bson::Array(items.iter().map(|i| bind(i, variables)).collect()),
        Bson::Document(d) if d.contains_key("$literal") => value.clone(),
        Bson::Document(d) => Bson::Document(
            d.iter()
                .map(|(k, v)| (k.clone(), bind(v, variables)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Binds `let` variables in a query filter: only inside `$expr`, where
/// variables mean something (elsewhere `"$$x"` is a plain string).
pub fn bind_filter(filter: &Document, variables: &Document) -> Document {
    if variables.is_empty() {
        return filter.clone();
    }
    filter
        .iter()
        .map(|(k, v)| {
            let bound = match (k.as_str(), v) {
                ("$expr", v) => bind(v, variables),
                ("$and" | "$or" | "$nor", Bson::Array(items)) => Bson::Array(
                    items
                        .iter()
                        .map(|i| match i {
                            Bson::Document(d) => Bson::Document(bind_filter(d, variables)),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                _ => v.clone(),
            };
            (k.clone(), bound)
        })
        .collect()
}
