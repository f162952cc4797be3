//! Query filters (`{a: {$gt: 5}, $or: [...]}`), compiled once and then
//! matched against documents with MongoDB's rules: a condition on a path
//! holds when any value the path reaches (or any element of an array there)
//! satisfies it, null matches a missing field, comparisons stay within a
//! type (numbers are one type).

use bson::{Bson, Document};
use regex::Regex;

use crate::compare::{compare, equal, type_rank};
use crate::error::{MongoError, Result};
use crate::expr;
use crate::path::lookup;

/// A compiled filter.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Nor(Vec<Filter>),
    Path(String, Vec<Condition>),
    /// `$expr`: an aggregation expression that must be truthy.
    Expr(Bson),
}

#[derive(Debug, Clone)]
pub enum Condition {
    Eq(Bson),
    Ne(Bson),
    Gt(Bson),
    Gte(Bson),
    Lt(Bson),
    Lte(Bson),
    In(Vec<Bson>, Vec<Regex>),
    Nin(Vec<Bson>, Vec<Regex>),
    Exists(bool),
    Type(Vec<u8>),
    Regex(Regex),
    Size(usize),
    All(Vec<Bson>),
    ElemMatch(ElemMatch),
    Not(Vec<Condition>),
    Mod(i64, i64),
}

#[derive(Debug, Clone)]
pub enum ElemMatch {
    /// `{$elemMatch: {field: ...}}`: elements are documents.
    Documents(Box<Filter>),
    /// `{$elemMatch: {$gt: 1, $lt: 5}}`: elements are values.
    Values(Vec<Condition>),
}

