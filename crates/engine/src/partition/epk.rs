//! The effective partition key: the hash of a partition key that decides which
//! physical range owns a document. The SDKs compute it on their side to route
//! requests, so it has to match theirs bit for bit.

use super::definition::{PartitionKeyDefinition, PartitionKeyKind};
use super::value::PartitionKeyValue;

/// An effective partition key as raw bytes; ranges compare these bytewise,
/// which is the order of their upper-case hex spelling.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Epk(pub Vec<u8>);

impl Epk {
    /// Parses the hex spelling; `None` for odd lengths or non-hex characters.
    pub fn from_hex(text: &str) -> Option<Self> {
        crate::hex::decode_hex(text).map(Epk)
    }

    pub fn to_hex(&self) -> String {
        crate::hex::encode_hex_upper(&self.0)
    }
}

// Type markers of the hashing and binary encodings.
const UNDEFINED: u8 = 0x00;
const NULL: u8 = 0x01;
const FALSE: u8 = 0x02;
const TRUE: u8 = 0x03;
const NUMBER: u8 = 0x05;
const STRING: u8 = 0x08;

/// V1 hashes and encodes at most this many UTF-16 units of a string.
const V1_MAX_STRING_UTF16_UNITS: usize = 100;

/// The EPK of a (possibly prefix) partition key. An empty key is the start of
/// the EPK space.
pub fn effective_partition_key(def: &PartitionKeyDefinition, key: &[PartitionKeyValue]) -> Epk {
    if key.is_empty() {
        return Epk(Vec::new());
    }
    let bytes = match (def.kind, def.version) {
        (PartitionKeyKind::MultiHash, _) => key
            .iter()
            .flat_map(|v| hash_v2(std::slice::from_ref(v)))
            .collect(),
        (PartitionKeyKind::Hash, 1) => epk_v1(key),
        (PartitionKeyKind::Hash, _) => hash_v2(key).to_vec(),
    };
    Epk(bytes)
}

/// V2: MurmurHash3 x64/128 of the components, big-endian, top two bits cleared.
fn hash_v2(key: &[PartitionKeyValue]) -> [u8; 16] {
    let mut buf = Vec::new();
    for v in key {
        write_for_hashing(v, &mut buf, 0xFF, false);
    }
    // Reading from an in-memory slice cannot fail.
    let hash = murmur3::murmur3_x64_128(&mut buf.as_slice(), 0).unwrap_or_default();
    let mut bytes = hash.to_be_bytes();
    bytes[0] &= 0x3F;
    bytes
}

/// V1: the MurmurHash3-32 of the components as a number, followed by the
/// components themselves in the order-preserving binary encoding.
fn epk_v1(key: &[PartitionKeyValue]) -> Vec<u8> {
    let mut buf = Vec::new();
    for v in key {
        write_for_hashing(v, &mut buf, 0x00, true);
    }
    let hash = murmur3::murmur3_32(&mut buf.as_slice(), 0).unwrap_or_default();
    let mut out = Vec::new();
    write_number_v1(f64::from(hash), &mut out);
    for v in key {
        match v {
            PartitionKeyValue::Undefined => out.push(UNDEFINED),
            PartitionKeyValue::Null => out.push(NULL),
            PartitionKeyValue::Bool(false) => out.push(FALSE),
            PartitionKeyValue::Bool(true) => out.push(TRUE),
            PartitionKeyValue::Number(n) => write_number_v1(*n, &mut out),
            PartitionKeyValue::String(s) => {
                out.push(STRING);
                let bytes = v1_truncated(s);
                // Bytes are shifted by one so 0x00 can terminate; a string
                // longer than 100 bytes keeps 101 of them and no terminator.
                out.extend(bytes.iter().take(101).map(|b| b.wrapping_add(1)));
                if bytes.len() <= 100 {
                    out.push(0x00);
                }
            }
        }
    }
    out
}

fn write_for_hashing(v: &PartitionKeyValue, buf: &mut Vec<u8>, string_end: u8, truncate: bool) {
    match v {
        PartitionKeyValue::Undefined => buf.push(UNDEFINED),
        PartitionKeyValue::Null => buf.push(NULL),
        PartitionKeyValue::Bool(false) => buf.push(FALSE),
        PartitionKeyValue::Bool(true) => buf.push(TRUE),
        PartitionKeyValue::Number(n) => {
            buf.push(NUMBER);
            buf.extend_from_slice(&n.to_le_bytes());
        }
        PartitionKeyValue::String(s) => {
            buf.push(STRING);
            if truncate {
                buf.extend_from_slice(&v1_truncated(s));
            } else {
                buf.extend_from_slice(s.as_bytes());
            }
            buf.push(string_end);
        }
    }
}

/// The first 100 UTF-16 units of `s` as UTF-8; a surrogate pair cut in half
/// becomes U+FFFD, as the service does.
fn v1_truncated(s: &str) -> Vec<u8> {
    let mut units = 0;
    for (offset, ch) in s.char_indices() {
        if units == V1_MAX_STRING_UTF16_UNITS {
            return s.as_bytes()[..offset].to_vec();
        }
        units += ch.len_utf16();
        if units > V1_MAX_STRING_UTF16_UNITS {
            let mut out = s.as_bytes()[..offset].to_vec();
            out.extend_from_slice("\u{FFFD}".as_bytes());
            return out;
        }
    }
    s.as_bytes().to_vec()
}

