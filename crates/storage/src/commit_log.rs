//! The store's history as a numbered sequence of commits.
//!
//! Every group commit gets the next sequence number and a wall-clock time,
//! written atomically with the commit under a key of storage's own. A
//! snapshot therefore names exactly which commits it contains, and a
//! [`CommitObserver`] sees every later commit in order: together they are
//! what continuous backup and point-in-time restore are built from.

use crate::backend::{KvRead, Write};
use crate::{Result, StorageError};

/// Keys starting with this byte belong to storage itself; callers' keys
/// start at [`DATA_START`].
pub const RESERVED_PREFIX: u8 = 0x00;
/// The smallest key a caller may write.
pub const DATA_START: &[u8] = &[0x01];
/// Every caller key sorts below this bound (callers never start a key with 0xFF).
pub const DATA_END: &[u8] = &[0xFF];

const POSITION_KEY: &[u8] = b"\x00commit";

/// Which commit the store (or a snapshot of it) has reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CommitPosition {
    /// Sequence number of the last commit; 0 before the first.
    pub seq: u64,
    /// When that commit happened, in milliseconds since the Unix epoch.
    pub time_ms: u64,
}

impl CommitPosition {
    /// The position a snapshot (or write transaction) has reached.
    pub fn read(kv: &dyn KvRead) -> Result<Self> {
        match kv.get(POSITION_KEY)? {
            None => Ok(Self::default()),
            Some(bytes) => Self::decode(&bytes),
        }
    }

    /// The write that records this position, committed with the data it ends.
    pub fn to_write(self) -> Write {
        let mut value = Vec::with_capacity(16);
        value.extend_from_slice(&self.seq.to_be_bytes());
        value.extend_from_slice(&self.time_ms.to_be_bytes());
        (POSITION_KEY.to_vec(), Some(value))
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let field = |range: std::ops::Range<usize>| {
            bytes
                .get(range)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StorageError::Backend("corrupt commit position".into()))
        };
        Ok(Self {
            seq: field(0..8)?,
            time_ms: field(8..16)?,
        })
    }

    /// The position after this one, at `now_ms` (never earlier than this one,
    /// so commit times only move forward even if the clock steps back).
    pub(crate) fn next(self, now_ms: u64) -> Self {
        Self {
            seq: self.seq + 1,
            time_ms: now_ms.max(self.time_ms),
        }
    }
}

/// One durable commit: its position and the caller writes it applied.
#[derive(Debug, Clone)]
pub struct Commit {
    pub position: CommitPosition,
    pub writes: Vec<Write>,
}

/// Told of every commit once it is durable, in commit order, on the writer
/// thread: implementations must only hand the commit off, never block.
pub trait CommitObserver: Send + Sync {
    fn committed(&self, commit: Commit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_never_go_back_in_time() {
        let p = CommitPosition {
            seq: 7,
            time_ms: 1_000,
        };
        let (_, value) = p.to_write();
        let value = value.unwrap_or_default();
        assert_eq!(CommitPosition::decode(&value).ok(), Some(p));
        assert!(CommitPosition::decode(&value[..9]).is_err());
        let next = p.next(500);
        assert_eq!((next.seq, next.time_ms), (8, 1_000));
    }
}
