//! Rewriting a query in place: a visitor over every expression (subqueries
//! included, children before parents), and the rewrites built on it:
//! freezing static clock functions (`clock.rs`) and inlining computed
//! properties.

use crate::ast::*;

impl Query {
    /// Whether the query calls a user-defined function (`udf.name(...)`).
    pub fn calls_user_functions(&self) -> bool {
        let mut found = false;
        visit_query(&mut self.clone(), &mut |e| {
            found |= matches!(e, Expr::Call { udf: true, .. })
        });
        found
    }

    /// Replaces `alias.name` for each computed property `name` by its
    /// expression (written over its own root alias), so a query reads
    /// computed properties without them being stored in documents, and
    /// `SELECT *` does not show them, as on the service.
    pub fn inline_computed(&mut self, properties: &[ComputedProperty]) {
        let Some(alias) = self.from.as_ref().and_then(|f| match &f.source {
            Source::Collection { alias, path, .. } if path.is_empty() => Some(alias.clone()),
            _ => None,
        }) else {
            return;
        };
        // `SELECT c.cp` is named after the property; keep that name once inlined.
        if let Projection::List(items) = &mut self.select.projection {
            for item in items.iter_mut().filter(|i| i.alias.is_none()) {
                if let Expr::Property(inner, name) = &item.expr {
                    let own = matches!(inner.as_ref(), Expr::Identifier(a) if *a == alias);
                    if own && properties.iter().any(|p| p.name == *name) {
                        item.alias = Some(name.clone());
                    }
                }
            }
        }
        visit_query(self, &mut |e| {
            let Expr::Property(inner, name) = e else {
                return;
            };
            if !matches!(inner.as_ref(), Expr::Identifier(a) if *a == alias) {
                return;
            }
            if let Some(property) = properties.iter().find(|p| p.name == *name) {
                let mut expr = property.expr.clone();
                rename_root(&mut expr, &property.alias, &alias);
                *e = expr;
            }
        });
    }
}

/// A container's computed property: `name` is `SELECT VALUE expr FROM alias`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedProperty {
    pub name: String,
    pub alias: String,
    pub expr: Expr,
}

impl ComputedProperty {
    /// The property's value for `document`, if it has one (undefined otherwise,
    /// or when evaluating fails).
    pub fn value_for(&self, document: &serde_json::Value) -> Option<serde_json::Value> {
        let row = vec![(self.alias.clone(), document.clone())];
        let parameters = crate::Parameters::new();
        crate::eval::eval(&self.expr, &row, &crate::Context::new(&parameters, None))
            .ok()
            .flatten()
    }

    /// Reads a definition; the query must be `SELECT VALUE <expr> FROM <alias>`
    /// with nothing else, as the service requires.
    pub fn parse(name: &str, query: &str) -> Result<Self, String> {
        let parsed = crate::parse(query).map_err(|e| e.to_string())?;
        let simple = parsed.filter.is_none()
            && parsed.group_by.is_empty()
            && parsed.order_by.is_empty()
            && parsed.offset_limit.is_none()
            && parsed.select.top.is_none()
            && !parsed.select.distinct;
        let alias = match &parsed.from {
            Some(From {
                source: Source::Collection { alias, path, .. },
                joins,
            }) if path.is_empty() && joins.is_empty() => alias.clone(),
            _ => return Err("its query must read FROM the container's root".into()),
        };
        match parsed.select.projection {
            Projection::Value(expr) if simple && !crate::exec::contains_aggregate(&expr) => {
                Ok(Self {
                    name: name.to_string(),
                    alias,
                    expr,
                })
            }
            _ => Err("its query must be SELECT VALUE <expression> FROM <alias>".into()),
        }
    }
}

/// Renames the root alias `from` to `to` in an expression.
fn rename_root(expr: &mut Expr, from: &str, to: &str) {
    let mut rename = |e: &mut Expr| {
        if let Expr::Identifier(name) = e {
            if name == from {
                *name = to.to_string();
            }
        }
    };
    visit(expr, &mut rename);
}

pub(crate) fn visit_query(query: &mut Query, f: &mut dyn FnMut(&mut Expr)) {
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
pub(crate) fn visit(expr: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
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
    use super::*;
    use crate::{parse, Parameters};
    use serde_json::json;

    #[test]
    fn computed_properties_are_inlined() {
        let lower =
            ComputedProperty::parse("cp_lower", "SELECT VALUE LOWER(r.name) FROM r").expect("cp");
        let mut q =
            parse("SELECT c.id, c.cp_lower FROM c WHERE c.cp_lower = 'ab' ORDER BY c.cp_lower")
                .expect("parse");
        q.inline_computed(std::slice::from_ref(&lower));
        let rows = q
            .run(
                vec![
                    json!({"id": "1", "name": "AB"}),
                    json!({"id": "2", "name": "x"}),
                ],
                &Parameters::new(),
            )
            .expect("run");
        assert_eq!(rows, vec![json!({"id": "1", "cp_lower": "ab"})]);
        let mut star = parse("SELECT * FROM c").expect("parse");
        star.inline_computed(&[lower]);
        let rows = star
            .run(vec![json!({"id": "1", "name": "AB"})], &Parameters::new())
            .expect("run");
        assert_eq!(
            rows,
            vec![json!({"id": "1", "name": "AB"})],
            "SELECT * leaves them out"
        );
        for bad in [
            "SELECT c.name FROM c",
            "SELECT VALUE c.name FROM c WHERE c.x = 1",
            "SELECT VALUE COUNT(1) FROM c",
            "SELECT VALUE t FROM c JOIN t IN c.tags",
        ] {
            assert!(ComputedProperty::parse("p", bad).is_err(), "{bad}");
        }
    }
}
