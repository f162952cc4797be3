//! The query plan clients ask for before running a query across physical
//! partitions (`partitionedQueryExecutionInfo`). It tells the client what to
//! merge (ordering, aggregates, groups, DISTINCT, TOP, OFFSET/LIMIT) and gives
//! the query each partition runs instead, whose results carry what the merge
//! needs:
//!
//! - ORDER BY: `{_rid, orderByItems: [{item}], payload}` per row, with a
//!   `{documentdb-formattableorderbyquery-filter}` placeholder in `WHERE` that
//!   the client fills with `true` or a resume condition;
//! - aggregates: partial results shaped per function (`{item}`, `{sum, count}`,
//!   `{min, count}`, `{max, count}`);
//! - GROUP BY: `{groupByItems: [{item}], payload}` with aggregates inside the payload;
//! - OFFSET/LIMIT: each partition returns the first `offset + limit` rows.

use serde_json::{json, Map, Value};

use crate::ast::*;
use crate::eval::{Context, Parameters};
use crate::functions;
use crate::QueryError;

/// Replaced by the client with a filter before a partition runs the query.
pub const ORDER_BY_FILTER_PLACEHOLDER: &str = "{documentdb-formattableorderbyquery-filter}";

/// The `queryInfo` of a plan, as the SDKs read it. `TOP`, `OFFSET` and
/// `LIMIT` given by parameters are bound to their values, as the service's
/// plan reports them.
pub fn query_info(query: &Query, parameters: &Parameters) -> Result<Value, QueryError> {
    let query = &bind_counts(query, parameters)?;
    let aggregating = query.has_aggregates() || !query.group_by.is_empty();
    let has_select_value = matches!(query.select.projection, Projection::Value(_));
    let mut aggregates: Vec<&'static str> = Vec::new();
    let mut alias_to_aggregate = Map::new();
    let mut group_by_aliases = Vec::new();
    let rewritten = if aggregating {
        match &query.select.projection {
            Projection::Value(expr) => match top_aggregate(expr) {
                Some((name, _)) => aggregates.push(aggregate_type(name)),
                None if query.group_by.is_empty() || query.has_aggregates() => {
                    return Err(cross_partition(
                        "an aggregate inside a larger SELECT VALUE expression",
                    ))
                }
                None => {}
            },
            Projection::List(items) => {
                for (item, alias) in items.iter().zip(select_aliases(items)) {
                    let kind = match top_aggregate(&item.expr) {
                        Some((name, _)) => json!(aggregate_type(name)),
                        None if query.has_aggregates()
                            && crate::exec::contains_aggregate(&item.expr) =>
                        {
                            return Err(cross_partition("an aggregate inside a larger expression"))
                        }
                        None => Value::Null,
                    };
                    alias_to_aggregate.insert(alias.clone(), kind);
                    group_by_aliases.push(alias);
                }
            }
            Projection::Star => {}
        }
        rewrite_aggregating(query)?
    } else if !query.order_by.is_empty() {
        rewrite_order_by(query)
    } else if query.select.distinct && (query.select.top.is_some() || query.offset_limit.is_some())
    {
        // Duplicates are removed across partitions, so every partition's
        // distinct rows reach the client before it counts any off.
        let mut q = query.clone();
        q.select.top = None;
        q.offset_limit = None;
        q.to_string()
    } else if query.offset_limit.is_some() {
        limit_per_partition(query.clone()).to_string()
    } else {
        String::new()
    };
    let distinct_type = match (query.select.distinct, query.order_by.is_empty()) {
        (false, _) => "None",
        (true, false) => "Ordered",
        (true, true) => "Unordered",
    };
    // One aggregate row per partition has nothing to order: the client is
    // not asked to merge by the keys (the partitions still see them).
    let order_by: &[SortKey] = if aggregating && query.group_by.is_empty() {
        &[]
    } else {
        &query.order_by
    };
    let number = |e: Option<&Expr>| match e {
        Some(Expr::Literal(v)) => v.clone(),
        _ => Value::Null,
    };
    let (offset, limit) = match &query.offset_limit {
        Some((o, l)) => (number(Some(o)), number(Some(l))),
        None => (Value::Null, Value::Null),
    };
    Ok(json!({
        "distinctType": distinct_type,
        "top": number(query.select.top.as_ref()),
        "offset": offset,
        "limit": limit,
        "orderBy": order_by.iter().map(|k| if k.descending { "Descending" } else { "Ascending" }).collect::<Vec<_>>(),
        "orderByExpressions": order_by.iter().map(|k| k.expr.to_string()).collect::<Vec<_>>(),
        "groupByExpressions": query.group_by.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "groupByAliases": group_by_aliases,
        "aggregates": aggregates,
        "groupByAliasToAggregateType": alias_to_aggregate,
        "rewrittenQuery": rewritten,
        "hasSelectValue": has_select_value,
        "dCountInfo": null,
        "hasNonStreamingOrderBy": false,
    }))
}

