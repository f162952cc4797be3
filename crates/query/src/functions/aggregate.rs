//! Aggregates over the rows of a group.

use serde_json::Value;

use crate::ast::Expr;
use crate::eval::{eval, Context, Row};
use crate::value::{number, sort_order, Val};
use crate::QueryError;

pub fn is_aggregate(name: &str) -> bool {
    matches!(name, "COUNT" | "SUM" | "AVG" | "MIN" | "MAX" | "COUNTIF")
}

pub fn aggregate(
    name: &str,
    arg: Option<&Expr>,
    group: &[Row],
    ctx: &Context<'_>,
) -> Result<Val, QueryError> {
    let inner = ctx.with_group(None);
    let mut values = Vec::with_capacity(group.len());
    for row in group {
        if let Some(expr) = arg {
            values.push(eval(expr, row, &inner)?);
        }
    }
    Ok(match name {
        "COUNT" => number(values.iter().filter(|v| v.is_some()).count() as f64),
        "COUNTIF" => number(
            values
                .iter()
                .filter(|v| matches!(v, Some(Value::Bool(true))))
                .count() as f64,
        ),
        "SUM" | "AVG" => {
            let defined: Vec<&Value> = values.iter().flatten().collect();
            // Any non-number makes the whole sum undefined.
            let Some(numbers) = defined
                .iter()
                .map(|v| v.as_f64())
                .collect::<Option<Vec<f64>>>()
            else {
                return Ok(None);
            };
            let sum: f64 = numbers.iter().sum();
            if name == "SUM" {
                number(sum)
            } else if numbers.is_empty() {
                None
            } else {
                number(sum / numbers.len() as f64)
            }
        }
        _ => {
            // MIN and MAX order primitives across types; arrays and objects make the result undefined.
            let defined: Vec<Val> = values.into_iter().filter(Option::is_some).collect();
            if defined
                .iter()
                .any(|v| matches!(v, Some(Value::Array(_) | Value::Object(_))))
            {
                return Ok(None);
            }
            let pick = if name == "MIN" {
                Iterator::min_by
            } else {
                Iterator::max_by
            };
            pick(defined.into_iter(), |a: &Val, b: &Val| sort_order(a, b)).flatten()
        }
    })
}
