//! Choosing an index lookup for a query: one `WHERE` conjunct on a path of
//! the document (`c.a = 1`, `c.a IN (...)`, `c.n > 5`, `c.n BETWEEN 1 AND 9`,
//! `ARRAY_CONTAINS(c.tags, 'x')`, or a condition on an array's elements in
//! `EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t > 5)`). The lookup only
//! narrows which items are read; the whole query still runs on them, so a
//! lookup never changes results.

use cosmonaut_query::{compare_values, BinaryOp, Expr, Parameters, Query, Source};
use serde_json::Value;

use super::{IndexPolicy, Segment};

/// Values of one path to read from the index.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueRange {
    Equal(Value),
    /// Bounds with inclusiveness; `type_of` names the type scanned when a side is open.
    Between {
        low: Option<(Value, bool)>,
        high: Option<(Value, bool)>,
        type_of: Value,
    },
}

/// A path and the union of value ranges to read.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub path: Vec<Segment>,
    pub ranges: Vec<ValueRange>,
}

pub fn plan_lookup(query: &Query, parameters: &Parameters, policy: &IndexPolicy) -> Option<Lookup> {
    let alias = document_alias(query)?;
    let mut conjuncts = Vec::new();
    flatten_and(query.filter.as_ref()?, &mut conjuncts);
    let candidates: Vec<Lookup> = conjuncts
        .into_iter()
        .filter_map(|c| lookup_for(c, alias, parameters))
        .filter(|l| policy.includes(&l.path))
        .collect();
    // Two ranges on array elements from two `EXISTS` may hold for two
    // different elements, so only ranges on one value narrow each other.
    best_of(candidates, |l| !l.path.contains(&Segment::Element))
}

/// The lookup that is the whole filter, when there is one: every conjunct
/// a lookup on one path (not on array elements), ranges intersected. The
/// items its entries name are then exactly those the filter keeps, as long
/// as the index cut no string (a cut bound stands for every string with
/// its prefix), so a count of its entries is the count of those items.
pub fn exact_lookup(
    query: &Query,
    parameters: &Parameters,
    policy: &IndexPolicy,
) -> Option<Lookup> {
    let alias = document_alias(query)?;
    let mut conjuncts = Vec::new();
    flatten_and(query.filter.as_ref()?, &mut conjuncts);
    let mut lookups = conjuncts
        .into_iter()
        .map(|c| lookup_for(c, alias, parameters))
        .collect::<Option<Vec<_>>>()?
        .into_iter();
    let first = lookups.next()?;
    if !policy.includes(&first.path) || first.path.contains(&Segment::Element) {
        return None;
    }
    lookups.try_fold(first, |acc, next| {
        if next.path != acc.path {
            return None;
        }
        match (acc.ranges.as_slice(), next.ranges.as_slice()) {
            ([a @ ValueRange::Between { .. }], [b @ ValueRange::Between { .. }]) => {
                let both = intersect(a, b)?;
                Some(Lookup {
                    path: acc.path,
                    ranges: vec![both],
                })
            }
            _ => None,
        }
    })
}

/// The lookup that narrows most: an equality, else a range narrowed by
/// any other range on the same path that `narrows` allows (`c.n >= 5 AND
/// c.n < 9`).
fn best_of(candidates: Vec<Lookup>, narrows: impl Fn(&Lookup) -> bool) -> Option<Lookup> {
    let is_point = |l: &Lookup| l.ranges.iter().all(|r| matches!(r, ValueRange::Equal(_)));
    if let Some(point) = candidates.iter().find(|l| is_point(l)) {
        return Some(point.clone());
    }
    let mut best = candidates.first()?.clone();
    for other in &candidates[1..] {
        if other.path == best.path && narrows(&best) {
            if let (Some(a), Some(b)) = (best.ranges.first(), other.ranges.first()) {
                if let Some(both) = intersect(a, b) {
                    best.ranges = vec![both];
                }
            }
        }
    }
    Some(best)
}

