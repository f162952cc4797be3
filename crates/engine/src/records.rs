//! What the engine stores for each resource besides items.

use std::sync::OnceLock;

use cosmonaut_storage::KvRead;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::index::IndexPolicy;
use crate::offers::Throughput;
use crate::partition::{PartitionKeyDefinition, PartitionKeyRange};

/// Account-wide sequence numbers for new resource ids.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Meta {
    pub next_database: u32,
    pub next_container: u32,
    #[serde(default)]
    pub next_user: u32,
    #[serde(default)]
    pub next_permission: u64,
    /// The index entry format the stored indexes are in (see
    /// [`crate::Engine::upgrade_stored_data`]).
    #[serde(default)]
    pub index_format: u32,
}

impl Meta {
    /// The account's sequences as stored (all zero before the first resource).
    pub fn read(reader: &dyn KvRead) -> Result<Self> {
        reader
            .get(&crate::keys::meta())?
            .map(|bytes| decode(&bytes))
            .transpose()
            .map(Option::unwrap_or_default)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseRecord {
    pub rid: [u8; 4],
    /// The resource as the service returns it, system properties included.
    pub body: Value,
    /// Shared RU/s, if the database was created with throughput.
    #[serde(default)]
    pub throughput: Option<u64>,
    /// Whether `throughput` is an autoscale maximum.
    #[serde(default)]
    pub autoscale: bool,
    /// The autoscale auto-upgrade increment, as set.
    #[serde(default)]
    pub autoscale_increment_percent: u64,
}

impl DatabaseRecord {
    pub(crate) fn provisioned(&self) -> Option<Throughput> {
        Throughput::from_stored(
            self.throughput,
            self.autoscale,
            self.autoscale_increment_percent,
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub database: String,
    pub database_rid: [u8; 4],
    pub rid: [u8; 8],
    /// Number of physical partitions the EPK space is cut into.
    pub partition_count: u32,
    /// Provisioned RU/s, if any was given at creation.
    pub throughput: Option<u64>,
    /// Whether `throughput` is an autoscale maximum.
    #[serde(default)]
    pub autoscale: bool,
    /// The autoscale auto-upgrade increment, as set.
    #[serde(default)]
    pub autoscale_increment_percent: u64,
    /// Whoever replaces `body` must reset `derived` (see [`ContainerRecord::set_body`]).
    pub body: Value,
    #[serde(skip)]
    pub(crate) derived: Derived,
}

impl ContainerRecord {
    /// The container's own throughput, if it has one.
    pub(crate) fn provisioned(&self) -> Option<Throughput> {
        Throughput::from_stored(
            self.throughput,
            self.autoscale,
            self.autoscale_increment_percent,
        )
    }
}

/// What every request on a container would otherwise work out again from
/// its body: parsed once per decoded record, on first use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Derived {
    pub partition_key: OnceLock<PartitionKeyDefinition>,
    pub ranges: OnceLock<Vec<PartitionKeyRange>>,
    pub index_policy: OnceLock<IndexPolicy>,
}

/// Per-container counters, updated with every item write.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Log sequence number of the container's latest write; session tokens carry it.
    pub lsn: u64,
    pub next_document: u64,
    pub document_count: u64,
    pub document_bytes: u64,
}

/// The first byte of counters in their binary form. JSON, the form data
/// written before it still holds, always starts with `{`.
const COUNTERS_BINARY: u8 = 1;

impl Counters {
    /// Every write stores the counters and every point read looks up the
    /// LSN in them: as JSON, encoding and decoding them cost about 5% of a
    /// point read. The binary form is a tag byte and four big-endian u64s.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(33);
        out.push(COUNTERS_BINARY);
        for field in [
            self.lsn,
            self.next_document,
            self.document_count,
            self.document_bytes,
        ] {
            out.extend_from_slice(&field.to_be_bytes());
        }
        out
    }

    /// Reads either form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes.split_first() {
            Some((&COUNTERS_BINARY, rest)) if rest.len() == 32 => {
                let field = |i: usize| {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(&rest[i * 8..i * 8 + 8]);
                    u64::from_be_bytes(word)
                };
                Ok(Self {
                    lsn: field(0),
                    next_document: field(1),
                    document_count: field(2),
                    document_bytes: field(3),
                })
            }
            _ => decode(bytes),
        }
    }
}

pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|e| EngineError::internal(format!("encoding a record: {e}")))
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        EngineError::internal(format!(
            "a stored record is unreadable ({e}); the data may be damaged"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip_in_binary_and_still_read_as_json() {
        let counters = Counters {
            lsn: 7,
            next_document: u64::MAX,
            document_count: 3,
            document_bytes: 4096,
        };
        let bytes = counters.to_bytes();
        assert_eq!(bytes.len(), 33);
        assert_eq!(Counters::from_bytes(&bytes).expect("binary"), counters);
        // Data written before the binary form.
        let json = encode(&counters).expect("json");
        assert_eq!(Counters::from_bytes(&json).expect("json"), counters);
    }

    #[test]
    fn damaged_counters_are_an_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[COUNTERS_BINARY][..],
            &[COUNTERS_BINARY; 20][..],
            b"{\"lsn\":",
        ] {
            assert!(Counters::from_bytes(bytes).is_err(), "{bytes:?}");
        }
    }
}
