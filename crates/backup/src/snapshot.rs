//! Consistent snapshots, taken online and stored incrementally.
//!
//! A snapshot reads one storage snapshot (a read transaction: writers go on)
//! and cuts the key space into chunks at content-defined boundaries (see
//! [`Chunker`]). A change to a few keys therefore changes only the chunks
//! around them, and since chunks are named by the SHA-256 of their content,
//! the next snapshot uploads only those; the rest are shared with earlier
//! snapshots.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use cosmonaut_storage::{Backend, CommitPosition, KeyValue, DATA_END, DATA_START};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::codec;
use crate::error::{BackupError, Result};
use crate::layout::{self, SnapshotName};
use crate::seal::{self, Kind, Sealer};
use crate::target::Target;

/// Chunks average about this size...
const TARGET_CHUNK_BYTES: u64 = 1024 * 1024;
/// ...are never cut below this one...
const MIN_CHUNK_BYTES: usize = 64 * 1024;
/// ...and always at this one.
const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// Entries read from storage per scan.
const SCAN_PAGE: usize = 4096;
/// Chunk uploads in flight at once.
const PARALLEL_UPLOADS: usize = 4;

/// What a snapshot holds: its position in the commit history and its chunks, in key order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub epoch: u64,
    pub seq: u64,
    pub commit_time_ms: u64,
    pub taken_ms: u64,
    pub entries: u64,
    pub bytes: u64,
    pub chunks: Vec<ChunkRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkRef {
    pub hash: String,
    pub entries: u64,
}

impl Manifest {
    pub fn position(&self) -> CommitPosition {
        CommitPosition {
            seq: self.seq,
            time_ms: self.commit_time_ms,
        }
    }

    pub async fn load(target: &Target, name: &SnapshotName) -> Result<Self> {
        let path = name.name();
        let bytes = target
            .get(&path)
            .await?
            .ok_or_else(|| BackupError::Restore(format!("snapshot {path} vanished")))?;
        let corrupt = |reason: String| BackupError::Corrupt {
            path: path.clone(),
            reason,
        };
        let body = target
            .sealer()
            .unseal(Kind::Manifest, &bytes)
            .map_err(corrupt)?;
        serde_json::from_slice(&body).map_err(|e| corrupt(e.to_string()))
    }
}

/// What taking one snapshot did.
#[derive(Debug, Clone)]
pub struct SnapshotReport {
    pub name: SnapshotName,
    pub manifest: Manifest,
    pub uploaded_chunks: usize,
    pub uploaded_bytes: u64,
    pub millis: u64,
}

/// One cut chunk, ready to upload.
struct Cut {
    hash: String,
    entries: u64,
    sealed: Vec<u8>,
}

/// Takes a snapshot of `backend` into `target`. `known` holds the chunks the
/// location already has; it gains the ones uploaded now.
pub async fn take(
    backend: Arc<dyn Backend>,
    target: &Target,
    epoch: u64,
    known: &mut HashSet<String>,
) -> Result<SnapshotReport> {
    let started = Instant::now();
    let taken_ms = crate::now_ms();
    let (chunks_tx, mut chunks_rx) = mpsc::channel::<Cut>(PARALLEL_UPLOADS * 2);
    let sealer = target.sealer().clone();
    let reader =
        tokio::task::spawn_blocking(move || read_snapshot(backend.as_ref(), &sealer, &chunks_tx));

    let mut refs = Vec::new();
    let mut uploads = FuturesUnordered::new();
    let mut uploaded_chunks = 0;
    let mut uploaded_bytes = 0u64;
    while let Some(cut) = chunks_rx.recv().await {
        refs.push(ChunkRef {
            hash: cut.hash.clone(),
            entries: cut.entries,
        });
        if !known.insert(cut.hash.clone()) {
            continue;
        }
        uploaded_chunks += 1;
        uploaded_bytes += cut.sealed.len() as u64;
        uploads.push(async move { target.put(&layout::chunk(&cut.hash), cut.sealed).await });
        while uploads.len() >= PARALLEL_UPLOADS {
            if let Some(result) = uploads.next().await {
                result?;
            }
        }
    }
    while let Some(result) = uploads.next().await {
        result?;
    }
    let (position, entries, bytes) = reader
        .await
        .map_err(|e| BackupError::Restore(format!("snapshot reader failed: {e}")))??;

    let name = SnapshotName {
        epoch,
        seq: position.seq,
        taken_ms,
    };
    let manifest = Manifest {
        epoch,
        seq: position.seq,
        commit_time_ms: position.time_ms,
        taken_ms,
        entries,
        bytes,
        chunks: refs,
    };
    let body = serde_json::to_vec(&manifest)
        .map_err(|e| BackupError::Restore(format!("cannot encode a manifest: {e}")))?;
    // The manifest goes last: a snapshot exists only once all its chunks do.
    target
        .put(&name.name(), target.sealer().seal(Kind::Manifest, &body)?)
        .await?;
    Ok(SnapshotReport {
        name,
        manifest,
        uploaded_chunks,
        uploaded_bytes,
        millis: started.elapsed().as_millis() as u64,
    })
}

