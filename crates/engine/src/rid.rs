//! Resource ids (`_rid`): the service's compact binary ids, base64-encoded with
//! `/` spelled `-` so they fit in paths. A database id is 4 bytes, a container
//! id extends it to 8, a document id to 16.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes).replace('/', "-")
}

pub fn database(seq: u32) -> [u8; 4] {
    seq.to_be_bytes()
}

pub fn container(database: [u8; 4], seq: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&database);
    // The service marks collection ids with the top bit.
    out[4..].copy_from_slice(&(seq | 0x8000_0000).to_be_bytes());
    out
}

pub fn document(container: [u8; 8], seq: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&container);
    out[8..].copy_from_slice(&seq.to_be_bytes());
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
}
