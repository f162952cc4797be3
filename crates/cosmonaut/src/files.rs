//! The server's own small files (keys, certificate, role assignments, ids)
//! are replaced whole and durably: written under a temporary name, synced,
//! renamed over the old one, and the directory synced, so after a crash or a
//! full disk a reader finds the old file or the new one, never a part.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Who may read a file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Its owner only: keys and secrets.
    Private,
    /// Everyone: the certificate.
    Public,
}

pub fn replace(path: &Path, contents: &[u8], access: Access) -> Result<(), String> {
    let partial = partial_name(path);
    let written = write_synced(&partial, contents, access)
        .and_then(|()| std::fs::rename(&partial, path))
        .and_then(|()| sync_dir(path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        format!("cannot write {}: {e}", path.display())
    })
}

fn partial_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

fn write_synced(path: &Path, contents: &[u8], access: Access) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match access {
            Access::Private => 0o600,
            Access::Public => 0o644,
        });
    }
    #[cfg(not(unix))]
    let _ = access;
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// The contents of `path`, or `None` when there is no such file.
pub fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_with_the_asked_access() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.json");
        replace(&path, b"one", Access::Private).expect("first");
        replace(&path, b"two", Access::Private).expect("second");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert!(!partial_name(&path).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
