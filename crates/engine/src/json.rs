//! JSON text of a document, byte for byte what `serde_json::to_vec` writes,
//! only faster on long strings.
//!
//! Every write prints the document it stores and every query page prints
//! the documents it returns. serde_json looks each byte of a string up in an
//! escape table; in a 1 KB item, most of it one string, that was about a
//! twentieth of a create's instructions. Here strings are checked eight
//! bytes at a time and copied in runs between the rare bytes that need an
//! escape.

use serde_json::{Map, Number, Value};

/// The compact JSON text of `value`.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    out
}

/// Appends the compact JSON text of `value` to `out`.
fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    // serde_json's own printing (itoa and ryu): numbers are short, and
    // this keeps their text identical.
    if serde_json::to_writer(&mut *out, n).is_err() {
        // Writing into a Vec cannot fail; a number always prints.
        out.extend_from_slice(b"null");
    }
}

/// Appends `s` as a JSON string: `"` and `\` escaped, control characters
/// as `\n`, `\t`... or `\u00XX`, everything else (UTF-8 included) as is.
fn write_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..at]);
        write_escape(out, bytes[at]);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The index of the first byte at or after `from` that needs an escape.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        let x = u64::from_le_bytes(word);
        // The usual "has a byte below n" test, for bytes below 0x20 and for
        // bytes equal to '"' or '\\' (zero once xor-ed with them). It may
        // flag a word with nothing to escape, never miss one.
        let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGHS;
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        if below(x, 0x20) | below(quote, 1) | below(backslash, 1) != 0 {
            // Something in these eight: find it byte by byte.
            break;
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| needs_escape(b))
        .map(|at| i + at)
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

fn write_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0C => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xF)],
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same_as_serde(value: &Value) {
        let ours = to_vec(value);
        let theirs = serde_json::to_vec(value).expect("serde_json prints any value");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    #[test]
    fn prints_what_serde_json_prints() {
        same_as_serde(&json!(null));
        same_as_serde(&json!({
            "id": "a", "n": 1, "neg": -7, "big": u64::MAX, "f": 1.5, "tiny": 1e-300,
            "whole": 3.0, "t": true, "f2": false, "z": null,
            "nested": {"a": [1, "two", [], {}, [null]]},
            "unicode": "héllo wörld ✓ 😀", "empty": ""
        }));
    }

    #[test]
    fn escapes_every_byte_that_needs_it_at_any_position() {
        // Each special byte at every offset within and across 8-byte words.
        let specials = [
            '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{0}', '\u{1f}', '\u{7f}',
        ];
        for special in specials {
            for at in 0..20 {
                let mut s: String = "abcdefghijklmnopqrst".into();
                s.insert(at, special);
                same_as_serde(&json!(s));
                same_as_serde(&json!({ s.clone(): s }));
            }
        }
        let all: String = (0u8..0x80).map(char::from).collect();
        same_as_serde(&json!(all.repeat(3)));
        // Multi-byte characters have their high bits set in every byte.
        same_as_serde(&json!("ÿ\"ÿ\\ÿ€€€€€€€€\u{1}"));
    }

    #[test]
    fn random_strings_print_alike() {
        let alphabet: Vec<char> = "ab\"\\\n\u{1}\u{1f} ~é€😀\u{7f}/".chars().collect();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((seed >> (i % 48)) as usize + i * 7) % alphabet.len()])
                .collect();
            same_as_serde(&json!([s]));
        }
    }
}
