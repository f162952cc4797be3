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
}

impl DatabaseRecord {
    pub(crate) fn provisioned(&self) -> Option<Throughput> {
        Throughput::from_stored(self.throughput, self.autoscale)
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
    /// Whoever replaces `body` must reset `derived` (see [`ContainerRecord::set_body`]).
    pub body: Value,
    #[serde(skip)]
    pub(crate) derived: Derived,
}

impl ContainerRecord {
    /// The container's own throughput, if it has one.
    pub(crate) fn provisioned(&self) -> Option<Throughput> {
        Throughput::from_stored(self.throughput, self.autoscale)
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
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
pub struct Counters {
    /// Log sequence number of the container's latest write; session tokens carry it.
    pub lsn: u64,
    pub next_document: u64,
    pub document_count: u64,
    pub document_bytes: u64,
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
