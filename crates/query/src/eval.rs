use std::collections::HashMap;

use serde_json::Value;

use crate::ast::{Expr, Query};
use crate::QueryError;

/// Query parameters by name, `@` included.
pub type Parameters = HashMap<String, Value>;

impl Query {
    /// Checks that every parameter the query uses is supplied.
    pub fn check_parameters(&self, parameters: &Parameters) -> Result<(), QueryError> {
        fn walk(expr: &Expr, parameters: &Parameters) -> Result<(), QueryError> {
            match expr {
                Expr::Parameter(p) if !parameters.contains_key(p) => {
                    Err(QueryError::MissingParameter(p.clone()))
                }
                Expr::Equal(a, b) | Expr::And(a, b) => {
                    walk(a, parameters)?;
                    walk(b, parameters)
                }
                _ => Ok(()),
            }
        }
        self.filter.as_ref().map_or(Ok(()), |f| walk(f, parameters))
    }

    /// Whether a document passes the `WHERE` clause.
    pub fn matches(&self, document: &Value, parameters: &Parameters) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| evaluate(f, document, parameters) == Some(Value::Bool(true)))
    }
}

/// The value of an expression; `None` is `undefined`.
fn evaluate(expr: &Expr, document: &Value, parameters: &Parameters) -> Option<Value> {
    match expr {
        Expr::Literal(v) => Some(v.clone()),
        Expr::Parameter(p) => parameters.get(p).cloned(),
        Expr::Property(steps) => {
            let mut current = document;
            for step in steps {
                current = current.as_object()?.get(step)?;
            }
            Some(current.clone())
        }
        Expr::Equal(a, b) => {
            let (a, b) = (
                evaluate(a, document, parameters)?,
                evaluate(b, document, parameters)?,
            );
            Some(Value::Bool(json_equal(&a, &b)))
        }
        Expr::And(a, b) => {
            let a = evaluate(a, document, parameters);
            let b = evaluate(b, document, parameters);
            match (a, b) {
                (Some(Value::Bool(false)), _) | (_, Some(Value::Bool(false))) => {
                    Some(Value::Bool(false))
                }
                (Some(Value::Bool(true)), Some(Value::Bool(true))) => Some(Value::Bool(true)),
                _ => None,
            }
        }
    }
}

/// Equality with numbers compared by value (1 = 1.0).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use serde_json::json;

    #[test]
    fn filters_with_undefined_semantics() {
        let q = parse("SELECT * FROM c WHERE c.a = @a AND c.n = 1").expect("parse");
        let params: Parameters = [("@a".to_string(), json!("x"))].into();
        assert!(q.matches(&json!({"a": "x", "n": 1.0}), &params));
        assert!(!q.matches(&json!({"a": "x", "n": 2}), &params));
        assert!(
            !q.matches(&json!({"n": 1}), &params),
            "missing property is undefined"
        );
        assert!(q.check_parameters(&Parameters::new()).is_err());
    }
}
