//! The workloads: what each simulated client does, over items of a given
//! size spread over 100 logical partitions.

use serde_json::{json, Value};

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

/// Item `n`: its id, partition key, an indexed number, and padding to about `size` bytes.
pub fn item(n: u64, size: usize, version: u64) -> Value {
    let mut item = json!({
        "id": format!("i{n}"),
        "pk": format!("p{}", n % PARTITION_KEYS),
        "n": n,
        "v": version,
        "payload": "",
    });
    let overhead = item.to_string().len();
    item["payload"] = Value::String("x".repeat(size.saturating_sub(overhead)));
    item
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
