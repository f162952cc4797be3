//! Type checks and the conditionals `IIF` and `CHOOSE`.

use serde_json::Value;

use crate::value::Val;

pub fn call(name: &str, mut args: Vec<Val>) -> Option<Val> {
    let v = args.first().cloned().flatten();
    let is = |b: bool| Some(Some(Value::Bool(b)));
    match name {
        "IS_ARRAY" => is(matches!(v, Some(Value::Array(_)))),
        "IS_BOOL" => is(matches!(v, Some(Value::Bool(_)))),
        "IS_DEFINED" => is(v.is_some()),
        "IS_NULL" => is(matches!(v, Some(Value::Null))),
        "IS_NUMBER" => is(matches!(v, Some(Value::Number(_)))),
        "IS_OBJECT" => is(matches!(v, Some(Value::Object(_)))),
        "IS_PRIMITIVE" => is(matches!(
            v,
            Some(Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))
        )),
        "IS_STRING" => is(matches!(v, Some(Value::String(_)))),
        "IS_FINITE_NUMBER" => is(v
            .as_ref()
            .and_then(Value::as_f64)
            .is_some_and(f64::is_finite)),
        "IS_INTEGER" => is(v
            .as_ref()
            .and_then(Value::as_f64)
            .is_some_and(|n| n.fract() == 0.0)),
        "IIF" => {
            let pick = if matches!(v, Some(Value::Bool(true))) {
                1
            } else {
                2
            };
            Some(args.swap_remove(pick))
        }
        // CHOOSE(i, a, b, ...): the i-th (from 1) of the rest, else undefined.
        "CHOOSE" => {
            let index = v
                .as_ref()
                .and_then(Value::as_f64)
                .filter(|n| n.fract() == 0.0 && *n >= 1.0)
                .map(|n| n as usize)
                .filter(|i| *i < args.len());
            Some(index.and_then(|i| args.swap_remove(i)))
        }
        _ => None,
    }
}
