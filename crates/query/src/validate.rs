//! Checks made before any document is read: function names and argument
//! counts, names in scope, supplied parameters, and the rules of `SELECT *`,
//! `GROUP BY` and aggregates.

use crate::ast::*;
use crate::eval::Parameters;
use crate::exec::{root_name, walk};
use crate::functions;
use crate::QueryError;

impl Query {
    /// Checks everything that can be checked before reading a document:
    /// function names and argument counts, names in scope, clause rules and
    /// parameters.
    pub fn validate(&self, parameters: &Parameters) -> Result<(), QueryError> {
        validate(self, &[], parameters)
    }
}

fn validate(query: &Query, outer: &[String], parameters: &Parameters) -> Result<(), QueryError> {
    let mut scope: Vec<String> = outer.to_vec();
    if let Some(from) = &query.from {
        scope.push(root_name(&from.source).to_string());
        for source in std::iter::once(&from.source).chain(&from.joins) {
            if let Source::Iterate { expr, .. } = source {
                check_expr(expr, &scope, parameters, false)?;
            }
            scope.push(source.alias().to_string());
        }
        if matches!(query.select.projection, Projection::Star) && !from.joins.is_empty() {
            return Err(QueryError::Semantic(
                "'SELECT *' is only valid with a single input set.".into(),
            ));
        }
    } else if matches!(query.select.projection, Projection::Star) {
        return Err(QueryError::Semantic(
            "'SELECT *' is not valid if FROM clause is omitted.".into(),
        ));
    }
    if let Some(filter) = &query.filter {
        check_expr(filter, &scope, parameters, false)?;
    }
    for e in &query.group_by {
        check_expr(e, &scope, parameters, false)?;
    }
    for key in &query.order_by {
        check_expr(&key.expr, &scope, parameters, false)?;
        if !is_document_path(&key.expr) {
            return Err(QueryError::Semantic(
                "Unsupported ORDER BY clause. ORDER BY item expression could not be mapped to a \
                 document path."
                    .into(),
            ));
        }
    }
    let aggregating = query.has_aggregates() || !query.group_by.is_empty();
    // Aggregates without GROUP BY give one row, which ORDER BY leaves alone.
    if !query.group_by.is_empty() && !query.order_by.is_empty() {
        return Err(QueryError::Unsupported(
            "ORDER BY together with GROUP BY".into(),
        ));
    }
    let projected: Vec<&Expr> = match &query.select.projection {
        Projection::Star => Vec::new(),
        Projection::Value(e) => vec![e],
        Projection::List(items) => items.iter().map(|i| &i.expr).collect(),
    };
    for e in projected {
        check_expr(e, &scope, parameters, true)?;
        if aggregating && !grouped(e, &query.group_by) {
            return Err(QueryError::Semantic(
                "Every property projected with GROUP BY or an aggregate must be a GROUP BY expression or inside an aggregate.".into(),
            ));
        }
    }
    for e in query
        .select
        .top
        .iter()
        .chain(query.offset_limit.iter().flat_map(|(o, l)| [o, l]))
    {
        check_expr(e, &[], parameters, false)?;
    }
    Ok(())
}

/// Whether `expr` only reads the row through group keys and aggregates.
fn grouped(expr: &Expr, keys: &[Expr]) -> bool {
    if keys.contains(expr) {
        return true;
    }
    match expr {
        Expr::Call {
            name, udf: false, ..
        } if functions::is_aggregate(name) => true,
        Expr::Identifier(_) | Expr::Property(..) | Expr::Index(..) => false,
        Expr::Literal(_) | Expr::Undefined | Expr::Parameter(_) => true,
        Expr::Unary(_, e) => grouped(e, keys),
        Expr::Binary(_, a, b) => grouped(a, keys) && grouped(b, keys),
        Expr::Conditional {
            test,
            then,
            otherwise,
        } => [test, then, otherwise].iter().all(|e| grouped(e, keys)),
        Expr::Call { args, .. } | Expr::Array(args) => args.iter().all(|e| grouped(e, keys)),
        Expr::Object(fields) => fields.iter().all(|(_, e)| grouped(e, keys)),
        _ => false,
    }
}

fn check_expr(
    expr: &Expr,
    scope: &[String],
    parameters: &Parameters,
    aggregates_allowed: bool,
) -> Result<(), QueryError> {
    let mut error = None;
    walk(expr, &mut |e| {
        if error.is_some() {
            return;
        }
        error = match e {
            Expr::Identifier(name) if !scope.iter().any(|s| s == name) => Some(
                QueryError::Semantic(format!("Identifier '{name}' could not be resolved.")),
            ),
            Expr::Parameter(p) if !parameters.contains_key(p) => {
                Some(QueryError::MissingParameter(p.clone()))
            }
            Expr::Call {
                name,
                args,
                udf: false,
            } => match functions::check(name, args.len()) {
                Err(err) => Some(err),
                Ok(()) if functions::is_aggregate(name) && !aggregates_allowed => {
                    Some(QueryError::Semantic(format!(
                        "The aggregate {name} can only be used in the SELECT clause."
                    )))
                }
                Ok(()) => None,
            },
            Expr::Exists(q) | Expr::ArraySubquery(q) | Expr::ScalarSubquery(q) => {
                validate(q, scope, parameters).err()
            }
            _ => None,
        };
    });
    error.map_or(Ok(()), Err)
}

/// `c`, `c.a.b`, `c["a"][0]`: what the service can order by (an index path).
fn is_document_path(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(_) => true,
        Expr::Property(inner, _) => is_document_path(inner),
        Expr::Index(inner, key) => {
            matches!(key.as_ref(), Expr::Literal(v) if v.is_string() || v.is_u64())
                && is_document_path(inner)
        }
        _ => false,
    }
}
