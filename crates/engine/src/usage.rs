//! What each container holds, for `/metrics`: read from the counters every
//! write keeps, so a scrape costs one read per container, not a scan.

use serde_json::Value;

use crate::containers::read_counters;
use crate::engine::Engine;
use crate::error::Result;
use crate::feed::scan_each;
use crate::keys;
use crate::records::{decode, ContainerRecord};

/// One container's size.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUsage {
    pub database: String,
    pub container: String,
    pub documents: u64,
    /// Bytes of the stored documents (JSON as written, before indexes).
    pub document_bytes: u64,
}

impl Engine {
    /// Every container's document count and size.
    pub fn container_usage(&self) -> Result<Vec<ContainerUsage>> {
        let snapshot = self.snapshot()?;
        let (start, end) = keys::all_containers();
        let mut usage = Vec::new();
        scan_each(snapshot.as_ref(), &start, &end, false, |_, bytes| {
            let container: ContainerRecord = decode(&bytes)?;
            let counters = read_counters(snapshot.as_ref(), &container.rid)?;
            usage.push(ContainerUsage {
                container: container
                    .body
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                database: container.database,
                documents: counters.document_count,
                document_bytes: counters.document_bytes,
            });
            Ok(true)
        })?;
        Ok(usage)
    }
}
