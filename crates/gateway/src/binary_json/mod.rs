//! Cosmos binary JSON, the compact encoding clients may use for request and
//! response bodies instead of text JSON. A binary body starts with the byte
//! `0x80`, which no UTF-8 text can start with, so the format is recognised by
//! its first byte alone; the `Content-Type` stays `application/json`.
//!
//! Every value starts with a one-byte marker; see [`markers`] for the table.

mod decode;
pub mod markers;

pub use decode::{decode, BinaryJsonError};

/// The first byte of every binary JSON body.
pub const PREAMBLE: u8 = 0x80;

/// Whether a body is binary JSON rather than text.
pub fn is_binary(body: &[u8]) -> bool {
    body.first() == Some(&PREAMBLE)
}
