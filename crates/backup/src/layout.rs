//! Object names in a backup location. Names carry what listing needs (writer
//! epoch, commit sequence numbers, times) and sort in that order, so
//! planning a restore or applying retention needs only a listing.
//!
//! ```text
//! lease/<epoch>.lease                     who took the writer lease, once per epoch
//! lease/<epoch>.heartbeat                 that writer's latest renewal
//! snapshots/<epoch>-<seq>-<taken>.manifest  a consistent snapshot: its chunks
//! chunks/<sha256>                         snapshot data, shared between snapshots
//! segments/<epoch>-<first>-<last>-<last time>.segment  commits first..=last
//! ```

pub const LEASES: &str = "lease/";
pub const SNAPSHOTS: &str = "snapshots/";
pub const CHUNKS: &str = "chunks/";
pub const SEGMENTS: &str = "segments/";

pub fn lease(epoch: u64) -> String {
    format!("{LEASES}{epoch:010}.lease")
}

pub fn heartbeat(epoch: u64) -> String {
    format!("{LEASES}{epoch:010}.heartbeat")
}

/// The epoch a lease object's name carries.
pub fn lease_epoch(name: &str) -> Option<u64> {
    name.strip_prefix(LEASES)?
        .strip_suffix(".lease")?
        .parse()
        .ok()
}

pub fn chunk(hash: &str) -> String {
    format!("{CHUNKS}{hash}")
}

pub fn chunk_hash(name: &str) -> Option<&str> {
    name.strip_prefix(CHUNKS)
}

/// A snapshot as its manifest's name describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotName {
    pub epoch: u64,
    /// The last commit the snapshot contains.
    pub seq: u64,
    /// When it was taken (ms since the Unix epoch): the state it holds is the
    /// state at that moment.
    pub taken_ms: u64,
}

impl SnapshotName {
    pub fn name(&self) -> String {
        format!(
            "{SNAPSHOTS}{:010}-{:020}-{:015}.manifest",
            self.epoch, self.seq, self.taken_ms
        )
    }

    pub fn parse(name: &str) -> Option<Self> {
        let [epoch, seq, taken_ms] =
            numbers(name.strip_prefix(SNAPSHOTS)?.strip_suffix(".manifest")?)?;
        Some(Self {
            epoch,
            seq,
            taken_ms,
        })
    }
}

/// A log segment as its name describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentName {
    pub epoch: u64,
    pub first: u64,
    pub last: u64,
    /// Commit time of its last commit.
    pub last_ms: u64,
}

impl SegmentName {
    pub fn name(&self) -> String {
        format!(
            "{SEGMENTS}{:010}-{:020}-{:020}-{:015}.segment",
            self.epoch, self.first, self.last, self.last_ms
        )
    }

    pub fn parse(name: &str) -> Option<Self> {
        let [epoch, first, last, last_ms] =
            numbers(name.strip_prefix(SEGMENTS)?.strip_suffix(".segment")?)?;
        Some(Self {
            epoch,
            first,
            last,
            last_ms,
        })
    }
}

fn numbers<const N: usize>(text: &str) -> Option<[u64; N]> {
    let parts: Vec<u64> = text
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_epoch_then_sequence() {
        let a = SnapshotName {
            epoch: 2,
            seq: 9,
            taken_ms: 1_700_000_000_000,
        };
        assert_eq!(SnapshotName::parse(&a.name()), Some(a));
        let s1 = SegmentName {
            epoch: 1,
            first: 5,
            last: 40,
            last_ms: 7,
        };
        let s2 = SegmentName {
            epoch: 1,
            first: 41,
            last: 41,
            last_ms: 8,
        };
        assert_eq!(SegmentName::parse(&s1.name()), Some(s1));
        assert!(s1.name() < s2.name());
        assert_eq!(lease_epoch(&lease(12)), Some(12));
        assert_eq!(lease_epoch(&heartbeat(12)), None);
        assert_eq!(SegmentName::parse("segments/x.segment"), None);
    }
}
