//! Every object Cosmonaut writes to a backup location is sealed: a header that
//! names its kind and format version, the body, and a SHA-256 of both. A
//! restore opens every object through [`unseal`], so a flipped bit, a
//! truncated upload or a file of the wrong kind is refused by name instead of
//! being restored.
//!
//! With an encryption key ([`Sealer`]), the body is encrypted with AES-256-GCM
//! (format version 2: the key's fingerprint, a random nonce, then the
//! ciphertext and its tag), so the location holds nothing readable without
//! the key, and a restore with another key is told so by fingerprint.

use std::borrow::Cow;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::BackupError;

const MAGIC: &[u8; 4] = b"CSMN";
const VERSION: u8 = 1;
const ENCRYPTED: u8 = 2;
const HEADER: usize = 4 + 4 + 1;
const DIGEST: usize = 32;
const FINGERPRINT: usize = 8;
const NONCE: usize = 12;

/// The key that encrypts a location's objects: 32 bytes, given as base64
/// (`openssl rand -base64 32` makes one).
pub struct EncryptionKey {
    cipher: Aes256Gcm,
    fingerprint: [u8; FINGERPRINT],
}

impl EncryptionKey {
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "the backup encryption key is not base64".to_string())?;
        if bytes.len() != 32 {
            return Err(format!(
                "the backup encryption key is {} bytes; it must be 32 (make one with \
                 `openssl rand -base64 32`)",
                bytes.len()
            ));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|e| e.to_string())?;
        let digest = Sha256::digest([b"cosmonaut-backup-key:".as_slice(), &bytes].concat());
        let mut fingerprint = [0; FINGERPRINT];
        fingerprint.copy_from_slice(&digest[..FINGERPRINT]);
        Ok(Self {
            cipher,
            fingerprint,
        })
    }

    /// Names the key without revealing it.
    pub fn fingerprint(&self) -> String {
        hex(&self.fingerprint)
    }
}

/// Seals and opens a location's objects, encrypting them when it has a key.
#[derive(Clone, Default)]
pub struct Sealer {
    key: Option<Arc<EncryptionKey>>,
}

impl Sealer {
    pub fn new(key: Option<Arc<EncryptionKey>>) -> Self {
        Self { key }
    }

    pub fn seal(&self, kind: Kind, body: &[u8]) -> crate::Result<Vec<u8>> {
        let Some(key) = &self.key else {
            return Ok(seal(kind, body));
        };
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|e| BackupError::Encrypt(e.to_string()))?;
        let ciphertext = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), body)
            .map_err(|_| BackupError::Encrypt("AES-GCM refused the object".into()))?;
        let mut inner = Vec::with_capacity(FINGERPRINT + NONCE + ciphertext.len());
        inner.extend_from_slice(&key.fingerprint);
        inner.extend_from_slice(&nonce);
        inner.extend_from_slice(&ciphertext);
        Ok(seal_as(kind, ENCRYPTED, &inner))
    }

    pub fn unseal<'a>(&self, kind: Kind, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
        let (version, inner) = open(kind, bytes)?;
        if version == VERSION {
            return Ok(Cow::Borrowed(inner));
        }
        let Some(key) = &self.key else {
            return Err("the object is encrypted: give the backup encryption key \
                        (--backup-encryption-key)"
                .into());
        };
        if inner.len() < FINGERPRINT + NONCE {
            return Err("an encrypted object too short to hold its nonce".into());
        }
        let (fingerprint, rest) = inner.split_at(FINGERPRINT);
        if fingerprint != key.fingerprint {
            return Err(format!(
                "the object was encrypted with another key (fingerprint {}, this key's is {})",
                hex(fingerprint),
                key.fingerprint()
            ));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE);
        key.cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map(Cow::Owned)
            .map_err(|_| "the object does not decrypt with this key".into())
    }
}

/// The kinds of object in a backup location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Manifest,
    Chunk,
    Segment,
    Lease,
    /// The account's keys, role assignments and certificate.
    Account,
}

impl Kind {
    fn tag(self) -> &'static [u8; 4] {
        match self {
            Kind::Manifest => b"MANI",
            Kind::Chunk => b"CHNK",
            Kind::Segment => b"SEGM",
            Kind::Lease => b"LEAS",
            Kind::Account => b"ACCT",
        }
    }
}

/// Wraps `body` with its header and checksum, unencrypted.
pub fn seal(kind: Kind, body: &[u8]) -> Vec<u8> {
    seal_as(kind, VERSION, body)
}

fn seal_as(kind: Kind, version: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len() + DIGEST);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(kind.tag());
    out.push(version);
    out.extend_from_slice(body);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// The body of an unencrypted sealed object, or why it cannot be trusted.
pub fn unseal(kind: Kind, bytes: &[u8]) -> Result<&[u8], String> {
    match open(kind, bytes)? {
        (VERSION, body) => Ok(body),
        _ => Err("the object is encrypted, where none should be".into()),
    }
}

/// The format version and body of an intact sealed object of `kind`.
fn open(kind: Kind, bytes: &[u8]) -> Result<(u8, &[u8]), String> {
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
    if content[8] != VERSION && content[8] != ENCRYPTED {
        return Err(format!("format version {} is not supported", content[8]));
    }
    Ok((content[8], &content[HEADER..]))
}

/// Lowercase hex of a SHA-256 digest: content-addressed chunk names.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

    #[test]
    fn encrypted_objects_open_only_with_their_key() {
        let key = |text: &str| Some(Arc::new(EncryptionKey::from_base64(text).expect("key")));
        let sealer = Sealer::new(key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
        let sealed = sealer.seal(Kind::Chunk, b"secret document").expect("seal");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            sealer.unseal(Kind::Chunk, &sealed).expect("open").as_ref(),
            b"secret document"
        );
        let other = Sealer::new(key("HwAeAB0AHAAbABoAGQAYABcAFgAVABQAEwASABEAEAA="));
        assert!(other
            .unseal(Kind::Chunk, &sealed)
            .unwrap_err()
            .contains("another key"));
        assert!(Sealer::default()
            .unseal(Kind::Chunk, &sealed)
            .unwrap_err()
            .contains("--backup-encryption-key"));
        // Plain objects still open with a key: a location encrypted from
        // some point on keeps its older objects readable.
        let plain = seal(Kind::Chunk, b"older");
        assert_eq!(
            sealer.unseal(Kind::Chunk, &plain).expect("open").as_ref(),
            b"older"
        );
        assert!(EncryptionKey::from_base64("c2hvcnQ=").is_err());
    }
}
