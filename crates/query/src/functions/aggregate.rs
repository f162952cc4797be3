//! Aggregates over the rows of a group.

use serde_json::Value;

use crate::ast::Expr;
use crate::eval::{eval, row_weight, Context, Row};
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
    // Each value with the number of equal rows it stands for.
    let mut values = Vec::with_capacity(group.len());
    for row in group {
        if let Some(expr) = arg {
            values.push((eval(expr, row, &inner)?, row_weight(row)));
        }
    }
    let total = |keep: &dyn Fn(&Val) -> bool| -> f64 {
        values
            .iter()
            .filter(|(v, _)| keep(v))
            .map(|(_, n)| *n as f64)
            .sum()
    };
    Ok(match name {
        "COUNT" => number(total(&|v| v.is_some())),
        "COUNTIF" => number(total(&|v| matches!(v, Some(Value::Bool(true))))),
        "SUM" | "AVG" => {
            // Any non-number makes the whole sum undefined.
            let Some(numbers) = values
                .iter()
                .filter_map(|(v, n)| v.as_ref().map(|v| v.as_f64().map(|x| (x, *n))))
                .collect::<Option<Vec<(f64, u64)>>>()
            else {
                return Ok(None);
            };
            // Added one row at a time, as rows come, so a weighted run sums
            // to the same bits as its rows would.
            let mut sum = 0.0;
            let mut rows = 0u64;
            for (x, n) in &numbers {
                for _ in 0..*n {
                    sum += x;
                }
                rows += n;
            }
            if name == "SUM" {
                number(sum)
            } else if rows == 0 {
                None
            } else {
                number(sum / rows as f64)
            }
        }
        _ => {
            // MIN and MAX order primitives across types; arrays and objects make the result undefined.
            let defined: Vec<Val> = values
                .into_iter()
                .map(|(v, _)| v)
                .filter(Option::is_some)
                .collect();
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
