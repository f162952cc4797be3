//! Order-preserving encoding of scalar values: a type byte in the service's
//! cross-type order (null < false < true < numbers < strings), then the value.
//!
//! Index entries keep at most [`MAX_INDEXED_STRING`] bytes of a string. A
//! longer one is stored as that prefix with a terminator that sorts after
//! the full-string one, so the encoding still never reverses two values'
//! order (strings sharing the prefix encode alike): lookups stay supersets,
//! checked against the documents, while walks and index-only answers, which
//! need exact values, are not used on an index holding such entries.

use serde_json::Value;

use crate::keys;

const NULL: u8 = 0x01;
const FALSE: u8 = 0x02;
const TRUE: u8 = 0x03;
const NUMBER: u8 = 0x04;
const STRING: u8 = 0x05;

/// Bytes of a string an index entry keeps. Long strings as keys made the
/// B-tree copy and compare kilobytes per entry; a 10 KB property cost more
/// to index than to store.
pub const MAX_INDEXED_STRING: usize = 256;
/// Ends a string cut to [`MAX_INDEXED_STRING`] bytes: after the full-string
/// terminator (`00 01`), before any escaped byte.
const CUT: [u8; 2] = [0x00, 0x02];

/// The encoding of a scalar for a unique key: strings whole, since two long
/// strings with one prefix must not collide there.
pub fn exact_value(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => {
            let mut out = Vec::with_capacity(3 + s.len());
            push_whole_string(&mut out, s);
            Some(out)
        }
        other => value(other),
    }
}

/// Whether `encoded` (one value's encoding) is a cut string.
pub fn is_cut(encoded: &[u8]) -> bool {
    encoded.first() == Some(&STRING) && encoded.ends_with(&CUT)
}

/// The encoding of a scalar; `None` for arrays and objects.
pub fn value(v: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(encoded_len_bound(v));
    push_value(&mut out, v).then_some(out)
}

/// Appends the encoding of a scalar to `out`, as [`value`] gives it, so an
/// index key is built in one buffer; `false` (and `out` as it was) for
/// arrays and objects.
pub fn push_value(out: &mut Vec<u8>, v: &Value) -> bool {
    match v {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(n) => {
            let Some(mut f) = n.as_f64() else {
                return false;
            };
            if f == 0.0 {
                f = 0.0; // -0 and 0 are one value
            }
            let bits = f.to_bits();
            let ordered = if bits >> 63 == 1 {
                !bits
            } else {
                bits | (1 << 63)
            };
            out.push(NUMBER);
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        Value::String(s) if s.len() > MAX_INDEXED_STRING => {
            out.push(STRING);
            keys::push_escaped(out, &s.as_bytes()[..MAX_INDEXED_STRING]);
            out.extend_from_slice(&CUT);
        }
        Value::String(s) => push_whole_string(out, s),
        Value::Array(_) | Value::Object(_) => return false,
    }
    true
}

fn push_whole_string(out: &mut Vec<u8>, s: &str) {
    out.push(STRING);
    keys::push_escaped(out, s.as_bytes());
    out.extend_from_slice(&keys::TERMINATOR);
}

/// About the bytes [`push_value`] appends for `v`: exact unless a string
/// holds zero bytes, each of which takes one more when escaped.
pub fn encoded_len_bound(v: &Value) -> usize {
    match v {
        Value::Number(_) => 9,
        Value::String(s) => 3 + s.len().min(MAX_INDEXED_STRING),
        _ => 1,
    }
}

/// The bytes an encoded value occupies at the start of `bytes`.
pub fn encoded_len(bytes: &[u8]) -> Option<usize> {
    match *bytes.first()? {
        NULL | FALSE | TRUE => Some(1),
        NUMBER => (bytes.len() >= 9).then_some(9),
        STRING => {
            let mut i = 1;
            while i + 1 < bytes.len() {
                match (bytes[i], bytes[i + 1]) {
                    (0x00, 0x01) | (0x00, 0x02) => return Some(i + 2),
                    (0x00, _) => i += 2,
                    _ => i += 1,
                }
            }
            None
        }
        _ => None,
    }
}

/// The value encoded at the start of `bytes` and the bytes it takes.
/// Integral numbers come back as integers, as documents usually hold them.
/// A cut string has no value to give back.
pub fn decode(bytes: &[u8]) -> Option<(Value, usize)> {
    let len = encoded_len(bytes)?;
    if is_cut(&bytes[..len]) {
        return None;
    }
    let value = match bytes[0] {
        NULL => Value::Null,
        FALSE => Value::Bool(false),
        TRUE => Value::Bool(true),
        NUMBER => {
            let ordered = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
            let bits = if ordered >> 63 == 1 {
                ordered & !(1 << 63)
            } else {
                !ordered
            };
            let f = f64::from_bits(bits);
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                Value::from(f as i64)
            } else {
                Value::from(f)
            }
        }
        _ => {
            let mut text = Vec::with_capacity(len);
            let mut i = 1;
            while i < len - 2 {
                text.push(bytes[i]);
                i += if bytes[i] == 0x00 { 2 } else { 1 };
            }
            Value::String(String::from_utf8(text).ok()?)
        }
    };
    Some((value, len))
}