/// The intersection of two one-path ranges over the same type.
fn intersect(a: &ValueRange, b: &ValueRange) -> Option<ValueRange> {
    let (
        ValueRange::Between {
            low: low_a,
            high: high_a,
            type_of,
        },
        ValueRange::Between {
            low: low_b,
            high: high_b,
            type_of: type_b,
        },
    ) = (a, b)
    else {
        return None;
    };
    if type_of.is_number() != type_b.is_number() {
        return None;
    }
    // The tighter of two bounds: the greater low, or the lesser high; on a
    // tie, the exclusive one.
    let tighter =
        |x: &Option<(Value, bool)>, y: &Option<(Value, bool)>, want_greater: bool| match (x, y) {
            (None, other) | (other, None) => other.clone(),
            (Some((vx, ix)), Some((vy, iy))) => {
                let order = compare_values(&Some(vx.clone()), &Some(vy.clone()));
                let pick_x = match order.unwrap_or(std::cmp::Ordering::Equal) {
                    std::cmp::Ordering::Equal => !*ix || *iy,
                    std::cmp::Ordering::Greater => want_greater,
                    std::cmp::Ordering::Less => !want_greater,
                };
                Some(if pick_x {
                    (vx.clone(), *ix)
                } else {
                    (vy.clone(), *iy)
                })
            }
        };
    Some(ValueRange::Between {
        low: tighter(low_a, low_b, true),
        high: tighter(high_a, high_b, false),
        type_of: type_of.clone(),
    })
}

pub(crate) fn flatten_and<'q>(expr: &'q Expr, out: &mut Vec<&'q Expr>) {
    match expr {
        Expr::Binary(BinaryOp::And, a, b) => {
            flatten_and(a, out);
            flatten_and(b, out);
        }
        other => out.push(other),
    }
}

/// `c.a.b` (or `c["a"].b`) as a path below the document bound to `alias`.
pub fn path_of(expr: &Expr, alias: &str) -> Option<Vec<Segment>> {
    let names = expr.property_path(alias)?;
    Some(names.into_iter().map(Segment::Property).collect())
}

/// The alias documents are bound to when the query reads whole documents
/// (`FROM c`, `FROM root r`), not a path into them.
pub fn document_alias(query: &Query) -> Option<&str> {
    match &query.from.as_ref()?.source {
        Source::Collection { alias, path, .. } if path.is_empty() => Some(alias.as_str()),
        _ => None,
    }
}

fn constant(expr: &Expr, parameters: &Parameters) -> Option<Value> {
    let value = match expr {
        Expr::Literal(v) => v.clone(),
        Expr::Parameter(p) => parameters.get(p)?.clone(),
        _ => return None,
    };
    (!value.is_array() && !value.is_object()).then_some(value)
}

fn orderable(v: &Value) -> bool {
    v.is_number() || v.is_string()
}

pub(crate) fn lookup_for(expr: &Expr, alias: &str, parameters: &Parameters) -> Option<Lookup> {
    lookup_at(expr, alias, parameters).filter(|l| !l.path.is_empty())
}

