//! What a backup location holds, from one listing of it.

use crate::error::Result;
use crate::layout::{self, SegmentName, SnapshotName};
use crate::target::Target;

#[derive(Debug, Clone)]
pub struct SnapshotEntry {
    pub name: SnapshotName,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct SegmentEntry {
    pub name: SegmentName,
    pub size: u64,
}

/// Snapshots and segments, each sorted by epoch and sequence number.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub snapshots: Vec<SnapshotEntry>,
    pub segments: Vec<SegmentEntry>,
    pub chunks: Vec<(String, u64)>,
}

/// One writer epoch's part of the location, for `cosmonaut backup list`.
#[derive(Debug, Clone)]
pub struct Generation {
    pub epoch: u64,
    pub snapshots: Vec<SnapshotEntry>,
    pub segments: usize,
    pub segment_bytes: u64,
    /// First and last commit the segments carry, and the last one's time.
    pub log: Option<(u64, u64, u64)>,
    /// Commits between the first and the last that no segment carries
    /// (first and last of each run): a restore stops before them.
    pub gaps: Vec<(u64, u64)>,
}

impl Catalog {
    pub async fn read(target: &Target) -> Result<Self> {
        let mut snapshots: Vec<SnapshotEntry> = target
            .list(layout::SNAPSHOTS)
            .await?
            .into_iter()
            .filter_map(|l| {
                SnapshotName::parse(&l.name).map(|name| SnapshotEntry { name, size: l.size })
            })
            .collect();
        snapshots.sort_by_key(|s| s.name);
        let mut segments: Vec<SegmentEntry> = target
            .list(layout::SEGMENTS)
            .await?
            .into_iter()
            .filter_map(|l| {
                SegmentName::parse(&l.name).map(|name| SegmentEntry { name, size: l.size })
            })
            .collect();
        segments.sort_by_key(|s| s.name);
        let chunks = target
            .list(layout::CHUNKS)
            .await?
            .into_iter()
            .filter_map(|l| layout::chunk_hash(&l.name).map(|h| (h.to_string(), l.size)))
            .collect();
        Ok(Self {
            snapshots,
            segments,
            chunks,
        })
    }

    /// The location grouped by writer epoch, oldest first.
    pub fn generations(&self) -> Vec<Generation> {
        let mut epochs: Vec<u64> = self
            .snapshots
            .iter()
            .map(|s| s.name.epoch)
            .chain(self.segments.iter().map(|s| s.name.epoch))
            .collect();
        epochs.sort_unstable();
        epochs.dedup();
        epochs
            .into_iter()
            .map(|epoch| {
                let segments: Vec<&SegmentEntry> = self
                    .segments
                    .iter()
                    .filter(|s| s.name.epoch == epoch)
                    .collect();
                let log = match (segments.first(), segments.last()) {
                    (Some(first), Some(last)) => {
                        Some((first.name.first, last.name.last, last.name.last_ms))
                    }
                    _ => None,
                };
                let gaps = segments
                    .windows(2)
                    .filter(|pair| pair[1].name.first > pair[0].name.last + 1)
                    .map(|pair| (pair[0].name.last + 1, pair[1].name.first - 1))
                    .collect();
                Generation {
                    epoch,
                    gaps,
                    snapshots: self
                        .snapshots
                        .iter()
                        .filter(|s| s.name.epoch == epoch)
                        .cloned()
                        .collect(),
                    segments: segments.len(),
                    segment_bytes: segments.iter().map(|s| s.size).sum(),
                    log,
                }
            })
            .collect()
    }
}
