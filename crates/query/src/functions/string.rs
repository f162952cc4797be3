//! String functions. Positions and lengths count characters, not bytes.

use serde_json::Value;

use super::{flag, num, text};
use crate::value::{number, Val};
use crate::QueryError;

/// Longest string REPLICATE may build.
const MAX_REPLICATE: usize = 10_000;

fn string(s: String) -> Val {
    Some(Value::String(s))
}

fn whole(v: Option<f64>) -> Option<i64> {
    v.filter(|n| n.fract() == 0.0).map(|n| n as i64)
}

pub fn call(name: &str, args: &[Val]) -> Result<Option<Val>, QueryError> {
    let s = args.first().and_then(text);
    let t = args.get(1).and_then(text);
    Ok(Some(match name {
        "CONCAT" => args
            .iter()
            .map(text)
            .collect::<Option<Vec<_>>>()
            .map(|parts| Value::String(parts.concat())),
        "CONTAINS" | "STARTSWITH" | "ENDSWITH" | "STRINGEQUALS" => {
            let (Some(s), Some(t), Some(ignore_case)) = (s, t, flag(args.get(2))) else {
                return Ok(Some(None));
            };
            let (s, t) = if ignore_case {
                (s.to_lowercase(), t.to_lowercase())
            } else {
                (s.to_string(), t.to_string())
            };
            Some(Value::Bool(match name {
                "CONTAINS" => s.contains(&t),
                "STARTSWITH" => s.starts_with(&t),
                "ENDSWITH" => s.ends_with(&t),
                _ => s == t,
            }))
        }
        "INDEX_OF" => {
            let (Some(s), Some(t)) = (s, t) else {
                return Ok(Some(None));
            };
            let start = if args.len() > 2 {
                whole(args.get(2).and_then(num))
            } else {
                Some(0)
            };
            let Some(start) = start.and_then(|n| usize::try_from(n).ok()) else {
                return Ok(Some(None));
            };
            let chars: Vec<char> = s.chars().collect();
            let found = (start <= chars.len())
                .then(|| chars[start..].iter().collect::<String>())
                .and_then(|tail| {
                    tail.find(t)
                        .map(|byte| tail[..byte].chars().count() + start)
                });
            number(found.map_or(-1.0, |i| i as f64))
        }
        "LEFT" | "RIGHT" => {
            let (Some(s), Some(n)) = (s, whole(args.get(1).and_then(num))) else {
                return Ok(Some(None));
            };
            let n = usize::try_from(n.max(0)).unwrap_or(0);
            let chars: Vec<char> = s.chars().collect();
            let n = n.min(chars.len());
            let slice = if name == "LEFT" {
                &chars[..n]
            } else {
                &chars[chars.len() - n..]
            };
            string(slice.iter().collect())
        }
        "LENGTH" => s.and_then(|s| number(s.chars().count() as f64)),
        "LOWER" => s.map(|s| Value::String(s.to_lowercase())),
        "UPPER" => s.map(|s| Value::String(s.to_uppercase())),
        "LTRIM" => s.map(|s| Value::String(s.trim_start().to_string())),
        "RTRIM" => s.map(|s| Value::String(s.trim_end().to_string())),
        "TRIM" => s.map(|s| Value::String(s.trim().to_string())),
        "REPLACE" => match (s, t, args.get(2).and_then(text)) {
            (Some(s), Some(find), Some(with)) if !find.is_empty() => string(s.replace(find, with)),
            (Some(s), Some(_), Some(_)) => string(s.to_string()),
            _ => None,
        },
        "REPLICATE" => {
            let (Some(s), Some(n)) = (s, whole(args.get(1).and_then(num))) else {
                return Ok(Some(None));
            };
            match usize::try_from(n) {
                Ok(n) if s.len().saturating_mul(n) <= MAX_REPLICATE => string(s.repeat(n)),
                _ => None,
            }
        }
        "REVERSE" => s.map(|s| Value::String(s.chars().rev().collect())),
        "SUBSTRING" => {
            let (Some(s), Some(start), Some(len)) = (
                s,
                whole(args.get(1).and_then(num)),
                whole(args.get(2).and_then(num)),
            ) else {
                return Ok(Some(None));
            };
            let start = usize::try_from(start.max(0)).unwrap_or(0);
            let len = usize::try_from(len.max(0)).unwrap_or(0);
            string(s.chars().skip(start).take(len).collect())
        }
        "TOSTRING" => args.first().cloned().flatten().map(|v| match v {
            Value::String(s) => Value::String(s),
            other => Value::String(other.to_string()),
        }),
        "REGEXMATCH" => {
            let (Some(s), Some(pattern)) = (s, t) else {
                return Ok(Some(None));
            };
            let modifiers = match args.get(2) {
                None => "",
                Some(v) => match text(v) {
                    Some(m) => m,
                    None => return Ok(Some(None)),
                },
            };
            let mut builder = regex::RegexBuilder::new(pattern);
            for m in modifiers.chars() {
                match m {
                    'i' => builder.case_insensitive(true),
                    'm' => builder.multi_line(true),
                    's' => builder.dot_matches_new_line(true),
                    'x' => builder.ignore_whitespace(true),
                    _ => {
                        return Err(QueryError::Semantic(format!(
                            "Invalid REGEXMATCH modifier '{m}'."
                        )))
                    }
                };
            }
            let regex = builder
                .size_limit(1 << 20)
                .build()
                .map_err(|e| QueryError::Semantic(format!("Invalid regular expression: {e}")))?;
            Some(Value::Bool(regex.is_match(s)))
        }
        "STRINGTOARRAY" | "STRINGTOBOOLEAN" | "STRINGTONULL" | "STRINGTONUMBER"
        | "STRINGTOOBJECT" => {
            let parsed: Option<Value> = s.and_then(|s| serde_json::from_str(s.trim()).ok());
            parsed.filter(|v| match name {
                "STRINGTOARRAY" => v.is_array(),
                "STRINGTOBOOLEAN" => v.is_boolean(),
                "STRINGTONULL" => v.is_null(),
                "STRINGTONUMBER" => v.is_number(),
                _ => v.is_object(),
            })
        }
        "STRINGSPLIT" => match (s, t) {
            (Some(s), Some(d)) if !d.is_empty() => Some(Value::Array(
                s.split(d).map(|p| Value::String(p.into())).collect(),
            )),
            _ => None,
        },
        "STRINGJOIN" => match (args.first().cloned().flatten(), t) {
            (Some(Value::Array(items)), Some(sep)) => items
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .map(|parts| Value::String(parts.join(sep))),
            _ => None,
        },
        _ => return Ok(None),
    }))
}
