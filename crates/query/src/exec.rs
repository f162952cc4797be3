//! Running a query over documents: bind rows (`FROM`, `JOIN`), filter
//! (`WHERE`), group and aggregate, order, project, then `DISTINCT`, `OFFSET
//! LIMIT` and `TOP`.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::ast::*;
use crate::eval::{eval, lookup, Context, Parameters, Row, ROW_WEIGHT};
use crate::functions;
use crate::value::{as_bool, canonical, sort_order, Val};
use crate::QueryError;

impl Query {
    /// Whether each document's results can be produced on their own, in
    /// document order, so pages can resume from a document. Ordering,
    /// grouping, aggregates, `DISTINCT`, `TOP` and `OFFSET` need the whole input.
    pub fn is_streaming(&self) -> bool {
        self.order_by.is_empty()
            && self.group_by.is_empty()
            && !self.select.distinct
            && self.select.top.is_none()
            && self.offset_limit.is_none()
            && !self.has_aggregates()
            && self.from.is_some()
    }

    pub fn has_aggregates(&self) -> bool {
        match &self.select.projection {
            Projection::Star => false,
            Projection::Value(e) => contains_aggregate(e),
            Projection::List(items) => items.iter().any(|i| contains_aggregate(&i.expr)),
        }
    }

    /// The rows `OFFSET`/`LIMIT` and `TOP` let through, as the number to
    /// skip and the most to return after them (`None`: no bound).
    pub fn window(&self, parameters: &Parameters) -> Result<(usize, Option<usize>), QueryError> {
        let ctx = Context::new(parameters, None);
        let (skip, limit) = match &self.offset_limit {
            Some((offset, limit)) => (
                count(offset, &ctx, "OFFSET")?,
                Some(count(limit, &ctx, "LIMIT")?),
            ),
            None => (0, None),
        };
        let top = self
            .select
            .top
            .as_ref()
            .map(|t| count(t, &ctx, "TOP"))
            .transpose()?;
        let take = match (limit, top) {
            (Some(l), Some(t)) => Some(l.min(t)),
            (l, t) => l.or(t),
        };
        Ok((skip, take))
    }

    /// The results one document contributes to a streaming query (or to an
    /// ordered one whose documents arrive in order): its rows filtered and
    /// projected.
    pub fn run_document(
        &self,
        document: Value,
        parameters: &Parameters,
    ) -> Result<Vec<Value>, QueryError> {
        self.run_document_with(document, &Context::new(parameters, None))
    }