/// A lookup on what `alias` is bound to (the document, or an array element
/// in an `EXISTS` subquery, where the path may be empty: the element itself).
fn lookup_at(expr: &Expr, alias: &str, parameters: &Parameters) -> Option<Lookup> {
    let point = |path: Vec<Segment>, values: Vec<Value>| {
        Some(Lookup {
            path,
            ranges: values.into_iter().map(ValueRange::Equal).collect(),
        })
    };
    match expr {
        Expr::Binary(op, a, b) => {
            let (path, value, flipped) = match (path_of(a, alias), path_of(b, alias)) {
                (Some(p), None) => (p, constant(b, parameters)?, false),
                (None, Some(p)) => (p, constant(a, parameters)?, true),
                _ => return None,
            };
            // Normalise `5 < c.n` to `c.n > 5`.
            let op = match (op, flipped) {
                (BinaryOp::Less, true) => BinaryOp::Greater,
                (BinaryOp::LessOrEqual, true) => BinaryOp::GreaterOrEqual,
                (BinaryOp::Greater, true) => BinaryOp::Less,
                (BinaryOp::GreaterOrEqual, true) => BinaryOp::LessOrEqual,
                (op, _) => *op,
            };
            let range = |low, high| ValueRange::Between {
                low,
                high,
                type_of: value.clone(),
            };
            let ranges = match op {
                BinaryOp::Equal => vec![ValueRange::Equal(value.clone())],
                _ if !orderable(&value) => return None,
                BinaryOp::Greater => vec![range(Some((value.clone(), false)), None)],
                BinaryOp::GreaterOrEqual => vec![range(Some((value.clone(), true)), None)],
                BinaryOp::Less => vec![range(None, Some((value.clone(), false)))],
                BinaryOp::LessOrEqual => vec![range(None, Some((value.clone(), true)))],
                _ => return None,
            };
            Some(Lookup { path, ranges })
        }
        Expr::Between {
            value,
            low,
            high,
            negated: false,
        } => {
            let path = path_of(value, alias)?;
            let (low, high) = (constant(low, parameters)?, constant(high, parameters)?);
            let same_type =
                (low.is_number() && high.is_number()) || (low.is_string() && high.is_string());
            same_type.then(|| Lookup {
                path,
                ranges: vec![ValueRange::Between {
                    type_of: low.clone(),
                    low: Some((low, true)),
                    high: Some((high, true)),
                }],
            })
        }
        Expr::In {
            value,
            list,
            negated: false,
        } => {
            let path = path_of(value, alias)?;
            let values = list
                .iter()
                .map(|e| constant(e, parameters))
                .collect::<Option<Vec<_>>>()?;
            point(path, values)
        }
        Expr::Call {
            name,
            args,
            udf: false,
        } if name == "ARRAY_CONTAINS" => {
            let partial = match args.get(2) {
                None => false,
                Some(Expr::Literal(Value::Bool(b))) => *b,
                Some(_) => return None,
            };
            let mut path = path_of(args.first()?, alias)?;
            let wanted = constant(args.get(1)?, parameters)?;
            if partial && wanted.is_object() {
                return None;
            }
            path.push(Segment::Element);
            point(path, vec![wanted])
        }
        Expr::Exists(subquery) => element_lookup(subquery, alias, parameters),
        _ => None,
    }
}

