//! The workloads: what each simulated client does, over items of a given
//! size spread over 100 logical partitions.

/// Logical partitions the items are spread over.
pub const PARTITION_KEYS: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Point reads of preloaded items.
    Read,
    /// Creates of new items.
    Create,
    /// Upserts of preloaded items.
    Upsert,
    /// Replaces of preloaded items.
    Replace,
    /// An indexed equality query within one partition key.
    QuerySingle,
    /// An indexed equality query across the container.
    QueryCross,
    /// YCSB A: 50% reads, 50% updates.
    MixedA,
    /// YCSB B: 95% reads, 5% updates.
    MixedB,
    /// YCSB C: reads only (as `read`, for the set).
    MixedC,
}

impl Workload {
    pub const ALL: [Workload; 9] = [
        Workload::Read,
        Workload::Create,
        Workload::Upsert,
        Workload::Replace,
        Workload::QuerySingle,
        Workload::QueryCross,
        Workload::MixedA,
        Workload::MixedB,
        Workload::MixedC,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Read => "point read",
            Workload::Create => "create",
            Workload::Upsert => "upsert",
            Workload::Replace => "replace",
            Workload::QuerySingle => "query, one partition",
            Workload::QueryCross => "query, cross-partition",
            Workload::MixedA => "YCSB A (50/50)",
            Workload::MixedB => "YCSB B (95/5)",
            Workload::MixedC => "YCSB C (read only)",
        }
    }

    /// Percent of operations that write, for the mixed workloads.
    pub fn update_percent(self) -> u64 {
        match self {
            Workload::MixedA => 50,
            Workload::MixedB => 5,
            _ => 0,
        }
    }
}

/// An item to write, as the JSON text a request carries.
pub struct Item {
    pub id: String,
    pub pk: String,
    pub text: Vec<u8>,
}

/// What fills an item's `payload`: it decides how well stored items
/// compress, so a figure of bytes on disk names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Payload {
    /// One letter repeated: compresses to almost nothing.
    Repeated,
    /// Words of a 256-word vocabulary in random order, compressing about
    /// as prose does.
    Words,
    /// Random letters and digits: about 6 bits of entropy per byte, so no
    /// general-purpose compressor gains more than a quarter.
    Random,
}

/// Item `n`: its id, partition key, an indexed number, and padding to about
/// `size` bytes. The text is written directly, the same bytes serde_json
/// prints for the object: a load generator that built and printed a JSON
/// value per request spent a quarter of its CPU there, CPU the server
/// under test shares on one machine. The same arguments give the same text.
pub fn item(n: u64, size: usize, version: u64, payload: Payload) -> Item {
    let id = format!("i{n}");
    let pk = format!("p{}", n % PARTITION_KEYS);
    let head = format!(r#"{{"id":"{id}","pk":"{pk}","n":{n},"v":{version},"payload":""#);
    const TAIL: &str = r#""}"#;
    let padding = size.saturating_sub(head.len() + TAIL.len());
    let mut text = Vec::with_capacity(head.len() + padding + TAIL.len());
    text.extend_from_slice(head.as_bytes());
    let end = text.len() + padding;
    let mut rng = Rng::new(n ^ version.rotate_left(32));
    match payload {
        Payload::Repeated => text.resize(end, b'x'),
        Payload::Random => {
            const ALPHABET: &[u8] =
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            while text.len() < end {
                text.push(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]);
            }
        }
        Payload::Words => {
            while text.len() < end {
                let word = vocabulary_word(rng.below(256));
                let room = end - text.len();
                text.extend_from_slice(&word[..word.len().min(room)]);
                if text.len() < end {
                    text.push(b' ');
                }
            }
        }
    }
    text.extend_from_slice(TAIL.as_bytes());
    Item { id, pk, text }
}

/// Word `i` of the vocabulary: 2 to 9 lowercase letters, the same every run.
fn vocabulary_word(i: u64) -> Vec<u8> {
    let mut rng = Rng::new(0xC05E_0000 + i);
    let len = 2 + rng.below(8) as usize;
    (0..len).map(|_| b'a' + rng.below(26) as u8).collect()
}

/// A small, fast, seedable generator (xorshift64*), one per client.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn an_items_text_is_the_json_of_its_fields_padded_to_size() {
        let cases = [
            (7, 1024, 0, Payload::Repeated),
            (123_456, 10_240, 99, Payload::Words),
            (1, 10, 5, Payload::Random),
            (8, 1024, 3, Payload::Random),
        ];
        for (n, size, version, payload) in cases {
            let item = item(n, size, version, payload);
            assert_eq!(item.text.len(), size.max(item.text.len()));
            let parsed: Value = serde_json::from_slice(&item.text).expect("valid JSON");
            let padding = parsed["payload"].as_str().expect("a payload").to_string();
            let expected = json!({
                "id": format!("i{n}"),
                "pk": format!("p{}", n % PARTITION_KEYS),
                "n": n,
                "v": version,
                "payload": padding,
            });
            assert_eq!(item.text, serde_json::to_vec(&expected).expect("printed"));
            assert_eq!(
                (item.id.as_str(), item.pk.as_str()),
                (
                    parsed["id"].as_str().unwrap_or_default(),
                    parsed["pk"].as_str().unwrap_or_default()
                )
            );
            if !padding.is_empty() {
                assert_eq!(item.text.len(), size);
            }
        }
    }
}
