//! `GetCurrentDateTimeStatic()` and its kin return one value for every item
//! a query reads. Freezing replaces those calls by literals read from one
//! clock reading before the query runs.

use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::ast::*;
use crate::functions::static_time_values;

impl Query {
    /// Replaces every static clock call, subqueries included, by its value at `now`.
    pub fn freeze_static_time(&mut self, now: SystemTime) {
        let values = static_time_values(DateTime::<Utc>::from(now));
        let mut freeze = |e: &mut Expr| {
            if let Expr::Call {
                name,
                args,
                udf: false,
            } = e
            {
                let found = values.iter().find(|(n, _)| name.eq_ignore_ascii_case(n));
                if let (true, Some((_, Some(value)))) = (args.is_empty(), found) {
                    *e = Expr::Literal(value.clone());
                }
            }
        };
        visit_query(self, &mut freeze);
    }
}

fn visit_query(query: &mut Query, f: &mut dyn FnMut(&mut Expr)) {
    if let Some(top) = &mut query.select.top {
        visit(top, f);
    }
    match &mut query.select.projection {
        Projection::Star => {}
        Projection::Value(e) => visit(e, f),
        Projection::List(items) => items.iter_mut().for_each(|i| visit(&mut i.expr, f)),
    }
    if let Some(from) = &mut query.from {
        for source in std::iter::once(&mut from.source).chain(&mut from.joins) {
            if let Source::Iterate { expr, .. } = source {
                visit(expr, f);
            }
        }
    }
    if let Some(filter) = &mut query.filter {
        visit(filter, f);
    }
    query.group_by.iter_mut().for_each(|e| visit(e, f));
    query
        .order_by
        .iter_mut()
        .for_each(|k| visit(&mut k.expr, f));
    if let Some((offset, limit)) = &mut query.offset_limit {
        visit(offset, f);
        visit(limit, f);
    }
}

/// Visits `expr` and everything inside it, children first.
fn visit(expr: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    match expr {
        Expr::Literal(_) | Expr::Undefined | Expr::Parameter(_) | Expr::Identifier(_) => {}
        Expr::Property(e, _) | Expr::Unary(_, e) => visit(e, f),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            visit(a, f);
            visit(b, f);
        }
        Expr::Between {
            value, low, high, ..
        } => {
            visit(value, f);
            visit(low, f);
            visit(high, f);
        }
        Expr::In { value, list, .. } => {
            visit(value, f);
            list.iter_mut().for_each(|e| visit(e, f));
        }
        Expr::Like {
            value,
            pattern,
            escape,
            ..
        } => {
            visit(value, f);
            visit(pattern, f);
            if let Some(e) = escape {
                visit(e, f);
            }
        }
        Expr::Conditional {
            test,
            then,
            otherwise,
        } => {
            visit(test, f);
            visit(then, f);
            visit(otherwise, f);
        }
        Expr::Call { args, .. } | Expr::Array(args) => args.iter_mut().for_each(|e| visit(e, f)),
        Expr::Object(fields) => fields.iter_mut().for_each(|(_, e)| visit(e, f)),
        Expr::Exists(q) | Expr::ArraySubquery(q) | Expr::ScalarSubquery(q) => visit_query(q, f),
    }
    f(expr);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use crate::{parse, Parameters};

    #[test]
    fn static_clock_functions_are_read_once() {
        let mut q = parse(
            "SELECT VALUE [GetCurrentTimestampStatic(), \
             (SELECT VALUE GetCurrentDateTimeStatic() FROM x IN [1]), GetCurrentTicksStatic()]",
        )
        .expect("parse");
        q.freeze_static_time(UNIX_EPOCH + Duration::from_millis(1500));
        let rows = q.run(Vec::new(), &Parameters::new()).expect("run");
        assert_eq!(
            rows,
            vec![json!([
                1500,
                "1970-01-01T00:00:01.5000000Z",
                621_355_968_015_000_000i64
            ])]
        );
    }
}
