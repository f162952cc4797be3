//! How deep a parsed query's syntax tree goes, measured without recursion.
//!
//! Everything after parsing (validation, planning, evaluation, printing)
//! walks the tree recursively, so its depth is what bounds their stack use.
//! The parser keeps `AND`/`OR` chains balanced, so the thousand-term
//! disjunctions the SDKs build for `read_items` stay shallow; what is still
//! deeper than this is refused rather than risking the server's stack.

use crate::ast::*;
use crate::QueryError;

/// Deepest syntax tree accepted, counting subqueries.
pub(crate) const MAX_TREE_DEPTH: usize = 128;

/// Refuses a query whose syntax tree is deeper than [`MAX_TREE_DEPTH`].
pub(crate) fn check(query: &Query) -> Result<(), QueryError> {
    let mut pending: Vec<(&Expr, usize)> = Vec::new();
    push_query(query, 1, &mut pending);
    while let Some((expr, depth)) = pending.pop() {
        if depth > MAX_TREE_DEPTH {
            return Err(QueryError::Semantic(format!(
                "The query is too complex: its expressions are nested more than \
                 {MAX_TREE_DEPTH} levels deep."
            )));
        }
        push_children(expr, depth + 1, &mut pending);
    }
    Ok(())
}

fn push_query<'a>(query: &'a Query, depth: usize, out: &mut Vec<(&'a Expr, usize)>) {
    let select = &query.select;
    out.extend(select.top.iter().map(|e| (e, depth)));
    match &select.projection {
        Projection::Star => {}
        Projection::Value(e) => out.push((e, depth)),
        Projection::List(items) => out.extend(items.iter().map(|i| (&i.expr, depth))),
    }
    if let Some(from) = &query.from {
        for source in std::iter::once(&from.source).chain(&from.joins) {
            if let Source::Iterate { expr, .. } = source {
                out.push((expr, depth));
            }
        }
    }
    out.extend(query.filter.iter().map(|e| (e, depth)));
    out.extend(query.group_by.iter().map(|e| (e, depth)));
    out.extend(query.order_by.iter().map(|k| (&k.expr, depth)));
    if let Some((offset, limit)) = &query.offset_limit {
        out.push((offset, depth));
        out.push((limit, depth));
    }
}

fn push_children<'a>(expr: &'a Expr, depth: usize, out: &mut Vec<(&'a Expr, usize)>) {
    match expr {
        Expr::Literal(_) | Expr::Undefined | Expr::Parameter(_) | Expr::Identifier(_) => {}
        Expr::Property(inner, _) | Expr::Unary(_, inner) => out.push((inner, depth)),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            out.push((a, depth));
            out.push((b, depth));
        }
        Expr::Between {
            value, low, high, ..
        } => out.extend([(&**value, depth), (&**low, depth), (&**high, depth)]),
        Expr::In { value, list, .. } => {
            out.push((value, depth));
            out.extend(list.iter().map(|e| (e, depth)));
        }
        Expr::Like {
            value,
            pattern,
            escape,
            ..
        } => {
            out.push((value, depth));
            out.push((pattern, depth));
            out.extend(escape.iter().map(|e| (&**e, depth)));
        }
        Expr::Conditional {
            test,
            then,
            otherwise,
        } => out.extend([(&**test, depth), (&**then, depth), (&**otherwise, depth)]),
        Expr::Call { args, .. } | Expr::Array(args) => out.extend(args.iter().map(|e| (e, depth))),
        Expr::Object(fields) => out.extend(fields.iter().map(|(_, e)| (e, depth))),
        Expr::Exists(q) | Expr::ArraySubquery(q) | Expr::ScalarSubquery(q) => {
            push_query(q, depth, out)
        }
    }
}

/// Joins `operands` with `op` as a balanced tree. `AND` and `OR` are
/// associative (three-valued, with non-booleans as undefined), so the
/// grouping changes no result, and the tree stays log2(n) deep.
pub(crate) fn balanced(op: BinaryOp, mut operands: Vec<Expr>) -> Expr {
    while operands.len() > 1 {
        let mut paired = Vec::with_capacity(operands.len().div_ceil(2));
        let mut it = operands.into_iter();
        while let Some(left) = it.next() {
            paired.push(match it.next() {
                Some(right) => Expr::Binary(op, Box::new(left), Box::new(right)),
                None => left,
            });
        }
        operands = paired;
    }
    operands.pop().unwrap_or(Expr::Undefined)
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn long_disjunctions_parse_shallow() {
        let terms: Vec<String> = (0..1000)
            .map(|i| format!("(c.id = @i{i} AND c.pk = @p{i})"))
            .collect();
        let text = format!("SELECT * FROM c WHERE {}", terms.join(" OR "));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn deep_left_chains_are_refused() {
        let text = format!("SELECT VALUE 1{}", " + 1".repeat(5000));
        let err = parse(&text).expect_err("too deep");
        assert!(err.to_string().contains("too complex"), "{err}");
        let text = format!("SELECT VALUE c{}", ".a".repeat(5000));
        assert!(parse(&text).is_err());
    }
}
