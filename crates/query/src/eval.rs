//! Evaluating expressions against one row of bindings.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::ast::{BinaryOp, Expr, UnaryOp};
use crate::value::{as_bool, compare, equals, number, Val};
use crate::{exec, functions, QueryError};

/// Query parameters by name, `@` included.
pub type Parameters = HashMap<String, Value>;

/// Reads a request's `parameters`, `[{"name": "@x", "value": ...}]`, as the
/// query endpoint and server-side scripts both receive them. Absent or null
/// means none. A parameter sent without a `value` is left out, so a query
/// that uses it is told it was not supplied.
pub fn parameters_from_json(list: Option<&Value>) -> Result<Parameters, QueryError> {
    let mut parameters = Parameters::new();
    let Some(list) = list.filter(|v| !v.is_null()) else {
        return Ok(parameters);
    };
    let list = list.as_array().ok_or_else(|| {
        QueryError::Semantic("'parameters' must be an array of {name, value}.".into())
    })?;
    for entry in list {
        let name = entry.get("name").and_then(Value::as_str).ok_or_else(|| {
            QueryError::Semantic("Each query parameter needs a string 'name'.".into())
        })?;
        if let Some(value) = entry.get("value") {
            parameters.insert(name.to_string(), value.clone());
        }
    }
    Ok(parameters)
}

/// The names bound for one row: the documents and array elements `FROM` and
/// `JOIN` produced. Later bindings shadow earlier ones.
pub type Row = Vec<(String, Value)>;

/// The container's user-defined functions, as `udf.name(...)` calls them.
/// Arguments that are undefined arrive as `None`.
pub trait UserFunctions {
    fn call(&self, name: &str, arguments: &[Val]) -> Result<Val, QueryError>;
}

/// What evaluation needs besides the row.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub parameters: &'a Parameters,
    /// The rows of the current group, when aggregates may be computed.
    pub group: Option<&'a [Row]>,
    /// What `udf.` calls reach; without them such a call is an error.
    pub functions: Option<&'a dyn UserFunctions>,
}

impl<'a> Context<'a> {
    pub fn new(parameters: &'a Parameters, functions: Option<&'a dyn UserFunctions>) -> Self {
        Self {
            parameters,
            group: None,
            functions,
        }
    }

    /// The same inputs, seeing `group` (or no group).
    pub fn with_group(&self, group: Option<&'a [Row]>) -> Self {
        Self { group, ..*self }
    }
}

/// The binding that says how many equal rows a row stands for (see
/// [`crate::Query::run_weighted_with`]); no query can name it.
pub(crate) const ROW_WEIGHT: &str = "\u{0}weight";

/// How many equal rows `row` stands for.
pub(crate) fn row_weight(row: &Row) -> u64 {
    lookup(row, ROW_WEIGHT).and_then(Value::as_u64).unwrap_or(1)
}

pub fn lookup<'r>(row: &'r Row, name: &str) -> Option<&'r Value> {
    row.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// What a path into the row (`c`, `c.a.b`, `c.tags[0]`, `c["a"]`) names,
/// borrowed: `c.id` must not copy the whole document `c` to read one
/// property, which made filters cost microseconds per document. `None` when
/// `expr` is not such a path; `Some(None)` when the path leads nowhere.
fn borrowed<'r>(
    expr: &Expr,
    row: &'r Row,
    ctx: &Context<'_>,
) -> Result<Option<Option<&'r Value>>, QueryError> {
    Ok(Some(match expr {
        Expr::Identifier(name) => lookup(row, name),
        Expr::Property(target, name) => {
            let Some(target) = borrowed(target, row, ctx)? else {
                return Ok(None);
            };
            target.and_then(Value::as_object).and_then(|m| m.get(name))
        }
        Expr::Index(target, index) => {
            let Some(target) = borrowed(target, row, ctx)? else {
                return Ok(None);
            };
            match (target, eval(index, row, ctx)?) {
                (Some(Value::Array(items)), Some(Value::Number(n))) => n
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .and_then(|f| items.get(f as usize)),
                (Some(Value::Object(map)), Some(Value::String(key))) => map.get(&key),
                _ => None,
            }
        }
        _ => return Ok(None),
    }))
}

