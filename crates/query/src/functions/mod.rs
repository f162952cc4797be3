//! Built-in functions. Arguments of the wrong type give `undefined`, as in
//! the service; an unknown name or a wrong argument count is a query error
//! found before any document is read.

mod aggregate;
mod array;
mod datetime;
mod math;
mod spatial;
mod string;
mod types;

pub use aggregate::{aggregate, is_aggregate};
pub use datetime::static_time_values;

use crate::value::Val;
use crate::QueryError;

/// Every built-in: name (upper case), least and most arguments.
const SIGNATURES: &[(&str, usize, usize)] = &[
    // Aggregates.
    ("COUNT", 1, 1),
    ("SUM", 1, 1),
    ("AVG", 1, 1),
    ("MIN", 1, 1),
    ("MAX", 1, 1),
    ("COUNTIF", 1, 1),
    // Mathematical.
    ("ABS", 1, 1),
    ("ACOS", 1, 1),
    ("ASIN", 1, 1),
    ("ATAN", 1, 1),
    ("ATN2", 2, 2),
    ("CEILING", 1, 1),
    ("COS", 1, 1),
    ("COT", 1, 1),
    ("DEGREES", 1, 1),
    ("EXP", 1, 1),
    ("FLOOR", 1, 1),
    ("LOG", 1, 2),
    ("LOG10", 1, 1),
    ("PI", 0, 0),
    ("POWER", 2, 2),
    ("RADIANS", 1, 1),
    ("RAND", 0, 0),
    ("ROUND", 1, 1),
    ("SIGN", 1, 1),
    ("SIN", 1, 1),
    ("SQRT", 1, 1),
    ("SQUARE", 1, 1),
    ("TAN", 1, 1),
    ("TRUNC", 1, 1),
    ("NUMBERBIN", 1, 2),
    ("INTADD", 2, 2),
    ("INTSUB", 2, 2),
    ("INTMUL", 2, 2),
    ("INTDIV", 2, 2),
    ("INTMOD", 2, 2),
    ("INTBITAND", 2, 2),
    ("INTBITOR", 2, 2),
    ("INTBITXOR", 2, 2),
    ("INTBITNOT", 1, 1),
    ("INTBITLEFTSHIFT", 2, 2),
    ("INTBITRIGHTSHIFT", 2, 2),
    // String.
    ("CONCAT", 2, usize::MAX),
    ("CONTAINS", 2, 3),
    ("ENDSWITH", 2, 3),
    ("STARTSWITH", 2, 3),
    ("INDEX_OF", 2, 3),
    ("LEFT", 2, 2),
    ("RIGHT", 2, 2),
    ("LENGTH", 1, 1),
    ("LOWER", 1, 1),
    ("UPPER", 1, 1),
    ("LTRIM", 1, 1),
    ("RTRIM", 1, 1),
    ("TRIM", 1, 1),
    ("REPLACE", 3, 3),
    ("REPLICATE", 2, 2),
    ("REVERSE", 1, 1),
    ("SUBSTRING", 3, 3),
    ("TOSTRING", 1, 1),
    ("STRINGEQUALS", 2, 3),
    ("REGEXMATCH", 2, 3),
    ("STRINGTOARRAY", 1, 1),
    ("STRINGTOBOOLEAN", 1, 1),
    ("STRINGTONULL", 1, 1),
    ("STRINGTONUMBER", 1, 1),
    ("STRINGTOOBJECT", 1, 1),
    ("STRINGSPLIT", 2, 2),
    ("STRINGJOIN", 2, 2),
    // Array.
    ("ARRAY_CONCAT", 2, usize::MAX),
    ("ARRAY_CONTAINS", 2, 3),
    ("ARRAY_CONTAINS_ANY", 2, usize::MAX),
    ("ARRAY_CONTAINS_ALL", 2, usize::MAX),
    ("ARRAY_LENGTH", 1, 1),
    ("ARRAY_SLICE", 2, 3),
    ("SETINTERSECT", 2, 2),
    ("SETUNION", 2, 2),
    ("OBJECTTOARRAY", 1, 1),
    // Type checking and conditionals.
    ("IS_ARRAY", 1, 1),
    ("IS_BOOL", 1, 1),
    ("IS_DEFINED", 1, 1),
    ("IS_NULL", 1, 1),
    ("IS_NUMBER", 1, 1),
    ("IS_OBJECT", 1, 1),
    ("IS_PRIMITIVE", 1, 1),
    ("IS_STRING", 1, 1),
    ("IS_FINITE_NUMBER", 1, 1),
    ("IS_INTEGER", 1, 1),
    ("IIF", 3, 3),
    ("CHOOSE", 2, usize::MAX),
    // Date and time.
    ("GETCURRENTDATETIME", 0, 0),
    ("GETCURRENTTIMESTAMP", 0, 0),
    ("GETCURRENTTICKS", 0, 0),
    ("GETCURRENTDATETIMESTATIC", 0, 0),
    ("GETCURRENTTIMESTAMPSTATIC", 0, 0),
    ("GETCURRENTTICKSSTATIC", 0, 0),
    ("DATETIMEADD", 3, 3),
    ("DATETIMEPART", 2, 2),
    ("DATETIMEDIFF", 3, 3),
    ("DATETIMEFROMPARTS", 3, 7),
    ("DATETIMETOTIMESTAMP", 1, 1),
    ("TIMESTAMPTODATETIME", 1, 1),
    ("DATETIMETOTICKS", 1, 1),
    ("TICKSTODATETIME", 1, 1),
    ("DATETIMEBIN", 2, 4),
    // Spatial.
    ("ST_DISTANCE", 2, 2),
    ("ST_WITHIN", 2, 2),
    ("ST_INTERSECTS", 2, 2),
    ("ST_ISVALID", 1, 1),
];

/// Checks a call's name and argument count.
pub fn check(name: &str, args: usize) -> Result<(), QueryError> {
    let (_, min, max) = SIGNATURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| {
            QueryError::Semantic(format!(
                "'{name}' is not a recognized built-in function name."
            ))
        })?;
    if args < *min || args > *max {
        return Err(QueryError::Semantic(format!(
            "The {name} function requires {} argument(s), not {args}.",
            if min == max {
                min.to_string()
            } else if *max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            }
        )));
    }
    Ok(())
}

/// Calls a scalar built-in with evaluated arguments.
pub fn call(name: &str, args: Vec<Val>) -> Result<Val, QueryError> {
    if let Some(v) = math::call(name, &args) {
        return Ok(v);
    }
    if let Some(v) = string::call(name, &args)? {
        return Ok(v);
    }
    if let Some(v) = array::call(name, &args) {
        return Ok(v);
    }
    if let Some(v) = types::call(name, args.clone()) {
        return Ok(v);
    }
    if let Some(v) = datetime::call(name, &args) {
        return Ok(v);
    }
    if let Some(v) = spatial::call(name, &args) {
        return Ok(v);
    }
    Err(QueryError::Semantic(format!(
        "'{name}' is not a recognized built-in function name."
    )))
}

/// Argument helpers shared by the families.
fn num(v: &Val) -> Option<f64> {
    v.as_ref()?.as_f64()
}

fn text(v: &Val) -> Option<&str> {
    v.as_ref()?.as_str()
}

fn flag(v: Option<&Val>) -> Option<bool> {
    match v {
        None => Some(false),
        Some(Some(serde_json::Value::Bool(b))) => Some(*b),
        Some(_) => None,
    }
}
