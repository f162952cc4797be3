//! Partitioning: partition key definitions and values, the effective partition
//! key (EPK) hash the SDKs compute on their side, and the physical ranges a
//! container's EPK space is cut into.

mod definition;
mod epk;
mod ranges;
mod value;

pub(crate) use definition::split_path;
pub use definition::{PartitionKeyDefinition, PartitionKeyKind};
pub use epk::{effective_partition_key, Epk};
pub use ranges::{range_boundaries, PartitionKeyRange};
pub use value::{parse_partition_key_header, PartitionKeyValue};