pub fn eval(expr: &Expr, row: &Row, ctx: &Context<'_>) -> Result<Val, QueryError> {
    Ok(match expr {
        Expr::Literal(v) => Some(v.clone()),
        Expr::Undefined => None,
        Expr::Parameter(p) => Some(
            ctx.parameters
                .get(p)
                .cloned()
                .ok_or_else(|| QueryError::MissingParameter(p.clone()))?,
        ),
        Expr::Identifier(name) => lookup(row, name).cloned(),
        Expr::Property(target, name) => match borrowed(expr, row, ctx)? {
            Some(found) => found.cloned(),
            None => match eval(target, row, ctx)? {
                Some(Value::Object(mut map)) => map.remove(name),
                _ => None,
            },
        },
        Expr::Index(target, index) => {
            if let Some(found) = borrowed(expr, row, ctx)? {
                return Ok(found.cloned());
            }
            let target = eval(target, row, ctx)?;
            match (target, eval(index, row, ctx)?) {
                (Some(Value::Array(items)), Some(Value::Number(n))) => n
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .and_then(|f| items.into_iter().nth(f as usize)),
                (Some(Value::Object(mut map)), Some(Value::String(key))) => map.remove(&key),
                _ => None,
            }
        }
        Expr::Unary(op, operand) => unary(*op, eval(operand, row, ctx)?),
        Expr::Binary(op, left, right) => binary(*op, left, right, row, ctx)?,
        Expr::Between {
            value,
            low,
            high,
            negated,
        } => {
            let v = eval(value, row, ctx)?;
            let in_range = match (
                compare(&v, &eval(low, row, ctx)?),
                compare(&v, &eval(high, row, ctx)?),
            ) {
                (Some(lo), Some(hi)) => Some(lo.is_ge() && hi.is_le()),
                _ => None,
            };
            in_range.map(|b| Value::Bool(b != *negated))
        }
        Expr::In {
            value,
            list,
            negated,
        } => {
            let v = eval(value, row, ctx)?;
            if v.is_none() {
                return Ok(None);
            }
            let mut found = false;
            for item in list {
                if equals(&v, &eval(item, row, ctx)?) == Some(true) {
                    found = true;
                    break;
                }
            }
            Some(Value::Bool(found != *negated))
        }
        Expr::Like {
            value,
            pattern,
            escape,
            negated,
        } => {
            let escape = match escape {
                Some(e) => match eval(e, row, ctx)? {
                    Some(Value::String(s)) if s.chars().count() == 1 => s.chars().next(),
                    _ => return Ok(None),
                },
                None => None,
            };
            match (eval(value, row, ctx)?, eval(pattern, row, ctx)?) {
                (Some(Value::String(s)), Some(Value::String(p))) => {
                    Some(Value::Bool(like(&s, &p, escape) != *negated))
                }
                _ => None,
            }
        }
        Expr::Conditional {
            test,
            then,
            otherwise,
        } => match as_bool(&eval(test, row, ctx)?) {
            Some(true) => eval(then, row, ctx)?,
            _ => eval(otherwise, row, ctx)?,
        },
        Expr::Call { name, args, udf } => {
            if *udf {
                let functions = ctx.functions.ok_or_else(|| {
                    QueryError::Semantic(format!("Unknown user-defined function 'udf.{name}'."))
                })?;
                let values = args
                    .iter()
                    .map(|a| eval(a, row, ctx))
                    .collect::<Result<Vec<_>, _>>()?;
                return functions.call(name, &values);
            }
            if functions::is_aggregate(name) {
                let group = ctx.group.ok_or_else(|| {
                    QueryError::Semantic(format!(
                        "The aggregate {name} can only be used in the SELECT clause."
                    ))
                })?;
                return functions::aggregate(name, args.first(), group, ctx);
            }
            let values = args
                .iter()
                .map(|a| eval(a, row, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            functions::call(name, values)?
        }
        Expr::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                // Undefined elements are dropped, as in the service.
                if let Some(v) = eval(item, row, ctx)? {
                    out.push(v);
                }
            }
            Some(Value::Array(out))
        }
        Expr::Object(fields) => {
            let mut map = Map::new();
            for (key, value) in fields {
                if let Some(v) = eval(value, row, ctx)? {
                    map.insert(key.clone(), v);
                }
            }
            Some(Value::Object(map))
        }
        Expr::Exists(q) => Some(Value::Bool(!exec::run_nested(q, row, ctx)?.is_empty())),
        Expr::ArraySubquery(q) => Some(Value::Array(exec::run_nested(q, row, ctx)?)),
        Expr::ScalarSubquery(q) => exec::run_nested(q, row, ctx)?.into_iter().next(),
    })
}