    /// [`Query::run_document`] with user-defined functions.
    pub fn run_document_with(
        &self,
        document: Value,
        ctx: &Context<'_>,
    ) -> Result<Vec<Value>, QueryError> {
        let ctx = *ctx;
        let rows = self.bind_document(document, &ctx)?;
        let rows = self.filter_rows(rows, &ctx)?;
        let mut out = Vec::new();
        let mut names = Vec::new();
        for row in &rows {
            if let Some(v) = self.project(row, &ctx, &mut names)? {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// The whole result over every document.
    pub fn run(
        &self,
        documents: impl IntoIterator<Item = Value>,
        parameters: &Parameters,
    ) -> Result<Vec<Value>, QueryError> {
        self.run_with(documents, &Context::new(parameters, None))
    }

    /// [`Query::run`] with user-defined functions.
    pub fn run_with(
        &self,
        documents: impl IntoIterator<Item = Value>,
        ctx: &Context<'_>,
    ) -> Result<Vec<Value>, QueryError> {
        let ctx = *ctx;
        let mut rows = Vec::new();
        if self.from.is_some() {
            for document in documents {
                rows.extend(self.bind_document(document, &ctx)?);
            }
        } else {
            rows.push(Row::new());
        }
        self.finish(rows, &ctx)
    }

    /// [`Query::run_with`] over documents that each stand for `n` equal
    /// ones: aggregates count, sum and average each row `n` times, so a
    /// caller holding many equal documents (index entries of one value)
    /// builds and runs each once.
    pub fn run_weighted_with(
        &self,
        documents: impl IntoIterator<Item = (Value, u64)>,
        ctx: &Context<'_>,
    ) -> Result<Vec<Value>, QueryError> {
        let ctx = *ctx;
        let mut rows = Vec::new();
        if self.from.is_some() {
            for (document, n) in documents {
                let bound = self.bind_document(document, &ctx)?;
                rows.extend(bound.into_iter().map(|mut row| {
                    if n != 1 {
                        row.push((ROW_WEIGHT.to_string(), Value::from(n)));
                    }
                    row
                }));
            }
        } else {
            rows.push(Row::new());
        }
        self.finish(rows, &ctx)
    }

    fn bind_document(&self, document: Value, ctx: &Context<'_>) -> Result<Vec<Row>, QueryError> {
        let Some(from) = &self.from else {
            return Ok(vec![Row::new()]);
        };
        let base = vec![(root_name(&from.source).to_string(), document)];
        expand(from, base, ctx)
    }

    fn filter_rows(&self, rows: Vec<Row>, ctx: &Context<'_>) -> Result<Vec<Row>, QueryError> {
        let Some(filter) = &self.filter else {
            return Ok(rows);
        };
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            if as_bool(&eval(filter, &row, ctx)?) == Some(true) {
                kept.push(row);
            }
        }
        Ok(kept)
    }

    fn finish(&self, rows: Vec<Row>, ctx: &Context<'_>) -> Result<Vec<Value>, QueryError> {
        let mut rows = self.filter_rows(rows, ctx)?;
        let mut names = Vec::new();
        let mut out = Vec::new();
        if self.has_aggregates() || !self.group_by.is_empty() {
            for group in self.groups(rows, ctx)? {
                let group_ctx = ctx.with_group(Some(&group));
                let first = group.first().cloned().unwrap_or_default();
                if let Some(v) = self.project(&first, &group_ctx, &mut names)? {
                    out.push(v);
                }
            }
        } else {
            if !self.order_by.is_empty() {
                let mut keyed = Vec::with_capacity(rows.len());
                for row in rows {
                    let keys = self
                        .order_by
                        .iter()
                        .map(|k| eval(&k.expr, &row, ctx))
                        .collect::<Result<Vec<_>, _>>()?;
                    keyed.push((keys, row));
                }
                keyed.sort_by(|(a, _), (b, _)| {
                    for ((x, y), key) in a.iter().zip(b).zip(&self.order_by) {
                        let o = sort_order(x, y);
                        let o = if key.descending { o.reverse() } else { o };
                        if o.is_ne() {
                            return o;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
                rows = keyed.into_iter().map(|(_, r)| r).collect();
            }
            for row in &rows {
                if let Some(v) = self.project(row, ctx, &mut names)? {
                    out.push(v);
                }
            }
        }
        if self.select.distinct {
            let mut seen = HashSet::new();
            out.retain(|v| seen.insert(canonical(&Some(v.clone()))));
        }
        if let Some((offset, limit)) = &self.offset_limit {
            let offset = count(offset, ctx, "OFFSET")?;
            let limit = count(limit, ctx, "LIMIT")?;
            out = out.into_iter().skip(offset).take(limit).collect();
        }
        if let Some(top) = &self.select.top {
            out.truncate(count(top, ctx, "TOP")?);
        }
        Ok(out)
    }

    /// Rows grouped by the `GROUP BY` values, in first-seen order; without
    /// `GROUP BY`, one group of every row (empty input still aggregates).
    fn groups(&self, rows: Vec<Row>, ctx: &Context<'_>) -> Result<Vec<Vec<Row>>, QueryError> {
        if self.group_by.is_empty() {
            return Ok(vec![rows]);
        }
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<Vec<Row>> = Vec::new();
        for row in rows {
            let key: String = self
                .group_by
                .iter()
                .map(|e| eval(e, &row, ctx).map(|v| canonical(&v)))
                .collect::<Result<Vec<_>, _>>()?
                .join("|");
            let slot = *index.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[slot].push(row);
        }
        Ok(groups)
    }

    /// One output value for a row; `None` drops it (an undefined `VALUE`).
    fn project(
        &self,
        row: &Row,
        ctx: &Context<'_>,
        names: &mut Vec<String>,
    ) -> Result<Val, QueryError> {
        match &self.select.projection {
            Projection::Star => Ok(self
                .from
                .as_ref()
                .and_then(|f| lookup(row, f.source.alias()))
                .cloned()),
            Projection::Value(expr) => eval(expr, row, ctx),
            Projection::List(items) => {
                if names.is_empty() {
                    *names = output_names(items);
                }
                let mut map = Map::new();
                for (item, name) in items.iter().zip(names.iter()) {
                    if let Some(v) = eval(&item.expr, row, ctx)? {
                        map.insert(name.clone(), v);
                    }
                }
                Ok(Some(Value::Object(map)))
            }
        }
    }
}

/// Runs a subquery for one row of the enclosing query.
pub(crate) fn run_nested(
    query: &Query,
    outer: &Row,
    ctx: &Context<'_>,
) -> Result<Vec<Value>, QueryError> {
    let ctx = ctx.with_group(None);
    let rows = match &query.from {
        Some(from) => expand(from, outer.clone(), &ctx)?,
        None => vec![outer.clone()],
    };
    query.finish(rows, &ctx)
}

/// The name the documents are bound to: `c` in `FROM c`, `FROM c.a x`, `FROM x IN c.a`.
pub(crate) fn root_name(source: &Source) -> &str {
    match source {
        Source::Collection { root, .. } => root,
        Source::Iterate { expr, .. } => {
            let mut e = expr;
            loop {
                match e {
                    Expr::Property(inner, _) | Expr::Index(inner, _) => e = inner,
                    Expr::Identifier(name) => return name,
                    _ => return "",
                }
            }
        }
    }
}

fn expand(from: &From, base: Row, ctx: &Context<'_>) -> Result<Vec<Row>, QueryError> {
    let mut rows = bind(&from.source, vec![base], ctx)?;
    for join in &from.joins {
        rows = bind(join, rows, ctx)?;
    }
    Ok(rows)
}

fn bind(source: &Source, rows: Vec<Row>, ctx: &Context<'_>) -> Result<Vec<Row>, QueryError> {
    let mut out = Vec::new();
    for row in rows {
        match source {
            Source::Collection { root, alias, path } => {
                let mut value = lookup(&row, root);
                for step in path {
                    value = match step {
                        PathStep::Property(p) => value.and_then(|v| v.get(p)),
                        PathStep::Index(i) => value.and_then(|v| v.get(usize::try_from(*i).ok()?)),
                    };
                }
                if let Some(v) = value.cloned() {
                    let mut row = row;
                    row.push((alias.clone(), v));
                    out.push(row);
                }
            }
            Source::Iterate { alias, expr } => {
                if let Some(Value::Array(items)) = eval(expr, &row, ctx)? {
                    for item in items {
                        let mut next = row.clone();
                        next.push((alias.clone(), item));
                        out.push(next);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Property names of a select list: the alias, the last property name, or `$1`, `$2`...
pub(crate) fn output_names(items: &[SelectItem]) -> Vec<String> {
    let mut unnamed = 0;
    items
        .iter()
        .map(|item| match (&item.alias, &item.expr) {
            (Some(alias), _) => alias.clone(),
            (None, Expr::Property(_, name)) | (None, Expr::Identifier(name)) => name.clone(),
            _ => {
                unnamed += 1;
                format!("${unnamed}")
            }
        })
        .collect()
}

pub(crate) fn count(expr: &Expr, ctx: &Context<'_>, clause: &str) -> Result<usize, QueryError> {
    match eval(expr, &Row::new(), ctx)? {
        Some(Value::Number(n)) => {
            n.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    QueryError::Semantic(format!(
                        "The {clause} count must be a non-negative integer."
                    ))
                })
        }
        _ => Err(QueryError::Semantic(format!(
            "The {clause} count must be a non-negative integer."
        ))),
    }
}

pub(crate) fn contains_aggregate(expr: &Expr) -> bool {
    let mut found = false;
    walk(expr, &mut |e| {
        if let Expr::Call {
            name, udf: false, ..
        } = e
        {
            found |= functions::is_aggregate(name);
        }
    });
    found
}

/// Visits `expr` and its sub-expressions, not entering subqueries.
pub(crate) fn walk(expr: &Expr, visit: &mut dyn FnMut(&Expr)) {
    visit(expr);
    match expr {
        Expr::Property(e, _) | Expr::Unary(_, e) => walk(e, visit),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            walk(a, visit);
            walk(b, visit);
        }
        Expr::Between {
            value, low, high, ..
        } => {
            for e in [value, low, high] {
                walk(e, visit);
            }
        }
        Expr::In { value, list, .. } => {
            walk(value, visit);
            list.iter().for_each(|e| walk(e, visit));
        }
        Expr::Like {
            value,
            pattern,
            escape,
            ..
        } => {
            walk(value, visit);
            walk(pattern, visit);
            if let Some(e) = escape {
                walk(e, visit);
            }
        }
        Expr::Conditional {
            test,
            then,
            otherwise,
        } => {
            for e in [test, then, otherwise] {
                walk(e, visit);
            }
        }
        Expr::Call { args, .. } | Expr::Array(args) => args.iter().for_each(|e| walk(e, visit)),
        Expr::Object(fields) => fields.iter().for_each(|(_, e)| walk(e, visit)),
        _ => {}
    }
}