/// The query with its `TOP`, `OFFSET` and `LIMIT` counts as number literals,
/// so the plan can report them and the client can count rows off.
fn bind_counts(query: &Query, parameters: &Parameters) -> Result<Query, QueryError> {
    let ctx = Context::new(parameters, None);
    let bind = |e: &Expr, clause: &str| {
        crate::exec::count(e, &ctx, clause).map(|n| Expr::Literal(json!(n)))
    };
    let mut q = query.clone();
    if let Some(top) = &query.select.top {
        q.select.top = Some(bind(top, "TOP")?);
    }
    if let Some((offset, limit)) = &query.offset_limit {
        q.offset_limit = Some((bind(offset, "OFFSET")?, bind(limit, "LIMIT")?));
    }
    Ok(q)
}

fn cross_partition(what: &str) -> QueryError {
    QueryError::Unsupported(format!("{what} across several physical partitions"))
}

/// The aggregate an expression consists of, if it is exactly one call.
fn top_aggregate(expr: &Expr) -> Option<(&str, Option<&Expr>)> {
    match expr {
        Expr::Call {
            name,
            args,
            udf: false,
        } if functions::is_aggregate(name) => Some((name, args.first())),
        _ => None,
    }
}

fn aggregate_type(name: &str) -> &'static str {
    match name {
        "COUNT" => "Count",
        "SUM" => "Sum",
        "AVG" => "Average",
        "MIN" => "Min",
        "MAX" => "Max",
        _ => "CountIf",
    }
}

/// The partial result a partition returns for one aggregate. MIN and MAX
/// carry the plain value as `item` (what older clients read) and the
/// composite `{min|max, count}` as `item2` (what newer clients prefer), so an
/// empty partition is told apart from a null result.
fn partial(name: &str, arg: Option<&Expr>) -> Expr {
    let call = |n: &str| Expr::Call {
        name: n.into(),
        args: arg.cloned().into_iter().collect(),
        udf: false,
    };
    let mut fields = Vec::new();
    match name {
        "AVG" => fields.push((
            "item".into(),
            Expr::Object(vec![
                ("sum".into(), call("SUM")),
                ("count".into(), call("COUNT")),
            ]),
        )),
        "MIN" | "MAX" => {
            let key = name.to_ascii_lowercase();
            fields.push(("item".into(), call(name)));
            fields.push((
                "item2".into(),
                Expr::Object(vec![(key, call(name)), ("count".into(), call("COUNT"))]),
            ));
        }
        other => fields.push(("item".into(), call(other))),
    }
    Expr::Object(fields)
}

/// The query features a plan needs the client to support, named as in
/// `x-ms-cosmos-supported-query-features`.
pub fn required_features(query: &Query) -> Vec<&'static str> {
    let mut needs = Vec::new();
    match query.order_by.len() {
        0 => {}
        1 => needs.push("OrderBy"),
        _ => needs.push("MultipleOrderBy"),
    }
    if !query.group_by.is_empty() {
        needs.push("GroupBy");
    }
    let aggregates: Vec<&str> = match &query.select.projection {
        Projection::Value(e) => top_aggregate(e).map(|(n, _)| n).into_iter().collect(),
        Projection::List(items) => items
            .iter()
            .filter_map(|i| top_aggregate(&i.expr).map(|(n, _)| n))
            .collect(),
        Projection::Star => Vec::new(),
    };
    if !aggregates.is_empty() {
        needs.push("Aggregate");
        if matches!(query.select.projection, Projection::List(_)) {
            needs.push("NonValueAggregate");
        }
        if aggregates.len() > 1 {
            needs.push("MultipleAggregates");
        }
        if aggregates.contains(&"COUNTIF") {
            needs.push("CountIf");
        }
    }
    if query.select.distinct {
        needs.push("Distinct");
    }
    if query.select.top.is_some() {
        needs.push("Top");
    }
    if query.offset_limit.is_some() {
        needs.push("OffsetAndLimit");
    }
    needs
}

