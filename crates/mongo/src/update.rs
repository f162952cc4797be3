//! Update operators (`$set`, `$inc`, `$push` ...) applied to a document,
//! with the positional forms `$`, `$[]` and `$[<id>]` (arrayFilters).

use bson::{Bson, Document};

use crate::compare::{as_f64, compare, equal};
use crate::error::{MongoError, Result};
use crate::filter::{Condition, Filter};

/// What an update is applied with besides its operators.
pub struct UpdateContext<'a> {
    /// The query that selected the document (for the positional `$`).
    pub query: Option<&'a Filter>,
    /// `arrayFilters`, by identifier.
    pub array_filters: &'a [(String, Filter)],
    /// Whether the document is being inserted by an upsert (`$setOnInsert`).
    pub inserting: bool,
}

/// Parses `arrayFilters`: each filter's paths start with one identifier.
pub fn parse_array_filters(filters: &[Bson]) -> Result<Vec<(String, Filter)>> {
    let mut out = Vec::new();
    for f in filters {
        let Bson::Document(d) = f else {
            return Err(MongoError::type_mismatch(
                "arrayFilters entries must be objects",
            ));
        };
        let id = d
            .keys()
            .next()
            .map(|k| k.split('.').next().unwrap_or(k).to_string())
            .ok_or_else(|| {
                MongoError::failed_to_parse(
                    "Cannot use an expression without a top-level field name in arrayFilters",
                )
            })?;
        out.push((id, Filter::parse(d)?));
    }
    Ok(out)
}

/// Whether an update document is a replacement (no operators).
pub fn is_replacement(update: &Document) -> bool {
    !update.keys().any(|k| k.starts_with('$'))
}

const OPERATORS: [&str; 14] = [
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$rename",
    "$currentDate",
    "$setOnInsert",
    "$push",
    "$addToSet",
    "$pull",
    "$pullAll",
    "$pop",
];

/// Applies operator-style `update` to `document`.
pub fn apply(document: &mut Document, update: &Document, ctx: &UpdateContext) -> Result<()> {
    let mut touched: Vec<String> = Vec::new();
    for (op, fields) in update {
        if !OPERATORS.contains(&op.as_str()) {
            return Err(MongoError::failed_to_parse(format!(
                "Unknown modifier: {op}. Expected a valid update modifier or pipeline-style update specified as an array"
            )));
        }
        let Bson::Document(fields) = fields else {
            return Err(MongoError::failed_to_parse(format!(
                "Modifiers operate on fields but we found type {} instead. For example: {{$mod: {{<field>: ...}}}} not {{{op}: {fields}}}",
                crate::expr::type_name(fields)
            )));
        };
        if op == "$setOnInsert" && !ctx.inserting {
            continue;
        }
        for (path, arg) in fields {
            for concrete in expand(document, path, ctx)? {
                check_conflict(&mut touched, &concrete, path)?;
                if (concrete == "_id" || concrete.starts_with("_id."))
                    && op != "$setOnInsert"
                    && !(op == "$set" && document.get("_id").is_some_and(|v| equal(v, arg)))
                {
                    return Err(MongoError::immutable_field(
                            "Performing an update on the path '_id' would modify the immutable field '_id'",
                        ));
                }
                one(document, op, &concrete, arg)?;
            }
        }
    }
    Ok(())
}

fn check_conflict(touched: &mut Vec<String>, path: &str, original: &str) -> Result<()> {
    for t in touched.iter() {
        let overlaps =
            t == path || path.starts_with(&format!("{t}.")) || t.starts_with(&format!("{path}."));
        if overlaps {
            return Err(MongoError::conflicting_update(format!(
                "Updating the path '{original}' would create a conflict at '{t}'"
            )));
        }
    }
    touched.push(path.to_string());
    Ok(())
}