/// `EXISTS(SELECT ... FROM t IN c.tags WHERE <conditions on t>)`: an item
/// qualifies only if some element meets every condition, so a lookup on
/// one of them over the elements' index entries (`tags[]`, `tags[]/name`)
/// finds every such item.
fn element_lookup(subquery: &Query, alias: &str, parameters: &Parameters) -> Option<Lookup> {
    let from = subquery.from.as_ref()?;
    let Source::Iterate {
        alias: element,
        expr,
    } = &from.source
    else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let mut array = path_of(expr, alias).filter(|p| !p.is_empty())?;
    array.push(Segment::Element);
    let mut conjuncts = Vec::new();
    flatten_and(subquery.filter.as_ref()?, &mut conjuncts);
    let on_elements = conjuncts
        .into_iter()
        .filter_map(|c| lookup_at(c, element, parameters))
        .map(|l| Lookup {
            path: array.iter().cloned().chain(l.path).collect(),
            ranges: l.ranges,
        })
        .collect();
    // Conditions on the one element bound to `element` narrow each other.
    best_of(on_elements, |_| true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(text: &str) -> Option<Lookup> {
        let params: Parameters = [("@p".to_string(), json!("v"))].into();
        plan_lookup(
            &cosmonaut_query::parse(text).expect("parse"),
            &params,
            &IndexPolicy::from_container(&json!({})),
        )
    }

    fn path(names: &[&str]) -> Vec<Segment> {
        names
            .iter()
            .map(|n| Segment::Property(n.to_string()))
            .collect()
    }

    #[test]
    fn an_exact_lookup_is_the_whole_filter() {
        let policy = IndexPolicy::from_container(&json!({}));
        let exact = |text: &str| {
            exact_lookup(
                &cosmonaut_query::parse(text).expect("parse"),
                &Parameters::new(),
                &policy,
            )
        };
        assert!(exact("SELECT VALUE COUNT(1) FROM c WHERE c.n > 5").is_some());
        assert!(exact("SELECT VALUE COUNT(1) FROM c WHERE c.k IN ('a', 'b')").is_some());
        let both = exact("SELECT VALUE COUNT(1) FROM c WHERE c.n >= 5 AND c.n < 9").expect("range");
        assert_eq!(
            both.ranges,
            vec![ValueRange::Between {
                low: Some((json!(5), true)),
                high: Some((json!(9), false)),
                type_of: json!(5)
            }]
        );
        for text in [
            "SELECT VALUE COUNT(1) FROM c",
            "SELECT VALUE COUNT(1) FROM c WHERE c.n > 5 AND c.kind = 'x'",
            "SELECT VALUE COUNT(1) FROM c WHERE c.n > 5 AND c.m > 5",
            "SELECT VALUE COUNT(1) FROM c WHERE c.n > 5 OR c.n < 1",
            "SELECT VALUE COUNT(1) FROM c WHERE ARRAY_CONTAINS(c.tags, 'x')",
            "SELECT VALUE COUNT(1) FROM c WHERE c.n > 5 AND c.n > 'x'",
            "SELECT VALUE COUNT(1) FROM c WHERE c.n != 5",
        ] {
            assert!(exact(text).is_none(), "{text}");
        }
    }

    #[test]
    fn picks_indexable_conjuncts() {
        assert_eq!(
            plan("SELECT * FROM c WHERE c.a.b = @p").map(|l| l.path),
            Some(path(&["a", "b"]))
        );
        let l = plan("SELECT * FROM c WHERE c.n > 5 AND c.kind = 'x'").expect("lookup");
        assert_eq!(l.path, path(&["kind"]), "equality preferred");
        let l = plan("SELECT * FROM c WHERE 5 <= c.n").expect("lookup");
        assert_eq!(
            l.ranges,
            vec![ValueRange::Between {
                low: Some((json!(5), true)),
                high: None,
                type_of: json!(5)
            }]
        );
        assert_eq!(
            plan("SELECT * FROM c WHERE c.k IN ('a', 'b')")
                .expect("in")
                .ranges
                .len(),
            2
        );
        let l = plan("SELECT * FROM c WHERE ARRAY_CONTAINS(c.tags, 'x')").expect("contains");
        assert_eq!(
            l.path,
            vec![Segment::Property("tags".into()), Segment::Element]
        );
        let tags = vec![Segment::Property("tags".into()), Segment::Element];
        let l = plan(
            "SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t >= 5 AND t < 9)",
        )
        .expect("exists");
        assert_eq!(l.path, tags);
        assert_eq!(
            l.ranges,
            vec![ValueRange::Between {
                low: Some((json!(5), true)),
                high: Some((json!(9), false)),
                type_of: json!(5)
            }]
        );
        let l = plan("SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t.n > 1 AND t.k = @p)")
            .expect("exists on a property");
        assert_eq!(
            l.path,
            [tags.clone(), path(&["k"])].concat(),
            "equality preferred"
        );
        assert_eq!(l.ranges, vec![ValueRange::Equal(json!("v"))]);
        // Conditions on the outer document, or under NOT, narrow nothing here.
        assert!(plan(
            "SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t > c.min)"
        )
        .is_none());
        assert!(plan(
            "SELECT * FROM c WHERE NOT EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t > 5)"
        )
        .is_none());
        assert!(plan("SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags)").is_none());
        // Two EXISTS may be met by two elements: their ranges stay apart.
        let l = plan(
            "SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t >= 5) \
             AND EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t < 3)",
        )
        .expect("exists");
        assert_eq!(
            l.ranges,
            vec![ValueRange::Between {
                low: Some((json!(5), true)),
                high: None,
                type_of: json!(5)
            }]
        );
        assert!(plan("SELECT * FROM c WHERE c.a = 1 OR c.b = 2").is_none());
        assert!(plan("SELECT * FROM c WHERE NOT c.a = 1").is_none());
        assert!(plan("SELECT * FROM c WHERE c.a > true").is_none());
        assert!(plan("SELECT * FROM c WHERE c.a = c.b").is_none());
        let l = plan("SELECT * FROM c WHERE c.n >= 5 AND c.n < 9 AND c.n > 5").expect("range");
        assert_eq!(
            l.ranges,
            vec![ValueRange::Between {
                low: Some((json!(5), false)),
                high: Some((json!(9), false)),
                type_of: json!(5)
            }]
        );
        assert!(plan("SELECT * FROM t IN c.tags WHERE t = 1").is_none());
    }
}