/// Scans a storage snapshot in key order and sends it as chunks; returns the
/// snapshot's commit position, entry count and byte count.
fn read_snapshot(
    backend: &dyn Backend,
    sealer: &Sealer,
    chunks: &mpsc::Sender<Cut>,
) -> Result<(CommitPosition, u64, u64)> {
    let snapshot = backend.snapshot()?;
    let position = CommitPosition::read(snapshot.as_ref())?;
    let mut chunker = Chunker::default();
    let (mut entries, mut bytes) = (0u64, 0u64);
    let mut start = DATA_START.to_vec();
    let send = |chunk: Vec<KeyValue>| -> Result<()> {
        let body = codec::encode_chunk(&chunk);
        let cut = Cut {
            hash: seal::sha256_hex(&body),
            entries: chunk.len() as u64,
            sealed: sealer.seal(Kind::Chunk, &body)?,
        };
        chunks
            .blocking_send(cut)
            .map_err(|_| BackupError::Restore("snapshot upload stopped".into()))
    };
    loop {
        let page = snapshot.scan(&start, DATA_END, SCAN_PAGE)?;
        let Some((last, _)) = page.last() else { break };
        start = last.clone();
        start.push(0);
        let last_page = page.len() < SCAN_PAGE;
        for (key, value) in page {
            entries += 1;
            bytes += (key.len() + value.len()) as u64;
            if let Some(chunk) = chunker.push(key, value) {
                send(chunk)?;
            }
        }
        if last_page {
            break;
        }
    }
    if let Some(chunk) = chunker.finish() {
        send(chunk)?;
    }
    Ok((position, entries, bytes))
}

/// Cuts a key-ordered stream of entries into chunks at content-defined
/// boundaries. An entry ends a chunk with a probability proportional to its
/// size, decided by a hash of its key and its size, so chunks average
/// [`TARGET_CHUNK_BYTES`] whatever the mix of small index entries and large
/// items, and where the cuts fall depends on the entries around them, not on
/// where the previous chunk began. (Cutting at the first boundary key after a
/// fixed minimum, with boundaries every few dozen keys, made a one-entry
/// change move every later cut: half the store was uploaded again.) The
/// minimum only keeps chunks from being tiny; a cut it suppresses shifts the
/// next one only if another boundary falls within the minimum of it.
#[derive(Default)]
pub(crate) struct Chunker {
    chunk: Vec<KeyValue>,
    bytes: usize,
}

impl Chunker {
    /// Adds an entry; returns a chunk if the entry ended one.
    pub(crate) fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> Option<Vec<KeyValue>> {
        let size = key.len() + value.len();
        let boundary = is_boundary(&key, size);
        self.bytes += size;
        self.chunk.push((key, value));
        let cut = (self.bytes >= MIN_CHUNK_BYTES && boundary) || self.bytes >= MAX_CHUNK_BYTES;
        cut.then(|| {
            self.bytes = 0;
            std::mem::take(&mut self.chunk)
        })
    }

    /// The last chunk, if anything is left.
    pub(crate) fn finish(self) -> Option<Vec<KeyValue>> {
        (!self.chunk.is_empty()).then_some(self.chunk)
    }
}

/// Whether an entry of `size` bytes under `key` ends a chunk: with
/// probability `size / TARGET_CHUNK_BYTES`, decided by the key's hash.
fn is_boundary(key: &[u8], size: usize) -> bool {
    let threshold = (u64::MAX / TARGET_CHUNK_BYTES).saturating_mul(size as u64);
    mix(fnv1a(key)) < threshold
}

/// A 64-bit finalizer (SplitMix64's), so the whole hash is uniform, not
/// only its low bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a: a fast, stable hash for chunk boundaries (not for integrity).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items of 400 bytes, each followed by three small index-like entries.
    fn entries(changed: Option<u32>) -> Vec<KeyValue> {
        let mut out = Vec::new();
        for i in 0..20_000u32 {
            let value = if changed == Some(i) {
                b"changed".to_vec()
            } else {
                vec![(i % 251) as u8; 400]
            };
            out.push(([&[1u8][..], &i.to_be_bytes()].concat(), value));
        }
        for i in 0..60_000u32 {
            out.push(([&[2u8][..], &i.to_be_bytes()].concat(), vec![0; 8]));
        }
        out
    }

    fn chunks(entries: Vec<KeyValue>) -> Vec<Vec<KeyValue>> {
        let mut chunker = Chunker::default();
        let mut out: Vec<_> = entries
            .into_iter()
            .filter_map(|(k, v)| chunker.push(k, v))
            .collect();
        out.extend(chunker.finish());
        out
    }

    #[test]
    fn one_changed_entry_changes_only_the_chunks_around_it() {
        let before = chunks(entries(None));
        let total: usize = before
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        assert!(
            before.len() >= 5,
            "{} chunks for {total} bytes",
            before.len()
        );
        for changed in [0, 2_001, 7_777, 10_500, 15_003, 19_999] {
            let after = chunks(entries(Some(changed)));
            let new = after.iter().filter(|c| !before.contains(c)).count();
            assert!(
                new <= 2,
                "changing entry {changed} made {new} of {} chunks new",
                after.len()
            );
        }
    }

    #[test]
    fn chunks_stay_within_their_bounds() {
        let all = chunks(entries(None));
        let sizes: Vec<usize> = all
            .iter()
            .map(|c| c.iter().map(|(k, v)| k.len() + v.len()).sum())
            .collect();
        let (last, rest) = sizes.split_last().expect("chunks");
        assert!(
            rest.iter()
                .all(|&s| (MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES + 1024).contains(&s)),
            "{sizes:?}"
        );
        assert!(*last <= MAX_CHUNK_BYTES);
    }
}