/// The order-preserving variable-length number encoding of V1 EPKs: a sign-
/// folded IEEE-754 image, first byte whole, then 7 bits per byte with the
/// low bit as "more follows".
pub(crate) fn write_number_v1(value: f64, out: &mut Vec<u8>) {
    out.push(NUMBER);
    let bits = value.to_bits();
    let mut payload = if bits & (1 << 63) == 0 {
        bits | (1 << 63)
    } else {
        (!bits).wrapping_add(1)
    };
    out.push((payload >> 56) as u8);
    payload <<= 8;
    let mut pending: Option<u8> = None;
    while payload != 0 {
        if let Some(byte) = pending {
            out.push(byte);
        }
        pending = Some(((payload >> 56) as u8) | 0x01);
        payload <<= 7;
    }
    out.push(pending.unwrap_or(0) & 0xFE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use PartitionKeyValue as V;

    fn def(kind: &str, version: u8, paths: usize) -> PartitionKeyDefinition {
        let paths: Vec<String> = (0..paths).map(|i| format!("/p{i}")).collect();
        PartitionKeyDefinition::from_json(
            &json!({"paths": paths, "kind": kind, "version": version}),
        )
        .expect("definition")
    }

    fn s(v: &str) -> V {
        V::String(v.into())
    }

    /// Vectors published with the official SDKs (their partition key hashing
    /// conformance data), so routing agrees with every client.
    #[test]
    fn v2_matches_sdk_vectors() {
        let d = def("Hash", 2, 1);
        let cases = [
            (s(""), "32E9366E637A71B4E710384B2F4970A0"),
            (s("partitionKey"), "013AEFCF77FA271571CF665A58C933F1"),
            (V::Null, "378867E4430E67857ACE5C908374FE16"),
            (V::Undefined, "11622DAA78F835834610ABE56EFF5CB5"),
            (V::Bool(true), "0E711127C5B5A8E4726AC6DD306A3E59"),
            (V::Bool(false), "2FE1BE91E90A3439635E0E9E37361EF2"),
            (V::Number(-128.0), "01DAEDABF913540367FE219B2AD06148"),
            (V::Number(127.0), "0C507ACAC853ECA7977BF4CEFB562A25"),
            (V::Number(5e-324), "0E6CBA63A280927DE485DEF865800139"),
            (s(&"a".repeat(100)), "0DBD7D229437BB665DE6417747994D57"),
            (s(&"a".repeat(101)), "08042541D30C8BF90D7092B1519AE0BC"),
            (
                s("caf\u{e9} \u{6771}\u{4eac} \u{1f680}"),
                "389ED563F219577470F42691A5234A68",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                effective_partition_key(&d, std::slice::from_ref(&value)).to_hex(),
                expected,
                "{value:?}"
            );
        }
    }

    #[test]
    fn v1_matches_sdk_vectors() {
        let d = def("Hash", 1, 1);
        let cases = [
            (s(""), "05C1CF33970FF80800"),
            (
                s("partitionKey"),
                "05C1E1B3D9CD2608716273756A756A706F4C667A00",
            ),
            (V::Null, "05C1ED45D7475601"),
            (V::Undefined, "05C1D529E345DC00"),
            (V::Bool(true), "05C1D7C5A903D803"),
            (V::Number(-128.0), "05C1D73349F54C053FA0"),
            (V::Number(127.0), "05C1DD539DDFCC05C05FE0"),
            (V::Number(2147483647.0), "05C1E1F503DFB205C1DFFFFFFFFC"),
            (
                V::Number(1.7976931348623157e308),
                "05C1CBE367C53005FFEFFFFFFFFFFFFFFE",
            ),
            (
                s("quote\"backslash\\slash/newline\n"),
                "05C1E739E3AD88087276707566236362646C746D6274695D746D627469306F66786D6A6F660B00",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                effective_partition_key(&d, std::slice::from_ref(&value)).to_hex(),
                expected,
                "{value:?}"
            );
        }
        let long = effective_partition_key(&d, &[s(&"a".repeat(1024))]).to_hex();
        assert_eq!(
            long,
            effective_partition_key(&d, &[s(&"a".repeat(100))]).to_hex()
        );
    }

    #[test]
    fn multi_hash_concatenates_component_hashes() {
        let d = def("MultiHash", 2, 3);
        assert_eq!(
            effective_partition_key(&d, &[s("partitionKey"), V::Null, V::Bool(false)]).to_hex(),
            "013AEFCF77FA271571CF665A58C933F1378867E4430E67857ACE5C908374FE162FE1BE91E90A3439635E0E9E37361EF2"
        );
        assert_eq!(
            effective_partition_key(&d, &[s("partitionKey")]).to_hex(),
            "013AEFCF77FA271571CF665A58C933F1"
        );
    }
}