fn unary(op: UnaryOp, v: Val) -> Val {
    match (op, v) {
        (UnaryOp::Not, Some(Value::Bool(b))) => Some(Value::Bool(!b)),
        (UnaryOp::Negate, Some(Value::Number(n))) => number(-n.as_f64()?),
        (UnaryOp::Plus, Some(Value::Number(n))) => Some(Value::Number(n)),
        (UnaryOp::BitNot, Some(Value::Number(n))) => number(!(n.as_f64()? as i64) as f64),
        _ => None,
    }
}

fn binary(
    op: BinaryOp,
    left: &Expr,
    right: &Expr,
    row: &Row,
    ctx: &Context<'_>,
) -> Result<Val, QueryError> {
    // Three-valued logic: false AND x is false, true OR x is true, whatever x is.
    match op {
        BinaryOp::And => {
            let l = as_bool(&eval(left, row, ctx)?);
            if l == Some(false) {
                return Ok(Some(Value::Bool(false)));
            }
            let r = as_bool(&eval(right, row, ctx)?);
            return Ok(match (l, r) {
                (_, Some(false)) => Some(Value::Bool(false)),
                (Some(true), Some(true)) => Some(Value::Bool(true)),
                _ => None,
            });
        }
        BinaryOp::Or => {
            let l = as_bool(&eval(left, row, ctx)?);
            if l == Some(true) {
                return Ok(Some(Value::Bool(true)));
            }
            let r = as_bool(&eval(right, row, ctx)?);
            return Ok(match (l, r) {
                (_, Some(true)) => Some(Value::Bool(true)),
                (Some(false), Some(false)) => Some(Value::Bool(false)),
                _ => None,
            });
        }
        BinaryOp::Coalesce => {
            return match eval(left, row, ctx)? {
                Some(v) => Ok(Some(v)),
                None => eval(right, row, ctx),
            }
        }
        _ => {}
    }
    let (l, r) = (eval(left, row, ctx)?, eval(right, row, ctx)?);
    Ok(match op {
        BinaryOp::Equal => equals(&l, &r).map(Value::Bool),
        BinaryOp::NotEqual => equals(&l, &r).map(|b| Value::Bool(!b)),
        BinaryOp::Less => compare(&l, &r).map(|o| Value::Bool(o.is_lt())),
        BinaryOp::LessOrEqual => compare(&l, &r).map(|o| Value::Bool(o.is_le())),
        BinaryOp::Greater => compare(&l, &r).map(|o| Value::Bool(o.is_gt())),
        BinaryOp::GreaterOrEqual => compare(&l, &r).map(|o| Value::Bool(o.is_ge())),
        BinaryOp::Concat => match (l, r) {
            (Some(Value::String(a)), Some(Value::String(b))) => Some(Value::String(a + &b)),
            _ => None,
        },
        _ => {
            let (Some(a), Some(b)) = (
                l.as_ref().and_then(Value::as_f64),
                r.as_ref().and_then(Value::as_f64),
            ) else {
                return Ok(None);
            };
            let (x, y) = (a as i64, b as i64);
            match op {
                BinaryOp::Add => number(a + b),
                BinaryOp::Subtract => number(a - b),
                BinaryOp::Multiply => number(a * b),
                BinaryOp::Divide => number(a / b),
                BinaryOp::Modulo => number(a % b),
                BinaryOp::BitAnd => number((x & y) as f64),
                BinaryOp::BitOr => number((x | y) as f64),
                BinaryOp::BitXor => number((x ^ y) as f64),
                BinaryOp::ShiftLeft => number(((x as i32).wrapping_shl(y as u32)) as f64),
                BinaryOp::ShiftRight => number(((x as i32).wrapping_shr(y as u32)) as f64),
                BinaryOp::ShiftRightZeroFill => number(((x as u32).wrapping_shr(y as u32)) as f64),
                _ => None,
            }
        }
    })
}

