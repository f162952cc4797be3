//! Which parts of a document a query reads. When it reads the document only
//! through plain property paths, a document holding just those paths gives
//! the same answer, so an index holding their values can stand in for it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::ast::*;

impl Query {
    /// The property paths (`c.a.b` as `["a", "b"]`) through which the query
    /// reads each document; `None` when it reads more than such paths give:
    /// the whole document (`SELECT *`, `c` alone), computed names, joins,
    /// iteration or subqueries.
    pub fn document_paths(&self) -> Option<BTreeSet<Vec<String>>> {
        let from = self.from.as_ref()?;
        let alias = match &from.source {
            Source::Collection { alias, path, .. } if path.is_empty() && from.joins.is_empty() => {
                alias
            }
            _ => return None,
        };
        let mut expressions: Vec<&Expr> = Vec::new();
        match &self.select.projection {
            Projection::Star => return None,
            Projection::Value(e) => expressions.push(e),
            Projection::List(items) => expressions.extend(items.iter().map(|i| &i.expr)),
        }
        expressions.extend(&self.filter);
        expressions.extend(&self.group_by);
        expressions.extend(self.order_by.iter().map(|k| &k.expr));
        let mut out = BTreeSet::new();
        for e in expressions {
            collect(e, alias, &mut out)?;
        }
        Some(out)
    }
}

/// Adds the paths `expr` reads below `alias`; `None` if it reads otherwise.
fn collect(expr: &Expr, alias: &str, out: &mut BTreeSet<Vec<String>>) -> Option<()> {
    if let Some(path) = expr.property_path(alias) {
        if path.is_empty() {
            return None;
        }
        out.insert(path);
        return Some(());
    }
    match expr {
        Expr::Literal(_) | Expr::Undefined | Expr::Parameter(_) => Some(()),
        Expr::Identifier(_) => None,
        Expr::Exists(_) | Expr::ArraySubquery(_) | Expr::ScalarSubquery(_) => None,
        Expr::Property(e, _) | Expr::Unary(_, e) => collect(e, alias, out),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            collect(a, alias, out)?;
            collect(b, alias, out)
        }
        Expr::Between {
            value, low, high, ..
        } => [value, low, high]
            .into_iter()
            .try_for_each(|e| collect(e, alias, out)),
        Expr::In { value, list, .. } => {
            collect(value, alias, out)?;
            list.iter().try_for_each(|e| collect(e, alias, out))
        }
        Expr::Like {
            value,
            pattern,
            escape,
            ..
        } => {
            collect(value, alias, out)?;
            collect(pattern, alias, out)?;
            escape.iter().try_for_each(|e| collect(e, alias, out))
        }
        Expr::Conditional {
            test,
            then,
            otherwise,
        } => [test, then, otherwise]
            .into_iter()
            .try_for_each(|e| collect(e, alias, out)),
        Expr::Call { args, .. } | Expr::Array(args) => {
            args.iter().try_for_each(|e| collect(e, alias, out))
        }
        Expr::Object(fields) => fields.iter().try_for_each(|(_, e)| collect(e, alias, out)),
    }
}

impl Expr {
    /// `c.a["b"]` as `["a", "b"]` when this is such a chain from `alias`
    /// (`c` alone is the empty path).
    pub fn property_path(&self, alias: &str) -> Option<Vec<String>> {
        let (inner, name) = match self {
            Expr::Identifier(name) if name == alias => return Some(Vec::new()),
            Expr::Property(inner, name) => (inner, name),
            Expr::Index(inner, key) => match key.as_ref() {
                Expr::Literal(Value::String(name)) => (inner, name),
                _ => return None,
            },
            _ => return None,
        };
        let mut path = inner.property_path(alias)?;
        path.push(name.clone());
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    fn paths(text: &str) -> Option<Vec<String>> {
        parse(text)
            .expect("parse")
            .document_paths()
            .map(|set| set.into_iter().map(|p| p.join(".")).collect())
    }

    #[test]
    fn paths_a_query_reads() {
        assert_eq!(
            paths("SELECT c.g, COUNT(1) AS n, AVG(c.p.q) FROM c WHERE c['g'] > 'a' GROUP BY c.g"),
            Some(vec!["g".into(), "p.q".into()])
        );
        assert_eq!(
            paths("SELECT VALUE COUNT(1) FROM c WHERE c.k = @k"),
            Some(vec!["k".into()])
        );
        assert_eq!(
            paths("SELECT VALUE c.arr[0] FROM c"),
            Some(vec!["arr".into()])
        );
        for whole in [
            "SELECT * FROM c",
            "SELECT VALUE c FROM c",
            "SELECT VALUE COUNT(1) FROM c JOIN t IN c.tags",
            "SELECT VALUE c.a FROM c WHERE EXISTS(SELECT VALUE 1 FROM t IN c.tags)",
            "SELECT VALUE c[@name] FROM c",
            "SELECT VALUE t FROM t IN c.tags",
        ] {
            assert_eq!(paths(whole), None, "{whole}");
        }
    }
}
