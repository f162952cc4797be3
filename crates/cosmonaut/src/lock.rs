//! One server per data dir: `serve` holds an exclusive lock on
//! `<data dir>/cosmonaut.lock` (the operating system's file lock, released
//! whenever the process ends, however it ends) with its pid inside, so a
//! second server on the same data dir is told who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const LOCK_FILE: &str = "cosmonaut.lock";

pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn take(data_dir: &Path) -> Result<Self, String> {
        let path = data_dir.join(LOCK_FILE);
        let cannot = |e: std::io::Error| format!("cannot lock {}: {e}", path.display());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another server".to_string(),
                    pid => format!("another server (pid {pid})"),
                };
                return Err(format!(
                    "{holder} is serving the data dir {}; stop it first, or give this one \
                     another --data-dir",
                    data_dir.display()
                ));
            }
            Err(TryLockError::Error(e)) => return Err(cannot(e)),
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| write!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(cannot)?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_the_first_ones_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = DataDirLock::take(dir.path()).expect("first lock");
        let refused = DataDirLock::take(dir.path()).err().expect("second refused");
        assert!(
            refused.contains(&format!("pid {}", std::process::id())),
            "{refused}"
        );
        drop(first);
        DataDirLock::take(dir.path()).expect("free again");
    }
}