fn items(exprs: &[Expr]) -> Expr {
    Expr::Array(
        exprs
            .iter()
            .map(|e| Expr::Object(vec![("item".into(), e.clone())]))
            .collect(),
    )
}

fn select_aliases(items: &[SelectItem]) -> Vec<String> {
    crate::exec::output_names(items)
}

fn rewrite_aggregating(query: &Query) -> Result<String, QueryError> {
    if !query.group_by.is_empty() && !query.order_by.is_empty() {
        return Err(cross_partition("GROUP BY together with ORDER BY"));
    }
    // The client counts TOP, OFFSET and LIMIT off the merged groups.
    let mut q = query.clone();
    q.select.top = None;
    q.offset_limit = None;
    let payload = match &query.select.projection {
        Projection::Value(expr) => match top_aggregate(expr) {
            Some((name, arg)) => Expr::Array(vec![partial(name, arg)]),
            None => expr.clone(),
        },
        Projection::List(list) => Expr::Object(
            list.iter()
                .zip(select_aliases(list))
                .map(|(item, alias)| match top_aggregate(&item.expr) {
                    Some((name, arg)) => (alias, partial(name, arg)),
                    None => (alias, item.expr.clone()),
                })
                .collect(),
        ),
        Projection::Star => return Err(cross_partition("SELECT * with GROUP BY")),
    };
    let mut select = Vec::new();
    if !query.group_by.is_empty() {
        select.push(SelectItem {
            expr: items(&query.group_by),
            alias: Some("groupByItems".into()),
        });
        select.push(SelectItem {
            expr: payload,
            alias: Some("payload".into()),
        });
        q.select.projection = Projection::List(select);
    } else if matches!(query.select.projection, Projection::Value(_)) {
        q.select.projection = Projection::Value(payload);
    } else {
        select.push(SelectItem {
            expr: payload,
            alias: Some("payload".into()),
        });
        q.select.projection = Projection::List(select);
    }
    Ok(q.to_string())
}

fn rewrite_order_by(query: &Query) -> String {
    let mut q = limit_per_partition(query.clone());
    if query.select.distinct {
        // The client removes duplicates before it counts rows off, so each
        // partition must send all its rows, not its first few.
        q.select.top = None;
        q.offset_limit = None;
    }
    q.select.distinct = false;
    let root = q.from.as_ref().map_or_else(String::new, |f| {
        crate::exec::root_name(&f.source).to_string()
    });
    let payload = match &query.select.projection {
        Projection::Star => Expr::Identifier(
            q.from
                .as_ref()
                .map_or_else(String::new, |f| f.source.alias().to_string()),
        ),
        Projection::Value(e) => e.clone(),
        Projection::List(list) => Expr::Object(
            list.iter()
                .zip(select_aliases(list))
                .map(|(item, alias)| (alias, item.expr.clone()))
                .collect(),
        ),
    };
    let keys: Vec<Expr> = query.order_by.iter().map(|k| k.expr.clone()).collect();
    q.select.projection = Projection::List(vec![
        SelectItem {
            expr: Expr::Property(Box::new(Expr::Identifier(root)), "_rid".into()),
            alias: Some("_rid".into()),
        },
        SelectItem {
            expr: items(&keys),
            alias: Some("orderByItems".into()),
        },
        SelectItem {
            expr: payload,
            alias: Some("payload".into()),
        },
    ]);
    q.filter = None;
    let text = q.to_string();
    // The placeholder is not an expression, so it is spliced into the text.
    let mut condition = format!("({ORDER_BY_FILTER_PLACEHOLDER})");
    if let Some(f) = &query.filter {
        condition = format!("(({f}) AND {condition})");
    }
    // A VALUE row whose value is undefined is no result, as without ORDER BY.
    if let Projection::Value(e) = &query.select.projection {
        condition = format!("({condition} AND IS_DEFINED({e}))");
    }
    match text.find(" ORDER BY ") {
        Some(at) => format!("{} WHERE {condition}{}", &text[..at], &text[at..]),
        None => format!("{text} WHERE {condition}"),
    }
}