/// Replaces positional parts of `path` with the indexes they stand for.
fn expand(document: &Document, path: &str, ctx: &UpdateContext) -> Result<Vec<String>> {
    if !path.contains('$') {
        return Ok(vec![path.to_string()]);
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut prefixes: Vec<String> = vec![String::new()];
    for part in parts {
        let mut next = Vec::new();
        for prefix in &prefixes {
            let join = |p: &str| {
                if prefix.is_empty() {
                    p.to_string()
                } else {
                    format!("{prefix}.{p}")
                }
            };
            if part == "$" || part.starts_with("$[") {
                let items =
                    match crate::path::get(document, prefix) {
                        Some(Bson::Array(items)) => items.clone(),
                        _ if ctx.inserting => Vec::new(),
                        _ => return Err(MongoError::bad_value(
                            "The positional operator did not find the match needed from the query."
                                .to_string(),
                        )),
                    };
                if part == "$" {
                    let index = ctx
                        .query
                        .and_then(|q| first_match(q, prefix, &items))
                        .ok_or_else(|| MongoError::bad_value("The positional operator did not find the match needed from the query."))?;
                    next.push(join(&index.to_string()));
                } else if part == "$[]" {
                    next.extend((0..items.len()).map(|i| join(&i.to_string())));
                } else {
                    let id = &part[2..part.len() - 1];
                    let (_, filter) = ctx
                        .array_filters
                        .iter()
                        .find(|(name, _)| name == id)
                        .ok_or_else(|| {
                            MongoError::bad_value(format!(
                                "No array filter found for identifier '{id}' in path '{path}'"
                            ))
                        })?;
                    for (i, item) in items.iter().enumerate() {
                        if filter.matches(&bson::doc! {id: item.clone()})? {
                            next.push(join(&i.to_string()));
                        }
                    }
                }
            } else {
                next.push(join(part));
            }
        }
        prefixes = next;
    }
    Ok(prefixes)
}

/// The index of the first element of the array at `prefix` that the query's
/// conditions on that array hold for.
fn first_match(query: &Filter, prefix: &str, items: &[Bson]) -> Option<usize> {
    let mut conditions: Vec<(String, &Vec<Condition>)> = Vec::new();
    collect(query, prefix, &mut conditions);
    if conditions.is_empty() {
        return None;
    }
    items.iter().position(|item| {
        let holder = bson::doc! {"e": item.clone()};
        conditions.iter().all(|(rest, conds)| {
            let path = if rest.is_empty() {
                "e".to_string()
            } else {
                format!("e.{rest}")
            };
            Filter::Path(path, (*conds).clone())
                .matches(&holder)
                .unwrap_or(false)
        })
    })
}

fn collect<'a>(query: &'a Filter, prefix: &str, out: &mut Vec<(String, &'a Vec<Condition>)>) {
    match query {
        Filter::And(list) => list.iter().for_each(|f| collect(f, prefix, out)),
        Filter::Path(path, conds) => {
            if path == prefix {
                out.push((String::new(), conds));
            } else if let Some(rest) = path.strip_prefix(&format!("{prefix}.")) {
                out.push((rest.to_string(), conds));
            }
        }
        _ => {}
    }
}

fn number_result(a: &Bson, b: &Bson, op: &str) -> Result<Bson> {
    let int = |v: &Bson| match v {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        _ => None,
    };
    let wide = matches!(a, Bson::Int64(_)) || matches!(b, Bson::Int64(_));
    if let (Some(x), Some(y)) = (int(a), int(b)) {
        let r = if op == "$inc" {
            x.checked_add(y)
        } else {
            x.checked_mul(y)
        };
        return Ok(match r {
            Some(r) if !wide && i32::try_from(r).is_ok() => Bson::Int32(r as i32),
            Some(r) => Bson::Int64(r),
            None => Bson::Double(if op == "$inc" {
                x as f64 + y as f64
            } else {
                x as f64 * y as f64
            }),
        });
    }
    let (x, y) = (as_f64(a).unwrap_or(0.0), as_f64(b).unwrap_or(0.0));
    Ok(Bson::Double(if op == "$inc" { x + y } else { x * y }))
}

fn one(document: &mut Document, op: &str, path: &str, arg: &Bson) -> Result<()> {
    let current = crate::path::get(document, path).cloned();
    match op {
        "$set" | "$setOnInsert" => set_path(document, path, arg.clone()),
        "$unset" => {
            unset_path(document, path);
            Ok(())
        }
        "$inc" | "$mul" => {
            if as_f64(arg).is_none() {
                return Err(MongoError::type_mismatch(format!(
                    "Cannot {} with non-numeric argument: {{{path}: {arg}}}",
                    &op[1..]
                )));
            }
            let base = match &current {
                None => {
                    let zero = match arg { Bson::Int64(_) => Bson::Int64(0), Bson::Double(_) => Bson::Double(0.0), _ => Bson::Int32(0) };
                    return set_path(document, path, if op == "$inc" { arg.clone() } else { number_result(&zero, arg, "$mul")? });
                }
                Some(v) if as_f64(v).is_some() => v.clone(),
                Some(v) => {
                    return Err(MongoError::type_mismatch(format!(
                        "Cannot apply {op} to a value of non-numeric type. {{_id: {}}} has the field '{}' of non-numeric type {}",
                        document.get("_id").cloned().unwrap_or(Bson::Null),
                        path.rsplit('.').next().unwrap_or(path),
                        crate::expr::type_name(v)
                    )))
                }
            };
            set_path(document, path, number_result(&base, arg, op)?)
        }
        "$min" | "$max" => {
            let replace = match &current {
                None => true,
                Some(v) => {
                    let o = compare(arg, v);
                    if op == "$min" {
                        o == std::cmp::Ordering::Less
                    } else {
                        o == std::cmp::Ordering::Greater
                    }
                }
            };
            if replace {
                set_path(document, path, arg.clone())?;
            }
            Ok(())
        }
        "$rename" => {
            let Bson::String(to) = arg else {
                return Err(MongoError::bad_value(
                    "The 'to' field for $rename must be a string",
                ));
            };
            if let Some(value) = current {
                unset_path(document, path);
                set_path(document, to, value)?;
            }
            Ok(())
        }
        "$currentDate" => {
            let timestamp =
                matches!(arg, Bson::Document(d) if d.get_str("$type").ok() == Some("timestamp"));
            let now = bson::DateTime::now();
            let value = if timestamp {
                Bson::Timestamp(bson::Timestamp {
                    time: (now.timestamp_millis() / 1000) as u32,
                    increment: 1,
                })
            } else {
                Bson::DateTime(now)
            };
            set_path(document, path, value)
        }
        "$push" | "$addToSet" => {
            let mut items = match current {
                None => Vec::new(),
                Some(Bson::Array(items)) => items,
                Some(other) => {
                    return Err(MongoError::bad_value(format!(
                    "The field '{path}' must be an array but is of type {} in document {{_id: {}}}",
                    crate::expr::type_name(&other),
                    document.get("_id").cloned().unwrap_or(Bson::Null)
                )))
                }
            };
            let (each, modifiers) = match arg {
                Bson::Document(d) if d.contains_key("$each") => match d.get("$each") {
                    Some(Bson::Array(each)) => (each.clone(), Some(d)),
                    _ => {
                        return Err(MongoError::bad_value(
                            "The argument to $each must be an array",
                        ))
                    }
                },
                other => (vec![other.clone()], None),
            };
            if op == "$addToSet" {
                for v in each {
                    if !items.iter().any(|i| equal(i, &v)) {
                        items.push(v);
                    }
                }
            } else {
                let position = modifiers.and_then(|m| m.get("$position")).and_then(as_f64);
                match position {
                    Some(p) => {
                        let len = items.len() as i64;
                        let at = if p < 0.0 {
                            (len + p as i64).max(0)
                        } else {
                            (p as i64).min(len)
                        } as usize;
                        for (offset, v) in each.into_iter().enumerate() {
                            items.insert(at + offset, v);
                        }
                    }
                    None => items.extend(each),
                }
                if let Some(spec) = modifiers.and_then(|m| m.get("$sort")) {
                    match spec {
                        Bson::Document(keys) => {
                            let mut docs: Vec<Document> = items
                                .iter()
                                .filter_map(|i| i.as_document().cloned())
                                .collect();
                            crate::aggregate::sort(&mut docs, keys)?;
                            items = docs.into_iter().map(Bson::Document).collect();
                        }
                        direction => {
                            let desc = as_f64(direction) == Some(-1.0);
                            items.sort_by(|a, b| if desc { compare(b, a) } else { compare(a, b) });
                        }
                    }
                }
                if let Some(n) = modifiers.and_then(|m| m.get("$slice")).and_then(as_f64) {
                    let n = n as i64;
                    let len = items.len() as i64;
                    if n >= 0 {
                        items.truncate(n as usize);
                    } else if -n < len {
                        items.drain(..(len + n) as usize);
                    }
                }
            }
            set_path(document, path, Bson::Array(items))
        }
        "$pull" | "$pullAll" => {
            let Some(Bson::Array(items)) = current else {
                return Ok(());
            };
            let kept: Vec<Bson> = if op == "$pullAll" {
                let Bson::Array(values) = arg else {
                    return Err(MongoError::bad_value("$pullAll requires an array argument"));
                };
                items
                    .into_iter()
                    .filter(|i| !values.iter().any(|v| equal(i, v)))
                    .collect()
            } else {
                let test = pull_test(arg)?;
                let mut kept = Vec::new();
                for item in items {
                    if !test(&item) {
                        kept.push(item);
                    }
                }
                kept
            };
            set_path(document, path, Bson::Array(kept))
        }
        "$pop" => {
            if let Some(Bson::Array(mut items)) = current {
                if as_f64(arg) == Some(-1.0) {
                    if !items.is_empty() {
                        items.remove(0);
                    }
                } else {
                    items.pop();
                }
                set_path(document, path, Bson::Array(items))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// What `$pull` removes: elements equal to a value, or matching a condition.
/// A test of one array element.
type ElementTest = Box<dyn Fn(&Bson) -> bool>;

fn pull_test(arg: &Bson) -> Result<ElementTest> {
    match arg {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            let filter = Filter::parse(&bson::doc! {"e": arg.clone()})?;
            Ok(Box::new(move |item| {
                filter
                    .matches(&bson::doc! {"e": item.clone()})
                    .unwrap_or(false)
            }))
        }
        Bson::Document(d) => {
            let filter = Filter::parse(d)?;
            Ok(Box::new(
                move |item| matches!(item, Bson::Document(doc) if filter.matches(doc).unwrap_or(false)),
            ))
        }
        value => {
            let value = value.clone();
            Ok(Box::new(move |item| equal(item, &value)))
        }
    }
}

/// Sets the value at a dotted path, creating documents on the way; a
/// number names an array element (arrays are padded with nulls).
pub fn set_path(document: &mut Document, path: &str, value: Bson) -> Result<()> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let Some(rest) = rest else {
        document.insert(head.to_string(), value);
        return Ok(());
    };
    let child = document
        .entry(head.to_string())
        .or_insert_with(|| Bson::Document(Document::new()));
    set_in(child, head, rest, value)
}

fn set_in(container: &mut Bson, name: &str, path: &str, value: Bson) -> Result<()> {
    match container {
        Bson::Document(d) => set_path(d, path, value),
        Bson::Array(items) => {
            let (head, rest) = match path.split_once('.') {
                Some((h, r)) => (h, Some(r)),
                None => (path, None),
            };
            let index: usize = head.parse().map_err(|_| {
                MongoError::path_not_viable(format!(
                    "Cannot create field '{head}' in element {{{name}: [...]}}"
                ))
            })?;
            if index > 1_500_000 {
                return Err(MongoError::bad_value(
                    "can't backfill array to larger than 1500000 elements",
                ));
            }
            while items.len() <= index {
                items.push(Bson::Null);
            }
            match rest {
                None => {
                    items[index] = value;
                    Ok(())
                }
                Some(rest) => {
                    if matches!(items[index], Bson::Null) {
                        items[index] = Bson::Document(Document::new());
                    }
                    set_in(&mut items[index], head, rest, value)
                }
            }
        }
        other => Err(MongoError::path_not_viable(format!(
            "Cannot create field '{}' in element {{{name}: {other}}}",
            path.split('.').next().unwrap_or(path)
        ))),
    }
}

/// Removes the value at a dotted path (an array element becomes null, as
/// `$unset` leaves it).
pub fn unset_path(document: &mut Document, path: &str) {
    match path.split_once('.') {
        None => {
            document.remove(path);
        }
        Some((head, rest)) => match document.get_mut(head) {
            Some(Bson::Document(d)) => unset_path(d, rest),
            Some(Bson::Array(items)) => {
                let (index, tail) = rest
                    .split_once('.')
                    .map_or((rest, None), |(i, t)| (i, Some(t)));
                if let Some(item) = index.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    match (tail, item) {
                        (None, item) => *item = Bson::Null,
                        (Some(tail), Bson::Document(d)) => unset_path(d, tail),
                        _ => {}
                    }
                }
            }
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn update(
        mut d: Document,
        u: Document,
        query: Option<Document>,
        filters: Vec<Bson>,
    ) -> Result<Document> {
        let q = query.map(|q| Filter::parse(&q).unwrap());
        let filters = parse_array_filters(&filters)?;
        apply(
            &mut d,
            &u,
            &UpdateContext {
                query: q.as_ref(),
                array_filters: &filters,
                inserting: false,
            },
        )?;
        Ok(d)
    }

    #[test]
    fn operators_change_what_they_name() {
        let d = doc! {"_id": 1, "n": 1, "a": [1, 2, 3], "s": {"x": 1}};
        let u = doc! {
            "$inc": {"n": 2, "s.y": 1}, "$push": {"a": {"$each": [9, 0], "$sort": 1, "$slice": -3}},
            "$set": {"t.u": "v"}, "$unset": {"s.x": ""}, "$min": {"m": 4}
        };
        assert_eq!(
            update(d, u, None, vec![]).unwrap(),
            doc! {"_id": 1, "n": 3, "a": [2, 3, 9], "s": {"y": 1}, "t": {"u": "v"}, "m": 4}
        );
    }

    #[test]
    fn positional_forms() {
        let d = doc! {"_id": 1, "g": [{"s": 80}, {"s": 90}, {"s": 95}]};
        let by_query = update(
            d.clone(),
            doc! {"$set": {"g.$.s": 0}},
            Some(doc! {"g.s": 90}),
            vec![],
        )
        .unwrap();
        assert_eq!(
            by_query.get_array("g").unwrap()[1],
            Bson::Document(doc! {"s": 0})
        );
        let all = update(d.clone(), doc! {"$inc": {"g.$[].s": 1}}, None, vec![]).unwrap();
        assert_eq!(
            all.get_array("g").unwrap()[0],
            Bson::Document(doc! {"s": 81})
        );
        let filtered = update(
            d,
            doc! {"$set": {"g.$[e].s": 100}},
            None,
            vec![Bson::Document(doc! {"e.s": {"$gte": 90}})],
        )
        .unwrap();
        assert_eq!(
            filtered.get_array("g").unwrap()[2],
            Bson::Document(doc! {"s": 100})
        );
        assert_eq!(
            filtered.get_array("g").unwrap()[0],
            Bson::Document(doc! {"s": 80})
        );
    }

    #[test]
    fn errors_match_mongodb() {
        let d = doc! {"_id": 1, "s": "x"};
        assert_eq!(
            update(d.clone(), doc! {"$inc": {"s": 1}}, None, vec![])
                .unwrap_err()
                .code,
            14
        );
        assert_eq!(
            update(d.clone(), doc! {"$set": {"_id": 2}}, None, vec![])
                .unwrap_err()
                .code,
            66
        );
        assert_eq!(
            update(
                d.clone(),
                doc! {"$set": {"a": 1}, "$inc": {"a": 1}},
                None,
                vec![]
            )
            .unwrap_err()
            .code,
            40
        );
        assert_eq!(
            update(d, doc! {"$bogus": {"a": 1}}, None, vec![])
                .unwrap_err()
                .code,
            9
        );
    }
}