impl Filter {
    /// Compiles a filter document; errors are MongoDB's for bad operators.
    pub fn parse(filter: &Document) -> Result<Filter> {
        let mut parts = Vec::new();
        for (key, value) in filter {
            parts.push(match key.as_str() {
                "$and" | "$or" | "$nor" => {
                    let list = match value {
                        Bson::Array(items) if !items.is_empty() => items
                            .iter()
                            .map(|i| match i {
                                Bson::Document(d) => Filter::parse(d),
                                _ => Err(MongoError::bad_value(format!(
                                    "{key} argument's entries must be objects"
                                ))),
                            })
                            .collect::<Result<Vec<_>>>()?,
                        _ => {
                            return Err(MongoError::bad_value(format!(
                                "{key} must be a nonempty array"
                            )))
                        }
                    };
                    match key.as_str() {
                        "$and" => Filter::And(list),
                        "$or" => Filter::Or(list),
                        _ => Filter::Nor(list),
                    }
                }
                "$expr" => Filter::Expr(value.clone()),
                "$comment" => continue,
                other if other.starts_with('$') => {
                    return Err(MongoError::bad_value(format!(
                        "unknown top level operator: {other}"
                    )))
                }
                path => Filter::Path(path.to_string(), conditions(value)?),
            });
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    pub fn matches(&self, document: &Document) -> Result<bool> {
        Ok(match self {
            Filter::And(list) => {
                for f in list {
                    if !f.matches(document)? {
                        return Ok(false);
                    }
                }
                true
            }
            Filter::Or(list) => {
                for f in list {
                    if f.matches(document)? {
                        return Ok(true);
                    }
                }
                false
            }
            Filter::Nor(list) => {
                for f in list {
                    if f.matches(document)? {
                        return Ok(false);
                    }
                }
                true
            }
            Filter::Path(path, conds) => {
                let found = lookup(document, path);
                conds.iter().all(|c| c.holds(&found))
            }
            Filter::Expr(e) => expr::truthy(&expr::eval(e, document)?),
        })
    }

    /// The equality conditions on plain paths, for an upsert's new document
    /// and for finding a document by `_id` without a scan.
    pub fn equalities(&self) -> Vec<(&str, &Bson)> {
        match self {
            Filter::And(list) => list.iter().flat_map(Filter::equalities).collect(),
            Filter::Path(path, conds) => conds
                .iter()
                .filter_map(|c| match c {
                    Condition::Eq(v) => Some((path.as_str(), v)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The conditions of `{path: value}`: operators, or equality with a value.
fn conditions(value: &Bson) -> Result<Vec<Condition>> {
    match value {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            let options = d.get_str("$options").ok();
            let mut list = Vec::new();
            for (op, arg) in d {
                if op == "$options" {
                    if !d.contains_key("$regex") {
                        return Err(MongoError::bad_value("$options needs a $regex"));
                    }
                    continue;
                }
                list.push(operator(op, arg, options)?);
            }
            Ok(list)
        }
        Bson::RegularExpression(r) => Ok(vec![Condition::Regex(regex(
            r.pattern.as_str(),
            r.options.as_str(),
        )?)]),
        other => Ok(vec![Condition::Eq(other.clone())]),
    }
}

fn list_of(op: &str, arg: &Bson) -> Result<(Vec<Bson>, Vec<Regex>)> {
    let Bson::Array(items) = arg else {
        return Err(MongoError::bad_value(format!("{op} needs an array")));
    };
    let mut values = Vec::new();
    let mut patterns = Vec::new();
    for item in items {
        match item {
            Bson::RegularExpression(r) => {
                patterns.push(regex(r.pattern.as_str(), r.options.as_str())?)
            }
            Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
                return Err(MongoError::bad_value(format!("cannot nest $ under {op}")))
            }
            other => values.push(other.clone()),
        }
    }
    Ok((values, patterns))
}

fn operator(op: &str, arg: &Bson, options: Option<&str>) -> Result<Condition> {
    Ok(match op {
        "$eq" => Condition::Eq(arg.clone()),
        "$ne" => Condition::Ne(arg.clone()),
        "$gt" => Condition::Gt(arg.clone()),
        "$gte" => Condition::Gte(arg.clone()),
        "$lt" => Condition::Lt(arg.clone()),
        "$lte" => Condition::Lte(arg.clone()),
        "$in" => {
            let (v, p) = list_of(op, arg)?;
            Condition::In(v, p)
        }
        "$nin" => {
            let (v, p) = list_of(op, arg)?;
            Condition::Nin(v, p)
        }
        "$exists" => Condition::Exists(expr::truthy(arg)),
        "$type" => Condition::Type(match arg {
            Bson::Array(items) => items.iter().map(type_code).collect::<Result<_>>()?,
            one => vec![type_code(one)?],
        }),
        "$regex" => match arg {
            Bson::String(p) => Condition::Regex(regex(p, options.unwrap_or(""))?),
            Bson::RegularExpression(r) => Condition::Regex(regex(
                r.pattern.as_str(),
                options.unwrap_or(r.options.as_str()),
            )?),
            _ => return Err(MongoError::bad_value("$regex has to be a string")),
        },
        "$size" => match crate::compare::as_f64(arg) {
            Some(n) if n >= 0.0 && n.fract() == 0.0 => Condition::Size(n as usize),
            _ => {
                return Err(MongoError::bad_value(
                    "$size needs a non-negative whole number",
                ))
            }
        },
        "$all" => match arg {
            Bson::Array(items) => Condition::All(items.clone()),
            _ => return Err(MongoError::bad_value("$all needs an array")),
        },
        "$elemMatch" => match arg {
            Bson::Document(d)
                if d.keys().next().is_some_and(|k| k.starts_with('$'))
                    && !matches!(
                        d.keys().next().map(String::as_str),
                        Some("$and" | "$or" | "$nor" | "$expr")
                    ) =>
            {
                Condition::ElemMatch(ElemMatch::Values(conditions(arg)?))
            }
            Bson::Document(d) => {
                Condition::ElemMatch(ElemMatch::Documents(Box::new(Filter::parse(d)?)))
            }
            _ => return Err(MongoError::bad_value("$elemMatch needs an Object")),
        },
        "$not" => match arg {
            Bson::Document(_) | Bson::RegularExpression(_) => Condition::Not(conditions(arg)?),
            _ => return Err(MongoError::bad_value("$not needs a regex or a document")),
        },
        "$mod" => match arg {
            Bson::Array(pair) if pair.len() == 2 => {
                let n = |b: &Bson| crate::compare::as_f64(b).map(|f| f.trunc() as i64);
                match (n(&pair[0]), n(&pair[1])) {
                    (Some(0), _) => return Err(MongoError::bad_value("divisor cannot be 0")),
                    (Some(d), Some(r)) => Condition::Mod(d, r),
                    _ => return Err(MongoError::bad_value("malformed mod, not enough elements")),
                }
            }
            _ => return Err(MongoError::bad_value("malformed mod, needs to be an array")),
        },
        // A comment matches everything: the empty negation always holds.
        "$comment" => Condition::Not(Vec::new()),
        other => return Err(MongoError::bad_value(format!("unknown operator: {other}"))),
    })
}

/// A `$type` argument as a type number; "number" is 0 (any numeric type).
fn type_code(arg: &Bson) -> Result<u8> {
    if let Some(n) = crate::compare::as_f64(arg) {
        return Ok(n as u8);
    }
    let Bson::String(name) = arg else {
        return Err(MongoError::bad_value(
            "type must be represented as a number or a string",
        ));
    };
    Ok(match name.as_str() {
        "double" => 1,
        "string" => 2,
        "object" => 3,
        "array" => 4,
        "binData" => 5,
        "undefined" => 6,
        "objectId" => 7,
        "bool" => 8,
        "date" => 9,
        "null" => 10,
        "regex" => 11,
        "javascript" => 13,
        "symbol" => 14,
        "int" => 16,
        "timestamp" => 17,
        "long" => 18,
        "decimal" => 19,
        "minKey" => 255,
        "maxKey" => 127,
        "number" => 0,
        other => {
            return Err(MongoError::bad_value(format!(
                "Unknown type name alias: {other}"
            )))
        }
    })
}

/// The BSON element type number of a value.
pub fn bson_type(value: &Bson) -> u8 {
    value.element_type() as u8
}

/// A MongoDB regex (pattern and option letters) as a Rust regex.
pub fn regex(pattern: &str, options: &str) -> Result<Regex> {
    let mut flags = String::new();
    for c in options.chars() {
        match c {
            'i' | 'm' | 's' | 'x' => flags.push(c),
            'u' | 'l' => {}
            other => {
                return Err(MongoError::bad_value(format!(
                    "invalid flag in regex options: {other}"
                )))
            }
        }
    }
    let full = if flags.is_empty() {
        pattern.to_string()
    } else {
        format!("(?{flags}){pattern}")
    };
    Regex::new(&full)
        .map_err(|e| MongoError::bad_value(format!("Regular expression is invalid: {e}")))
}

/// The values a condition looks at: each found value, and the elements of
/// found arrays.
fn expanded<'a>(found: &[&'a Bson]) -> Vec<&'a Bson> {
    let mut out = Vec::with_capacity(found.len());
    for value in found {
        out.push(*value);
        if let Bson::Array(items) = value {
            out.extend(items.iter());
        }
    }
    out
}

fn regex_matches(re: &Regex, value: &Bson) -> bool {
    match value {
        Bson::String(s) | Bson::Symbol(s) => re.is_match(s),
        Bson::RegularExpression(r) => re.as_str().ends_with(r.pattern.as_str()),
        _ => false,
    }
}

fn equals(found: &[&Bson], wanted: &Bson) -> bool {
    if matches!(wanted, Bson::Null) {
        return found.is_empty()
            || expanded(found)
                .iter()
                .any(|v| matches!(v, Bson::Null | Bson::Undefined));
    }
    expanded(found).iter().any(|v| equal(v, wanted))
}

fn in_list(found: &[&Bson], values: &[Bson], patterns: &[Regex]) -> bool {
    values.iter().any(|v| equals(found, v))
        || expanded(found)
            .iter()
            .any(|v| patterns.iter().any(|re| regex_matches(re, v)))
}

fn compares(found: &[&Bson], bound: &Bson, accept: fn(std::cmp::Ordering) -> bool) -> bool {
    if matches!(bound, Bson::Null) {
        // $gte/$lte null match null and missing, as equality does.
        return accept(std::cmp::Ordering::Equal) && equals(found, bound);
    }
    if let Bson::Array(_) = bound {
        return found
            .iter()
            .any(|v| type_rank(v) == type_rank(bound) && accept(compare(v, bound)));
    }
    expanded(found)
        .iter()
        .any(|v| type_rank(v) == type_rank(bound) && accept(compare(v, bound)))
}

impl Condition {
    fn holds(&self, found: &[&Bson]) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Condition::Eq(v) => equals(found, v),
            Condition::Ne(v) => !equals(found, v),
            Condition::Gt(v) => compares(found, v, |o| o == Greater),
            Condition::Gte(v) => compares(found, v, |o| o != Less),
            Condition::Lt(v) => compares(found, v, |o| o == Less),
            Condition::Lte(v) => compares(found, v, |o| o != Greater),
            Condition::In(values, patterns) => in_list(found, values, patterns),
            Condition::Nin(values, patterns) => !in_list(found, values, patterns),
            Condition::Exists(wanted) => found.is_empty() != *wanted,
            Condition::Type(codes) => {
                expanded(found).iter().any(|v| {
                    let t = bson_type(v);
                    codes
                        .iter()
                        .any(|c| *c == t || (*c == 0 && type_rank(v) == 3))
                }) || (codes.contains(&4) && found.iter().any(|v| matches!(v, Bson::Array(_))))
            }
            Condition::Regex(re) => expanded(found).iter().any(|v| regex_matches(re, v)),
            Condition::Size(n) => found
                .iter()
                .any(|v| matches!(v, Bson::Array(items) if items.len() == *n)),
            Condition::All(values) => {
                !values.is_empty()
                    && values.iter().all(|v| match v {
                        Bson::Document(d) if d.contains_key("$elemMatch") => {
                            conditions(&Bson::Document(d.clone()))
                                .map(|c| c.iter().all(|c| c.holds(found)))
                                .unwrap_or(false)
                        }
                        _ => equals(found, v),
                    })
            }
            Condition::ElemMatch(em) => found.iter().any(|v| match v {
                Bson::Array(items) => items.iter().any(|item| match (em, item) {
                    (ElemMatch::Documents(f), Bson::Document(d)) => f.matches(d).unwrap_or(false),
                    (ElemMatch::Documents(_), _) => false,
                    (ElemMatch::Values(conds), value) => conds.iter().all(|c| c.holds(&[value])),
                }),
                _ => false,
            }),
            Condition::Not(conds) => conds.is_empty() || !conds.iter().all(|c| c.holds(found)),
            Condition::Mod(divisor, remainder) => expanded(found).iter().any(|v| {
                crate::compare::as_f64(v)
                    .is_some_and(|f| f.is_finite() && (f.trunc() as i64) % divisor == *remainder)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn check(filter: Document, document: Document) -> bool {
        Filter::parse(&filter).unwrap().matches(&document).unwrap()
    }

    #[test]
    fn conditions_reach_into_arrays() {
        let d = doc! {"tags": ["a", "b"], "items": [{"q": 1}, {"q": 7}], "n": 5};
        assert!(check(doc! {"tags": "a"}, d.clone()));
        assert!(check(doc! {"tags": ["a", "b"]}, d.clone()));
        assert!(check(doc! {"items.q": {"$gt": 5}}, d.clone()));
        assert!(!check(
            doc! {"items": {"$elemMatch": {"q": {"$gt": 1, "$lt": 7}}}},
            d.clone()
        ));
        assert!(check(
            doc! {"tags": {"$all": ["b", "a"]}, "tags.1": "b"},
            d.clone()
        ));
        assert!(check(doc! {"tags": {"$size": 2}}, d.clone()));
        assert!(check(doc! {"missing": null}, d.clone()));
        assert!(!check(doc! {"n": {"$gt": "4"}}, d.clone()));
        assert!(check(
            doc! {"n": {"$in": [1, 5.0]}, "$or": [{"n": 4}, {"n": {"$gte": 5}}]},
            d.clone()
        ));
        assert!(check(
            doc! {"n": {"$not": {"$lt": 5}}, "tags": {"$regex": "^B", "$options": "i"}},
            d.clone()
        ));
        assert!(check(doc! {"$expr": {"$gt": ["$n", 4]}}, d.clone()));
        assert!(check(
            doc! {"n": {"$type": "number"}, "tags": {"$type": "array"}},
            d
        ));
    }

    #[test]
    fn bad_operators_are_refused() {
        assert!(Filter::parse(&doc! {"a": {"$bogus": 1}}).is_err());
        assert!(Filter::parse(&doc! {"$or": []}).is_err());
        assert!(Filter::parse(&doc! {"a": {"$regex": "("}}).is_err());
    }
}
