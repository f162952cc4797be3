//! The binary bodies of chunks and segments: length-prefixed byte strings
//! and little-endian integers, read back with bounds checks (a restore reads
//! data it did not write in this process).

use cosmonaut_storage::{Commit, CommitPosition, KeyValue, Write};

pub fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reads what the `put_*` functions wrote.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err("truncated body".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// A chunk: consecutive key-value pairs of a snapshot.
pub fn encode_chunk(entries: &[KeyValue]) -> Vec<u8> {
    let size: usize = entries.iter().map(|(k, v)| k.len() + v.len() + 8).sum();
    let mut out = Vec::with_capacity(size);
    for (k, v) in entries {
        put_bytes(&mut out, k);
        put_bytes(&mut out, v);
    }
    out
}

pub fn decode_chunk(body: &[u8]) -> Result<Vec<KeyValue>, String> {
    let mut reader = Reader::new(body);
    let mut entries = Vec::new();
    while !reader.is_empty() {
        let key = reader.bytes()?.to_vec();
        let value = reader.bytes()?.to_vec();
        entries.push((key, value));
    }
    Ok(entries)
}

const PUT: u8 = 1;
const DELETE: u8 = 0;

/// A segment: consecutive commits of one writer epoch.
pub fn encode_segment(epoch: u64, commits: &[Commit]) -> Vec<u8> {
    let mut out = Vec::new();
    put_u64(&mut out, epoch);
    for commit in commits {
        put_u64(&mut out, commit.position.seq);
        put_u64(&mut out, commit.position.time_ms);
        out.extend_from_slice(&(commit.writes.len() as u32).to_le_bytes());
        for (key, value) in &commit.writes {
            match value {
                Some(v) => {
                    out.push(PUT);
                    put_bytes(&mut out, key);
                    put_bytes(&mut out, v);
                }
                None => {
                    out.push(DELETE);
                    put_bytes(&mut out, key);
                }
            }
        }
    }
    out
}

pub fn decode_segment(body: &[u8]) -> Result<(u64, Vec<Commit>), String> {
    let mut reader = Reader::new(body);
    let epoch = reader.u64()?;
    let mut commits = Vec::new();
    while !reader.is_empty() {
        let position = CommitPosition {
            seq: reader.u64()?,
            time_ms: reader.u64()?,
        };
        let count = reader.u32()?;
        let mut writes: Vec<Write> = Vec::new();
        for _ in 0..count {
            let op = reader.u8()?;
            let key = reader.bytes()?.to_vec();
            let value = match op {
                PUT => Some(reader.bytes()?.to_vec()),
                DELETE => None,
                other => return Err(format!("unknown write kind {other}")),
            };
            writes.push((key, value));
        }
        commits.push(Commit { position, writes });
    }
    Ok((epoch, commits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_chunks_round_trip_and_reject_truncation() {
        let commits = vec![
            Commit {
                position: CommitPosition {
                    seq: 3,
                    time_ms: 10,
                },
                writes: vec![(vec![1, 2], Some(vec![3])), (vec![1, 4], None)],
            },
            Commit {
                position: CommitPosition {
                    seq: 4,
                    time_ms: 11,
                },
                writes: vec![],
            },
        ];
        let body = encode_segment(7, &commits);
        let (epoch, back) = decode_segment(&body).expect("decode");
        assert_eq!(epoch, 7);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].writes, commits[0].writes);
        assert_eq!(back[1].position, commits[1].position);
        assert!(decode_segment(&body[..body.len() - 3]).is_err());

        let entries = vec![(vec![1], vec![2, 3]), (vec![4], vec![])];
        assert_eq!(
            decode_chunk(&encode_chunk(&entries)).expect("chunk"),
            entries
        );
        assert!(decode_chunk(&[9, 0, 0, 0, 1]).is_err());
    }
}