/// SQL `LIKE`: `%` any run, `_` one character, `[...]` a set, and an
/// optional escape character that makes the next one literal.
pub fn like(text: &str, pattern: &str, escape: Option<char>) -> bool {
    #[derive(Debug)]
    enum Piece {
        Any,
        One,
        Set(Vec<char>, bool),
        Char(char),
    }
    let mut pieces = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            if let Some(next) = chars.next() {
                pieces.push(Piece::Char(next));
            }
            continue;
        }
        match c {
            '%' => pieces.push(Piece::Any),
            '_' => pieces.push(Piece::One),
            '[' => {
                let negate = chars.peek() == Some(&'^');
                if negate {
                    chars.next();
                }
                let mut set = Vec::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    set.push(d);
                }
                pieces.push(Piece::Set(set, negate));
            }
            c => pieces.push(Piece::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Dynamic programming over (piece, position): linear in their product, no backtracking blow-up.
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for piece in &pieces {
        let mut next = vec![false; text.len() + 1];
        for i in 0..=text.len() {
            if !reachable[i] {
                continue;
            }
            match piece {
                Piece::Any => {
                    for slot in next.iter_mut().skip(i) {
                        *slot = true;
                    }
                    break;
                }
                Piece::One => {
                    if i < text.len() {
                        next[i + 1] = true;
                    }
                }
                Piece::Set(set, negate) => {
                    if i < text.len() && set.contains(&text[i]) != *negate {
                        next[i + 1] = true;
                    }
                }
                Piece::Char(c) => {
                    if i < text.len() && text[i] == *c {
                        next[i + 1] = true;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("abc", "a%", None));
        assert!(like("abc", "%c", None));
        assert!(like("abc", "_b_", None));
        assert!(!like("abc", "_b", None));
        assert!(like("a%c", "a!%c", Some('!')));
        assert!(!like("abc", "a!%c", Some('!')));
        assert!(like("bat", "[bc]at", None));
        assert!(!like("rat", "[bc]at", None));
        assert!(like("rat", "[^bc]at", None));
        assert!(like(&"a".repeat(5000), &"%a".repeat(50), None));
    }

    #[test]
    fn request_parameters() {
        let list = serde_json::json!([
            {"name": "@a", "value": 1},
            {"name": "@n", "value": null},
            {"name": "@missing"}
        ]);
        let parameters = parameters_from_json(Some(&list)).expect("parameters");
        assert_eq!(parameters.get("@a"), Some(&serde_json::json!(1)));
        assert_eq!(parameters.get("@n"), Some(&Value::Null));
        assert_eq!(parameters.get("@missing"), None);
        assert!(parameters_from_json(None).expect("none").is_empty());
        assert!(parameters_from_json(Some(&Value::Null))
            .expect("null")
            .is_empty());
        for bad in [
            serde_json::json!({"name": "@a"}),
            serde_json::json!([{"value": 1}]),
        ] {
            assert!(parameters_from_json(Some(&bad)).is_err(), "{bad}");
        }
    }
}
