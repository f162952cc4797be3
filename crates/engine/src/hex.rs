//! Hex spellings: upper case for EPKs (the wire form), lower case for our
//! own continuation tokens.

use std::fmt::Write as _;

pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub(crate) fn encode_hex_upper(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
}

/// `None` for odd lengths or anything but hex digits.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(decode_hex(&encode_hex(&[0, 1, 255])), Some(vec![0, 1, 255]));
        assert_eq!(decode_hex("0AfF"), Some(vec![0x0A, 0xFF]));
        assert_eq!(encode_hex_upper(&[0xAB]), "AB");
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