/// Each partition returns its first `offset + limit` rows; the client skips the offset.
fn limit_per_partition(mut q: Query) -> Query {
    if let Some((Expr::Literal(o), Expr::Literal(l))) = &q.offset_limit {
        let total = o
            .as_u64()
            .unwrap_or(0)
            .saturating_add(l.as_u64().unwrap_or(0));
        q.offset_limit = Some((Expr::Literal(json!(0)), Expr::Literal(json!(total))));
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, Parameters};

    fn info(text: &str) -> Value {
        query_info(&parse(text).expect("parse"), &Parameters::new()).expect("plan")
    }

    /// What the client does to the rewritten query before sending it.
    fn runnable(rewritten: &str) -> Query {
        let text = rewritten.replace(ORDER_BY_FILTER_PLACEHOLDER, "true");
        let q = parse(&text).expect(&text);
        q.validate(&Parameters::new()).expect(&text);
        q
    }

    #[test]
    fn plain_queries_need_nothing_merged() {
        let i = info("SELECT * FROM c WHERE c.a = 1");
        assert_eq!(i["rewrittenQuery"], "");
        assert_eq!(i["distinctType"], "None");
        assert_eq!(i["orderBy"], json!([]));
    }

    #[test]
    fn order_by_rows_carry_their_sort_keys() {
        let i = info("SELECT c.name FROM c WHERE c.age > 1 ORDER BY c.age DESC, c.name");
        assert_eq!(i["orderBy"], json!(["Descending", "Ascending"]));
        let rewritten = i["rewrittenQuery"].as_str().expect("text");
        assert!(rewritten.contains(ORDER_BY_FILTER_PLACEHOLDER));
        let rows = runnable(rewritten)
            .run(
                [
                    json!({"_rid": "r1", "name": "a", "age": 5}),
                    json!({"_rid": "r2", "name": "b", "age": 0}),
                ],
                &Parameters::new(),
            )
            .expect("run");
        assert_eq!(
            rows,
            vec![
                json!({"_rid": "r1", "orderByItems": [{"item": 5}, {"item": "a"}], "payload": {"name": "a"}})
            ]
        );
    }

    #[test]
    fn aggregates_return_partials() {
        let i = info("SELECT VALUE AVG(c.n) FROM c");
        assert_eq!(i["aggregates"], json!(["Average"]));
        let rows = runnable(i["rewrittenQuery"].as_str().expect("text"))
            .run([json!({"n": 1}), json!({"n": 3})], &Parameters::new())
            .expect("run");
        assert_eq!(rows, vec![json!([{"item": {"sum": 4, "count": 2}}])]);

        let i = info("SELECT c.g, COUNT(1) AS n, MAX(c.v) AS hi FROM c GROUP BY c.g");
        assert_eq!(
            i["groupByAliasToAggregateType"],
            json!({"g": null, "n": "Count", "hi": "Max"})
        );
        let rows = runnable(i["rewrittenQuery"].as_str().expect("text"))
            .run(
                [json!({"g": "x", "v": 2}), json!({"g": "x", "v": 7})],
                &Parameters::new(),
            )
            .expect("run");
        assert_eq!(
            rows,
            vec![
                json!({"groupByItems": [{"item": "x"}], "payload": {"g": "x", "n": {"item": 2}, "hi": {"item": 7, "item2": {"max": 7, "count": 2}}}})
            ]
        );
    }

    #[test]
    fn features_a_client_must_support() {
        let needs = |t: &str| required_features(&parse(t).expect("parse"));
        assert_eq!(needs("SELECT * FROM c"), Vec::<&str>::new());
        assert_eq!(
            needs("SELECT c.g, COUNT(1) AS n FROM c GROUP BY c.g"),
            ["GroupBy", "Aggregate", "NonValueAggregate"]
        );
        assert_eq!(
            needs("SELECT DISTINCT TOP 1 c.a FROM c ORDER BY c.a, c.b"),
            ["MultipleOrderBy", "Distinct", "Top"]
        );
    }

    #[test]
    fn offset_limit_and_distinct() {
        let i = info("SELECT DISTINCT VALUE c.a FROM c OFFSET 5 LIMIT 10");
        assert_eq!(
            (
                i["offset"].clone(),
                i["limit"].clone(),
                i["distinctType"].clone()
            ),
            (json!(5), json!(10), json!("Unordered"))
        );
        // DISTINCT is global, so partitions return all their distinct rows.
        assert!(!i["rewrittenQuery"]
            .as_str()
            .expect("text")
            .contains("OFFSET"));
        let i = info("SELECT * FROM c ORDER BY c.a OFFSET 5 LIMIT 10");
        assert_eq!(
            (i["offset"].clone(), i["limit"].clone()),
            (json!(5), json!(10))
        );
        assert!(i["rewrittenQuery"]
            .as_str()
            .expect("text")
            .ends_with("OFFSET 0 LIMIT 15"));
        assert_eq!(
            info("SELECT DISTINCT c.a FROM c ORDER BY c.a")["distinctType"],
            "Ordered"
        );
        assert_eq!(info("SELECT TOP 3 * FROM c")["top"], 3);
    }

    #[test]
    fn parameter_counts_are_bound() {
        let parameters: Parameters = [("@n".to_string(), json!(9))].into();
        let plan = |t: &str| query_info(&parse(t).expect("parse"), &parameters);
        let i = plan("SELECT TOP @n * FROM c").expect("plan");
        assert_eq!(
            (i["top"].clone(), i["rewrittenQuery"].clone()),
            (json!(9), json!(""))
        );
        let i = plan("SELECT TOP @n * FROM c ORDER BY c.a").expect("plan");
        assert!(i["rewrittenQuery"]
            .as_str()
            .expect("text")
            .starts_with("SELECT TOP 9 "));
        let i = plan("SELECT * FROM c OFFSET @n LIMIT @n").expect("plan");
        assert_eq!(
            (i["offset"].clone(), i["limit"].clone()),
            (json!(9), json!(9))
        );
        let wrong: Parameters = [("@n".to_string(), json!("x"))].into();
        assert!(query_info(&parse("SELECT TOP @n * FROM c").expect("parse"), &wrong).is_err());
    }

    #[test]
    fn aggregates_with_top_and_order_by() {
        let i = info("SELECT TOP 10 VALUE COUNT(c.id) FROM c");
        assert_eq!(
            (i["top"].clone(), i["aggregates"].clone()),
            (json!(10), json!(["Count"]))
        );
        let rewritten = i["rewrittenQuery"].as_str().expect("text");
        assert!(!rewritten.contains("TOP"), "{rewritten}");
        // One aggregate row per partition: nothing for the client to order.
        let i = info("SELECT VALUE SUM(c.n) FROM c WHERE true ORDER BY c.n");
        assert_eq!(i["orderBy"], json!([]));
        let rows = runnable(i["rewrittenQuery"].as_str().expect("text"))
            .run([json!({"n": 1}), json!({"n": 3})], &Parameters::new())
            .expect("run");
        assert_eq!(rows, vec![json!([{"item": 4}])]);
    }

    #[test]
    fn distinct_order_by_counts_rows_off_at_the_client() {
        let i = info("SELECT DISTINCT c.v FROM c ORDER BY c.pk OFFSET 2 LIMIT 2");
        assert_eq!(
            (i["offset"].clone(), i["limit"].clone()),
            (json!(2), json!(2))
        );
        let rewritten = i["rewrittenQuery"].as_str().expect("text");
        assert!(
            !rewritten.contains("LIMIT") && !rewritten.contains("DISTINCT"),
            "{rewritten}"
        );
        let rewritten =
            info("SELECT DISTINCT TOP 2 c.v FROM c ORDER BY c.pk")["rewrittenQuery"].clone();
        assert!(
            !rewritten.as_str().expect("text").contains("TOP"),
            "{rewritten}"
        );
    }

    #[test]
    fn ordered_values_must_be_defined() {
        let i = info("SELECT DISTINCT VALUE c.a FROM c WHERE c.b = 1 ORDER BY c.a");
        let rows = runnable(i["rewrittenQuery"].as_str().expect("text"))
            .run(
                [
                    json!({"_rid": "r1", "a": 2, "b": 1}),
                    json!({"_rid": "r2", "b": 1}),
                ],
                &Parameters::new(),
            )
            .expect("run");
        assert_eq!(
            rows,
            vec![json!({"_rid": "r1", "orderByItems": [{"item": 2}], "payload": 2})]
        );
    }
}
