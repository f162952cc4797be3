//! The binary bodies of chunks and segments, in storage's byte encoding
//! (a restore reads data it did not write in this process).

use cosmonaut_storage::codec::{put_bytes, put_u64, put_writes, Reader};
use cosmonaut_storage::{Commit, CommitPosition, KeyValue};

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

/// A segment: consecutive commits of one writer epoch.
pub fn encode_segment(epoch: u64, commits: &[Commit]) -> Vec<u8> {
    let mut out = Vec::new();
    put_u64(&mut out, epoch);
    for commit in commits {
        put_u64(&mut out, commit.position.seq);
        put_u64(&mut out, commit.position.time_ms);
        put_writes(&mut out, &commit.writes);
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
        let writes = reader.writes()?;
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
