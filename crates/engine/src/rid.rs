//! Resource ids (`_rid`): the service's compact binary ids, base64-encoded
//! with `/` spelled `-` so they fit in paths. The SDKs parse them (ORDER BY
//! continuations compare document counters, session handling reads the
//! container's), so the layout is the service's:
//!
//! - database: 4 bytes, a counter that is never zero;
//! - container: the database's 4 bytes, then 4 whose first byte has its top
//!   bit set; a user is the same with that bit clear;
//! - a container's children (documents, stored procedures, triggers, UDFs,
//!   conflicts, partition key ranges): the container's 8 bytes, then a
//!   little-endian counter whose top four bits (the high half of byte 15)
//!   say which kind of child it is;
//! - permission: the user's 8 bytes, then a little-endian counter.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes).replace('/', "-")
}

/// The bytes of a rid's text, if it is a well-formed rid: padded base64
/// (with `-` for `/`) of 4, 8 or 16 bytes, or 3 for an offer.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(4) || text.contains('/') {
        return None;
    }
    let bytes = STANDARD.decode(text.replace('-', "/")).ok()?;
    matches!(bytes.len(), 3 | 4 | 8 | 16).then_some(bytes)
}

/// What a container child's rid names: the high half of its last byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChildKind {
    Document = 0x0,
    Conflict = 0x4,
    PartitionKeyRange = 0x5,
    UserDefinedFunction = 0x6,
    Trigger = 0x7,
    StoredProcedure = 0x8,
}

/// The kind of resource a rid's bytes name, by the service's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RidKind {
    Database,
    Container,
    User,
    /// A container's child of this kind.
    Child(ChildKind),
    /// 16 bytes under a user.
    Permission,
}

/// Classifies rid bytes; `None` for bytes no resource has.
pub fn kind_of(bytes: &[u8]) -> Option<RidKind> {
    match bytes.len() {
        4 => Some(RidKind::Database),
        8 if bytes[4] & 0x80 != 0 => Some(RidKind::Container),
        8 => Some(RidKind::User),
        16 if bytes[4] & 0x80 == 0 => Some(RidKind::Permission),
        16 => {
            let kind = match bytes[15] >> 4 {
                0x0 => ChildKind::Document,
                0x4 => ChildKind::Conflict,
                0x5 => ChildKind::PartitionKeyRange,
                0x6 => ChildKind::UserDefinedFunction,
                0x7 => ChildKind::Trigger,
                0x8 => ChildKind::StoredProcedure,
                _ => return None,
            };
            Some(RidKind::Child(kind))
        }
        _ => None,
    }
}

pub fn database(seq: u32) -> [u8; 4] {
    seq.to_be_bytes()
}

pub fn container(database: [u8; 4], seq: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&database);
    // The service marks collection ids with the top bit of byte 4.
    out[4..].copy_from_slice(&(seq | 0x8000_0000).to_be_bytes());
    out
}

/// A user of `database`: like a container's rid, with byte 4's top bit clear.
pub fn user(database: [u8; 4], seq: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&database);
    out[4..].copy_from_slice(&(seq & 0x7FFF_FFFF).to_be_bytes());
    out
}

/// A child of `container` with counter `seq` (at most 2^60 - 1, the rest
/// of the 64 bits naming the kind).
pub fn child(container: [u8; 8], kind: ChildKind, seq: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&container);
    let tagged = (seq & 0x0FFF_FFFF_FFFF_FFFF) | (u64::from(kind as u8) << 60);
    out[8..].copy_from_slice(&tagged.to_le_bytes());
    out
}

pub fn document(container: [u8; 8], seq: u64) -> [u8; 16] {
    child(container, ChildKind::Document, seq)
}

/// A permission of the user whose rid is `user`.
pub fn permission(user: [u8; 8], seq: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&user);
    out[8..].copy_from_slice(&seq.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_the_service() {
        let db = database(1);
        assert_eq!(encode(&db).len(), 8);
        let coll = container(db, 1);
        assert_eq!(encode(&coll).len(), 12);
        assert_eq!(encode(&document(coll, 1)).len(), 24);
        assert!(!encode(&[0xff; 16]).contains('/'));
    }

    #[test]
    fn kinds_are_told_apart_as_the_sdks_tell_them() {
        let db = database(7);
        let coll = container(db, 3);
        let user = user(db, 3);
        assert_eq!(kind_of(&db), Some(RidKind::Database));
        assert_eq!(kind_of(&coll), Some(RidKind::Container));
        assert_eq!(kind_of(&user), Some(RidKind::User));
        assert_eq!(kind_of(&permission(user, 9)), Some(RidKind::Permission));
        for kind in [
            ChildKind::Document,
            ChildKind::Conflict,
            ChildKind::PartitionKeyRange,
            ChildKind::UserDefinedFunction,
            ChildKind::Trigger,
            ChildKind::StoredProcedure,
        ] {
            let rid = child(coll, kind, 1234);
            assert_eq!(kind_of(&rid), Some(RidKind::Child(kind)));
            // The counter reads back as the SDKs read it: bytes 8-15 little-endian.
            let counter = u64::from_le_bytes(rid[8..].try_into().expect("8 bytes"));
            assert_eq!(counter & 0x0FFF_FFFF_FFFF_FFFF, 1234);
        }
        // The service's own example of a document rid.
        let sample = decode("YIwkAI7sZwDzAwAAAAAAAA==").expect("a rid");
        assert_eq!(kind_of(&sample), Some(RidKind::Child(ChildKind::Document)));
        assert_eq!(
            decode("YIwkAI7sZwA=").map(|b| kind_of(&b)),
            Some(Some(RidKind::Container))
        );
    }

    #[test]
    fn malformed_text_is_not_a_rid() {
        for text in [
            "",
            "abc",
            "YIwkAA=",
            "YIwk AA==",
            "a/bcdefg",
            "AAAAAAAAAAAAAAAA",
        ] {
            assert!(decode(text).is_none(), "{text}");
        }
        assert_eq!(decode("YIwkAA==").map(|b| b.len()), Some(4));
    }
}
