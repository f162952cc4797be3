//! Time to live. A container's `defaultTtl` turns expiry on: absent or
//! null, off; -1, on with no default (items expire only with their own
//! `ttl`); n > 0, items expire n seconds after their last write unless
//! their own `ttl` says otherwise (-1 for never). An expired item is gone
//! from reads, feeds and queries at once; the purge deletes it later.

use serde_json::Value;

use crate::error::{EngineError, Result};

/// A container's expiry setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ttl {
    #[default]
    Off,
    /// On, but only items with their own `ttl` expire.
    NoDefault,
    /// Items expire this many seconds after their last write by default.
    Seconds(i64),
}

impl Ttl {
    pub fn from_container(body: &Value) -> Self {
        match body.get("defaultTtl").and_then(Value::as_i64) {
            None => Ttl::Off,
            Some(-1) => Ttl::NoDefault,
            Some(n) if n > 0 => Ttl::Seconds(n),
            Some(_) => Ttl::Off,
        }
    }

    /// The second (Unix time) `document` expires at, if it expires.
    pub fn expires_at(&self, document: &Value) -> Option<i64> {
        let own = document.get("ttl").and_then(Value::as_i64);
        let seconds = match (self, own) {
            (Ttl::Off, _) | (_, Some(-1)) => return None,
            (_, Some(n)) if n > 0 => n,
            (Ttl::Seconds(n), _) => *n,
            (Ttl::NoDefault, _) => return None,
        };
        let written = document.get("_ts").and_then(Value::as_i64)?;
        Some(written.saturating_add(seconds))
    }

    /// Whether `document` has expired by `now` (Unix seconds).
    pub fn is_expired(&self, document: &Value, now: u64) -> bool {
        self.expires_at(document)
            .is_some_and(|at| at <= i64::try_from(now).unwrap_or(i64::MAX))
    }
}

/// Checks a container's `defaultTtl` as the service does.
pub fn check_default_ttl(body: &Value) -> Result<()> {
    match body.get("defaultTtl") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_i64().is_some_and(|n| n == -1 || n > 0) => Ok(()),
        Some(v) => Err(EngineError::bad_request(format!(
            "The value of defaultTtl ({v}) is invalid: it must be -1 or a positive number of seconds."
        ))),
    }
}

/// Checks an item's `ttl`: absent, -1 (never expire) or a positive number
/// of seconds that fits 32 bits. The service refuses any other value
/// (`null` included) whether or not the container has expiry on.
pub fn check_item_ttl(body: &Value) -> Result<()> {
    match body.get("ttl") {
        None => Ok(()),
        Some(v)
            if v.as_i64()
                .is_some_and(|n| n == -1 || (1..=MAX_TTL).contains(&n)) =>
        {
            Ok(())
        }
        Some(v) => {
            let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            Err(EngineError::bad_request(format!(
                "The input ttl '{shown}' is invalid. Ensure to provide a nonzero positive \
                 integer less than or equal to '{MAX_TTL}', or '-1' which means never expire."
            )))
        }
    }
}

/// The longest time to live, in seconds.
const MAX_TTL: i64 = i32::MAX as i64;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_follows_container_and_item() {
        let doc = |ttl: Value| {
            let mut d = json!({"id": "a", "_ts": 1000});
            if !ttl.is_null() {
                d["ttl"] = ttl;
            }
            d
        };
        let off = Ttl::from_container(&json!({}));
        let no_default = Ttl::from_container(&json!({"defaultTtl": -1}));
        let ten = Ttl::from_container(&json!({"defaultTtl": 10}));
        assert_eq!(off.expires_at(&doc(json!(5))), None);
        assert_eq!(no_default.expires_at(&doc(Value::Null)), None);
        assert_eq!(no_default.expires_at(&doc(json!(5))), Some(1005));
        assert_eq!(ten.expires_at(&doc(Value::Null)), Some(1010));
        assert_eq!(ten.expires_at(&doc(json!(-1))), None);
        assert_eq!(ten.expires_at(&doc(json!(2))), Some(1002));
        assert!(ten.is_expired(&doc(Value::Null), 1010));
        assert!(!ten.is_expired(&doc(Value::Null), 1009));
        assert!(check_default_ttl(&json!({"defaultTtl": 0})).is_err());
        assert!(check_default_ttl(&json!({"defaultTtl": "1"})).is_err());
        for refused in [
            json!(0),
            json!(null),
            json!(-10),
            json!(1u64 << 31),
            json!("5"),
        ] {
            assert!(check_item_ttl(&json!({ "ttl": refused })).is_err());
        }
        for kept in [json!(-1), json!(1), json!(i32::MAX)] {
            assert!(check_item_ttl(&json!({ "ttl": kept })).is_ok());
        }
        assert!(check_item_ttl(&json!({"id": "no ttl"})).is_ok());
    }
}
