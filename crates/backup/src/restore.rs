//! Rebuilding a data dir from a backup location: the newest snapshot taken
//! at or before the chosen time, then its writer's log segments in order, up
//! to that time. Every object is verified before anything of it is written,
//! and the store is built under a temporary name and renamed into place only
//! when complete, so an interrupted restore never looks like a data dir.

use std::path::Path;

use cosmonaut_storage::{Backend, CommitPosition, RedbBackend, Write};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::catalog::Catalog;
use crate::codec;
use crate::error::{BackupError, Result};
use crate::layout::{self, SegmentName, SnapshotName};
use crate::seal::{self, Kind};
use crate::snapshot::Manifest;
use crate::target::Target;

/// Chunk and segment downloads in flight at once.
const PARALLEL_DOWNLOADS: usize = 8;
/// Segment writes gathered into one storage commit.
const WRITES_PER_COMMIT: usize = 20_000;

/// Which state to restore.
#[derive(Debug, Clone, Copy)]
pub enum RestorePoint {
    /// Everything the location holds.
    Latest,
    /// The state as of this time (ms since the Unix epoch).
    At(u64),
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub snapshot: SnapshotName,
    pub snapshot_entries: u64,
    pub segments: usize,
    pub commits: u64,
    /// The commit the restored store ends at.
    pub position: CommitPosition,
    /// Set when the log stops early because a segment is missing.
    pub gap_after: Option<u64>,
}

/// Restores into the store file `file`, which must not exist yet.
pub async fn restore(target: &Target, file: &Path, point: RestorePoint) -> Result<RestoreReport> {
    if file.exists() {
        return Err(BackupError::Restore(format!(
            "{} already exists; restore only into an empty data dir",
            file.display()
        )));
    }
    let catalog = Catalog::read(target).await?;
    let until = match point {
        RestorePoint::Latest => u64::MAX,
        RestorePoint::At(ms) => ms,
    };
    let snapshot = catalog
        .snapshots
        .iter()
        .filter(|s| s.name.taken_ms <= until)
        .max_by_key(|s| (s.name.taken_ms, s.name.epoch, s.name.seq))
        .map(|s| s.name)
        .ok_or_else(|| match point {
            RestorePoint::Latest => BackupError::NoBackup(target.url().to_string()),
            RestorePoint::At(ms) => BackupError::NothingBefore {
                url: target.url().to_string(),
                time: format!("{ms} ms after the Unix epoch"),
            },
        })?;
    let manifest = Manifest::load(target, &snapshot).await?;

    let partial = file.with_extension("restoring");
    let _ = std::fs::remove_file(&partial);
    // So is what an interrupted restore may have left of its logs.
    RedbBackend::discard_log(&partial)?;
    let backend = RedbBackend::open(&partial)?;
    let outcome = async {
        load_chunks(target, &backend, &manifest).await?;
        let segments: Vec<SegmentName> = catalog
            .segments
            .iter()
            .map(|s| s.name)
            .filter(|s| s.epoch == snapshot.epoch && s.last > snapshot.seq)
            .collect();
        replay(target, &backend, manifest.position(), &segments, until).await
    }
    .await;
    let (position, segments_used, commits, gap_after) = match outcome {
        Ok(done) => done,
        Err(err) => {
            drop(backend);
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    backend.commit(&[position.to_write()])?;
    drop(backend);
    // A log left by the file being replaced belongs to it, not to this one.
    RedbBackend::discard_log(file)?;
    std::fs::rename(&partial, file)?;
    Ok(RestoreReport {
        snapshot,
        snapshot_entries: manifest.entries,
        segments: segments_used,
        commits,
        position,
        gap_after,
    })
}

async fn load_chunks(target: &Target, backend: &RedbBackend, manifest: &Manifest) -> Result<()> {
    let mut downloads = stream::iter(manifest.chunks.iter().map(|chunk| async move {
        let path = layout::chunk(&chunk.hash);
        let bytes = target
            .get(&path)
            .await?
            .ok_or_else(|| BackupError::Corrupt {
                path: path.clone(),
                reason: "the snapshot names this chunk but it is missing".into(),
            })?;
        let corrupt = |reason: String| BackupError::Corrupt {
            path: path.clone(),
            reason,
        };
        let body = target
            .sealer()
            .unseal(Kind::Chunk, &bytes)
            .map_err(corrupt)?;
        if seal::sha256_hex(&body) != chunk.hash {
            return Err(corrupt("content does not match its name".into()));
        }
        codec::decode_chunk(&body).map_err(corrupt)
    }))
    .buffered(PARALLEL_DOWNLOADS);
    while let Some(entries) = downloads.try_next().await? {
        let writes: Vec<Write> = entries.into_iter().map(|(k, v)| (k, Some(v))).collect();
        backend.commit(&writes)?;
    }
    Ok(())
}

/// Applies the segments' commits after `from`, in order, up to `until`.
async fn replay(
    target: &Target,
    backend: &RedbBackend,
    from: CommitPosition,
    segments: &[SegmentName],
    until: u64,
) -> Result<(CommitPosition, usize, u64, Option<u64>)> {
    let mut position = from;
    let mut used = 0;
    let mut commits = 0u64;
    let mut pending: Vec<Write> = Vec::new();
    let mut downloads = stream::iter(segments.iter().map(|name| async move {
        let path = name.name();
        let bytes = target.get(&path).await?;
        Ok::<_, BackupError>((*name, path, bytes))
    }))
    .buffered(PARALLEL_DOWNLOADS);
    let mut gap_after = None;
    'segments: while let Some((name, path, bytes)) = downloads.try_next().await? {
        if name.first > position.seq + 1 {
            gap_after = Some(position.seq);
            tracing::warn!(
                after = position.seq,
                next = name.first,
                "the log has a gap; restoring up to it"
            );
            break;
        }
        let bytes = bytes.ok_or_else(|| BackupError::Corrupt {
            path: path.clone(),
            reason: "listed but missing".into(),
        })?;
        let corrupt = |reason: String| BackupError::Corrupt {
            path: path.clone(),
            reason,
        };
        let body = target
            .sealer()
            .unseal(Kind::Segment, &bytes)
            .map_err(corrupt)?;
        let (_, segment_commits) = codec::decode_segment(&body).map_err(corrupt)?;
        used += 1;
        for commit in segment_commits {
            if commit.position.seq <= position.seq {
                continue;
            }
            if commit.position.seq != position.seq + 1 {
                return Err(corrupt(format!(
                    "commit {} follows commit {}",
                    commit.position.seq, position.seq
                )));
            }
            if commit.position.time_ms > until {
                break 'segments;
            }
            pending.extend(commit.writes);
            position = commit.position;
            commits += 1;
            if pending.len() >= WRITES_PER_COMMIT {
                backend.commit(&std::mem::take(&mut pending))?;
            }
        }
    }
    backend.commit(&pending)?;
    Ok((position, used, commits, gap_after))
}
