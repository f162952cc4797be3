//! Consistent snapshots, taken online and stored incrementally.
//!
//! A snapshot reads one storage snapshot (a read transaction: writers go on)
//! and cuts the key space into chunks at content-defined boundaries: a chunk
//! ends after a key whose hash has certain low bits, once it holds a minimum
//! size. A change to a few keys therefore changes only the chunks around
//! them, and since chunks are named by the SHA-256 of their content, the next
//! snapshot uploads only those; the rest are shared with earlier snapshots.

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
use crate::seal::{self, Kind};
use crate::target::Target;

/// A chunk is never cut below this size...
const MIN_CHUNK_BYTES: usize = 256 * 1024;
/// ...is cut at a key whose hash has these low bits clear...
const BOUNDARY_MASK: u64 = 0x1F;
/// ...and always at this size.
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
        let body = seal::unseal(Kind::Manifest, &bytes).map_err(corrupt)?;
        serde_json::from_slice(body).map_err(|e| corrupt(e.to_string()))
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
    let reader = tokio::task::spawn_blocking(move || read_snapshot(backend.as_ref(), &chunks_tx));

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
        .put(&name.name(), seal::seal(Kind::Manifest, &body))
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
    chunks: &mpsc::Sender<Cut>,
) -> Result<(CommitPosition, u64, u64)> {
    let snapshot = backend.snapshot()?;
    let position = CommitPosition::read(snapshot.as_ref())?;
    let mut chunk: Vec<KeyValue> = Vec::new();
    let mut chunk_bytes = 0usize;
    let (mut entries, mut bytes) = (0u64, 0u64);
    let mut start = DATA_START.to_vec();
    let send = |chunk: &mut Vec<KeyValue>| -> Result<()> {
        let body = codec::encode_chunk(chunk);
        let cut = Cut {
            hash: seal::sha256_hex(&body),
            entries: chunk.len() as u64,
            sealed: seal::seal(Kind::Chunk, &body),
        };
        chunk.clear();
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
            let size = key.len() + value.len();
            entries += 1;
            bytes += size as u64;
            chunk_bytes += size;
            let boundary = fnv1a(&key) & BOUNDARY_MASK == 0;
            chunk.push((key, value));
            if (chunk_bytes >= MIN_CHUNK_BYTES && boundary) || chunk_bytes >= MAX_CHUNK_BYTES {
                send(&mut chunk)?;
                chunk_bytes = 0;
            }
        }
        if last_page {
            break;
        }
    }
    if !chunk.is_empty() {
        send(&mut chunk)?;
    }
    Ok((position, entries, bytes))
}

/// FNV-1a: a fast, stable hash for chunk boundaries (not for integrity).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
