//! Every object Cosmonaut writes to a backup location is sealed: a header that
//! names its kind and format version, the body, and a SHA-256 of both. A
//! restore opens every object through [`unseal`], so a flipped bit, a
//! truncated upload or a file of the wrong kind is refused by name instead of
//! being restored.

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 4] = b"CSMN";
const VERSION: u8 = 1;
const HEADER: usize = 4 + 4 + 1;
const DIGEST: usize = 32;

/// The kinds of object in a backup location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Manifest,
    Chunk,
    Segment,
    Lease,
}

impl Kind {
    fn tag(self) -> &'static [u8; 4] {
        match self {
            Kind::Manifest => b"MANI",
            Kind::Chunk => b"CHNK",
            Kind::Segment => b"SEGM",
            Kind::Lease => b"LEAS",
        }
    }
}

/// Wraps `body` with its header and checksum.
pub fn seal(kind: Kind, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len() + DIGEST);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(kind.tag());
    out.push(VERSION);
    out.extend_from_slice(body);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// The body of a sealed object, or why it cannot be trusted.
pub fn unseal(kind: Kind, bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.len() < HEADER + DIGEST {
        return Err(format!(
            "{} bytes is too short to be a backup object",
            bytes.len()
        ));
    }
    let (content, digest) = bytes.split_at(bytes.len() - DIGEST);
    if Sha256::digest(content).as_slice() != digest {
        return Err("checksum mismatch (the object was changed or cut short)".into());
    }
    if &content[..4] != MAGIC {
        return Err("not a Cosmonaut backup object".into());
    }
    if &content[4..8] != kind.tag() {
        return Err(format!("expected a {kind:?} object"));
    }
    if content[8] != VERSION {
        return Err(format!("format version {} is not supported", content[8]));
    }
    Ok(&content[HEADER..])
}

/// Lowercase hex of a SHA-256 digest: content-addressed chunk names.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_objects_open_only_intact_and_as_their_kind() {
        let sealed = seal(Kind::Segment, b"hello");
        assert_eq!(unseal(Kind::Segment, &sealed), Ok(&b"hello"[..]));
        assert!(unseal(Kind::Chunk, &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[10] ^= 1;
        assert!(unseal(Kind::Segment, &flipped)
            .unwrap_err()
            .contains("checksum"));
        assert!(unseal(Kind::Segment, &sealed[..sealed.len() - 1]).is_err());
        assert!(unseal(Kind::Segment, b"tiny").is_err());
    }
}
