//! Room on the disk for the flush. redb latches the first write that fails
//! and then refuses everything, uncached reads included, until its file is
//! opened again (`reopen`); so a flush checks for room before each of its
//! transactions and waits, failing cleanly, while the disk is nearly full.
//! Reads then go on untouched, and the flush resumes once space is freed.

use std::path::Path;

use super::Shared;
use crate::{Result, StorageError};

/// Free space a flush transaction wants before it starts: several times
/// what one writes (its share of a memtable, the B-tree pages it copies
/// and the allocator state), so it cannot run out midway.
const FLUSH_HEADROOM: u64 = 4 << 20;

impl Shared {
    /// Refuses to start a flush transaction on a nearly full disk.
    pub(super) fn check_room(&self) -> Result<()> {
        match free_bytes(&self.data_file) {
            Some(free) if free < FLUSH_HEADROOM => Err(StorageError::Unavailable(format!(
                "the disk holding the data file is full ({free} bytes free; a flush waits \
                 for {FLUSH_HEADROOM})"
            ))),
            _ => Ok(()),
        }
    }
}

/// Bytes free to unprivileged writers on the filesystem holding `file`.
#[cfg(unix)]
fn free_bytes(file: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stats` is a buffer of
    // the type statvfs fills; it is read only when the call succeeds.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    // The fields are narrower than u64 on some platforms.
    #[allow(clippy::useless_conversion)]
    let (blocks, block_size) = (u64::from(stats.f_bavail), u64::from(stats.f_frsize));
    Some(blocks.saturating_mul(block_size))
}

#[cfg(not(unix))]
fn free_bytes(_file: &Path) -> Option<u64> {
    None
}
