//! The write-ahead log that makes a commit durable with one small sequential
//! write and one `fdatasync`.
//!
//! Committing straight to the B-tree made every commit rewrite, and fsync,
//! each leaf page it touched and the branches above them: about 55 KB of
//! disk writes for one 1 KB item with its index entries, which capped durable
//! creates at the disk's write bandwidth. With the log, a commit appends its
//! writes here and syncs them; the B-tree takes the same writes in memory and
//! is made durable only at checkpoints, where a page touched by many commits
//! is written once. After a crash, opening the store replays the log over
//! the last checkpoint.
//!
//! A record is `length (u32) | crc32 (u32) | writes`. Replay stops at the
//! first record that is short or fails its checksum: that is where a crash
//! cut the last append, which was never acknowledged. Replaying a record
//! the B-tree already holds is harmless, since a record only sets and
//! deletes keys: so the log is emptied after a checkpoint, not with it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use crate::backend::Write;
use crate::codec::{put_writes, Reader};
use crate::{Result, StorageError};

const HEADER: usize = 8;

pub(crate) struct Wal {
    file: File,
    path: PathBuf,
    /// Bytes of complete records; appends start here.
    len: u64,
    /// Reused between appends, so a busy log allocates no record buffers.
    buffer: Vec<u8>,
}

impl Wal {
    /// The log beside a data file: the file's name with `-wal` appended.
    pub(crate) fn path_for(data_file: &Path) -> PathBuf {
        let mut name = data_file.as_os_str().to_owned();
        name.push("-wal");
        PathBuf::from(name)
    }

    /// Opens (or creates) the log and reads the records it holds, in order.
    pub(crate) fn open(path: &Path) -> Result<(Self, Vec<Vec<Write>>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, len) = parse(&bytes);
        let mut wal = Self {
            file,
            path: path.to_path_buf(),
            len,
            buffer: Vec::new(),
        };
        if (len as usize) < bytes.len() {
            if damaged_in_the_middle(&bytes, len as usize) {
                return Err(StorageError::Corrupt {
                    path: path.display().to_string(),
                    reason: format!("a write-ahead log record at byte {len} fails its checksum"),
                });
            }
            tracing::warn!(
                log = %path.display(),
                kept = len,
                dropped = bytes.len() as u64 - len,
                "the write-ahead log ends in an incomplete record (an append cut short by a crash, never acknowledged); dropping it"
            );
            wal.truncate_to(len)?;
        }
        Ok((wal, records))
    }

    /// Appends one record and waits until it is on disk.
    pub(crate) fn append(&mut self, writes: &[Write]) -> Result<()> {
        self.buffer.clear();
        self.buffer.extend_from_slice(&[0; HEADER]);
        put_writes(&mut self.buffer, writes);
        let body_len = (self.buffer.len() - HEADER) as u32;
        let crc = crc32fast::hash(&self.buffer[HEADER..]);
        self.buffer[..4].copy_from_slice(&body_len.to_le_bytes());
        self.buffer[4..HEADER].copy_from_slice(&crc.to_le_bytes());
        let appended = self
            .file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.write_all(&self.buffer))
            .and_then(|_| self.file.sync_data());
        match appended {
            Ok(()) => {
                self.len += self.buffer.len() as u64;
                Ok(())
            }
            Err(err) => {
                // Whatever part reached the file must not be replayed later
                // as a write its caller was told had failed.
                let _ = self.truncate_to(self.len);
                Err(err.into())
            }
        }
    }

    /// Cuts the log back to `len` bytes: a torn tail, or the record of a
    /// commit that failed (`len` is the log's size before it).
    pub(crate) fn truncate_to(&mut self, len: u64) -> Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()?;
        self.len = len;
        Ok(())
    }

    /// Empties the log, once everything in it is durable in the B-tree.
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.truncate_to(0)
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The complete records at the start of `bytes`, and the bytes they take.
fn parse(bytes: &[u8]) -> (Vec<Vec<Write>>, u64) {
    let mut records = Vec::new();
    let mut at = 0usize;
    while let Some((writes, len)) = record_at(bytes, at) {
        records.push(writes);
        at += len;
    }
    (records, at as u64)
}

/// The record starting at `at`, if a whole one is there, and its length.
fn record_at(bytes: &[u8], at: usize) -> Option<(Vec<Write>, usize)> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    let body_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let body = bytes.get(at + HEADER..(at + HEADER).checked_add(body_len)?)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let mut reader = Reader::new(body);
    let writes = reader.writes().ok()?;
    reader.is_empty().then_some((writes, HEADER + body_len))
}

/// Whether a bad record at `at` is followed by a good one: then it is not a
/// crash's torn last append but damage in the middle of the log.
fn damaged_in_the_middle(bytes: &[u8], at: usize) -> bool {
    let Some(header) = bytes.get(at..at + HEADER) else {
        return false;
    };
    let body_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    at.checked_add(HEADER + body_len)
        .is_some_and(|next| next < bytes.len() && record_at(bytes, next).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> Vec<Write> {
        vec![(vec![1, n], Some(vec![n; 3])), (vec![2, n], None)]
    }

    #[test]
    fn records_come_back_in_order_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Wal::path_for(&dir.path().join("data.redb"));
        assert!(path.ends_with("data.redb-wal"));
        {
            let (mut wal, old) = Wal::open(&path).expect("open");
            assert!(old.is_empty());
            for n in 0..3 {
                wal.append(&record(n)).expect("append");
            }
        }
        let full = std::fs::read(&path).expect("read");
        // Every cut inside the last record keeps exactly the first two.
        let second_end = {
            let (_, len) = parse(&full);
            let (two, _) = parse(&full[..full.len() - 1]);
            assert_eq!(two.len(), 2);
            len
        };
        for cut in [full.len() - 1, full.len() - 5, full.len() - 20] {
            std::fs::write(&path, &full[..cut]).expect("cut");
            let (mut wal, records) = Wal::open(&path).expect("reopen");
            assert_eq!(records, vec![record(0), record(1)]);
            // The next append overwrites the torn bytes.
            wal.append(&record(9)).expect("append after a torn tail");
            drop(wal);
            let (_, records) = Wal::open(&path).expect("reopen again");
            assert_eq!(records, vec![record(0), record(1), record(9)]);
        }
        assert_eq!(second_end as usize, full.len());
        // A flipped bit in the last record is a torn append: it goes.
        let mut torn = full.clone();
        let last = torn.len() - 2;
        torn[last] ^= 0x40;
        std::fs::write(&path, &torn).expect("tear");
        let (_, records) = Wal::open(&path).expect("reopen torn");
        assert_eq!(records, vec![record(0), record(1)]);
        // One in an earlier record is damage: refused, not silently dropped.
        let mut damaged = full.clone();
        damaged[HEADER + 3] ^= 0x40;
        std::fs::write(&path, &damaged).expect("damage");
        let err = Wal::open(&path).err().expect("a damaged log must not open");
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
    }
}