/// The smallest and just-past-largest encodings of the type of `v`, for
/// one-sided ranges (`c.n > 5` covers numbers only).
pub fn type_bounds(v: &Value) -> Option<(Vec<u8>, Vec<u8>)> {
    let tag = match v {
        Value::Number(_) => NUMBER,
        Value::String(_) => STRING,
        Value::Bool(_) => FALSE,
        _ => return None,
    };
    let end = if tag == FALSE { TRUE + 1 } else { tag + 1 };
    Some((vec![tag], vec![end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn appending_a_value_leaves_what_came_before() {
        let long = "y".repeat(MAX_INDEXED_STRING + 10);
        for v in [
            json!(null),
            json!(true),
            json!(-1.5),
            json!("a\u{0}b"),
            json!(long),
        ] {
            let mut out = b"prefix".to_vec();
            assert!(push_value(&mut out, &v));
            assert_eq!(&out[..6], b"prefix");
            assert_eq!(encoded_len(&out[6..]), Some(out.len() - 6));
            if !is_cut(&out[6..]) {
                assert_eq!(decode(&out[6..]).map(|(value, _)| value), Some(v.clone()));
            }
            // The bound is exact but for escaped zero bytes.
            assert!(out.len() - 6 <= encoded_len_bound(&v) + 1);
        }
        let mut out = b"prefix".to_vec();
        assert!(!push_value(&mut out, &json!([1])));
        assert!(!push_value(&mut out, &json!({"a": 1})));
        assert_eq!(out, b"prefix");
    }

    #[test]
    fn byte_order_is_value_order() {
        let values = [
            json!(null),
            json!(false),
            json!(true),
            json!(-1e300),
            json!(-2),
            json!(-0.5),
            json!(0),
            json!(0.25),
            json!(3),
            json!(1e300),
            json!(""),
            json!("\u{0}"),
            json!("a"),
            json!("a\u{0}"),
            json!("ab"),
            json!("b"),
        ];
        for pair in values.windows(2) {
            let (a, b) = (value(&pair[0]).expect("a"), value(&pair[1]).expect("b"));
            assert!(a < b, "{} < {}", pair[0], pair[1]);
            assert_eq!(
                encoded_len(&[a.as_slice(), b"tail"].concat()),
                Some(a.len())
            );
            let (back, len) = decode(&[a.as_slice(), b"tail"].concat()).expect("decode");
            assert_eq!((&back, len), (&pair[0], a.len()));
        }
        assert_eq!(value(&json!(-0.0)), value(&json!(0)));
        assert_eq!(value(&json!(1)), value(&json!(1.0)));
    }

    #[test]
    fn long_strings_are_cut_without_reordering() {
        let long = |head: &str, fill: char| {
            let mut s = head.to_string();
            s.extend(std::iter::repeat_n(fill, MAX_INDEXED_STRING + 10));
            json!(s)
        };
        let prefix = "p".repeat(MAX_INDEXED_STRING);
        let values = [
            json!("p"),
            json!(prefix.clone()),
            long(&prefix, 'a'),
            json!("q"),
        ];
        for pair in values.windows(2) {
            let (a, b) = (value(&pair[0]).expect("a"), value(&pair[1]).expect("b"));
            assert!(a < b, "{} < {}", pair[0], pair[1]);
        }
        // Strings sharing the kept prefix encode alike, and say they were cut.
        let (a, b) = (long(&prefix, 'a'), long(&prefix, 'z'));
        let encoded = value(&a).expect("a");
        assert_eq!(Some(encoded.clone()), value(&b));
        assert!(is_cut(&encoded) && !is_cut(&value(&json!("p")).expect("p")));
        assert_eq!(
            encoded_len(&[encoded.as_slice(), b"tail"].concat()),
            Some(encoded.len())
        );
        assert!(decode(&encoded).is_none());
        assert_ne!(exact_value(&a), exact_value(&b));
        assert_eq!(value(&json!(1)), value(&json!(1.0)));
    }
}
