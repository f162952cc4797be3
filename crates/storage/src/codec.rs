//! Byte encodings shared by the write-ahead log and continuous backup:
//! length-prefixed byte strings, little-endian integers and lists of writes,
//! read back with bounds checks (a reader may be handed bytes damaged on disk).

use crate::backend::Write;

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

const PUT: u8 = 1;
const DELETE: u8 = 0;

/// Appends a list of writes: its length, then each write.
pub fn put_writes(out: &mut Vec<u8>, writes: &[Write]) {
    out.extend_from_slice(&(writes.len() as u32).to_le_bytes());
    for (key, value) in writes {
        match value {
            Some(v) => {
                out.push(PUT);
                put_bytes(out, key);
                put_bytes(out, v);
            }
            None => {
                out.push(DELETE);
                put_bytes(out, key);
            }
        }
    }
}

impl Reader<'_> {
    /// Reads what [`put_writes`] wrote.
    pub fn writes(&mut self) -> Result<Vec<Write>, String> {
        let count = self.u32()?;
        // Each write takes at least five bytes; a damaged count must not
        // reserve memory for writes that cannot be there.
        let mut writes = Vec::with_capacity((count as usize).min(self.remaining() / 5));
        for _ in 0..count {
            let op = self.u8()?;
            let key = self.bytes()?.to_vec();
            let value = match op {
                PUT => Some(self.bytes()?.to_vec()),
                DELETE => None,
                other => return Err(format!("unknown write kind {other}")),
            };
            writes.push((key, value));
        }
        Ok(writes)
    }

    fn remaining(&self) -> usize {
        self.bytes.len()
    }
}
