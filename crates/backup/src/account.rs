//! The account's configuration, backed up beside its data: the files that
//! hold its keys, role assignments and TLS certificate. Without them a
//! restore on a fresh volume would come up with the well-known key, no role
//! assignments and a new certificate. The files go up as one sealed object
//! (encrypted when the location has a key) whenever their content changes;
//! a restore writes the newest one at or before its point in time into the
//! data dir, next to the restored data.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{BackupError, Result};
use crate::seal::{self, Kind};
use crate::target::Target;

pub(crate) const PREFIX: &str = "account/";

/// Account objects kept: enough to restore to a recent point in time with
/// the keys of then; older ones go.
const KEPT: usize = 10;

/// File name -> content, as the data dir holds them.
pub type AccountFiles = BTreeMap<String, Vec<u8>>;

/// Reads the account's files now; the backup uploads them when they change.
#[derive(Clone)]
pub struct AccountSource(pub Arc<dyn Fn() -> AccountFiles + Send + Sync>);

impl fmt::Debug for AccountSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountSource")
    }
}

#[derive(Serialize, Deserialize)]
struct Body {
    /// File name -> base64 of its content.
    files: BTreeMap<String, String>,
}

fn name(taken_ms: u64) -> String {
    format!("{PREFIX}{taken_ms:015}.account")
}

fn taken_ms(name: &str) -> Option<u64> {
    name.strip_prefix(PREFIX)?
        .strip_suffix(".account")?
        .parse()
        .ok()
}

/// A digest of `files`, to tell whether they changed since the last upload.
pub(crate) fn digest(files: &AccountFiles) -> String {
    let mut all = Vec::new();
    for (name, content) in files {
        all.extend_from_slice(&(name.len() as u64).to_le_bytes());
        all.extend_from_slice(name.as_bytes());
        all.extend_from_slice(&(content.len() as u64).to_le_bytes());
        all.extend_from_slice(content);
    }
    seal::sha256_hex(&all)
}

/// Uploads `files` as the account's configuration as of now, and drops all
/// but the newest few.
pub(crate) async fn upload(target: &Target, files: &AccountFiles) -> Result<()> {
    let body = Body {
        files: files
            .iter()
            .map(|(name, content)| (name.clone(), STANDARD.encode(content)))
            .collect(),
    };
    let json = serde_json::to_vec(&body).map_err(|e| BackupError::Restore(e.to_string()))?;
    let sealed = target.sealer().seal(Kind::Account, &json)?;
    target.put(&name(crate::now_ms()), sealed).await?;
    let mut names: Vec<String> = target
        .list(PREFIX)
        .await?
        .into_iter()
        .map(|l| l.name)
        .filter(|n| taken_ms(n).is_some())
        .collect();
    names.sort();
    let surplus = names.len().saturating_sub(KEPT);
    for old in &names[..surplus] {
        target.delete(old).await?;
    }
    Ok(())
}

/// The newest account configuration taken at or before `until_ms`, if any.
pub async fn download(target: &Target, until_ms: u64) -> Result<Option<AccountFiles>> {
    let newest = target
        .list(PREFIX)
        .await?
        .into_iter()
        .filter_map(|l| taken_ms(&l.name).map(|t| (t, l.name)))
        .filter(|(t, _)| *t <= until_ms)
        .max();
    let Some((_, path)) = newest else {
        return Ok(None);
    };
    let corrupt = |reason: String| BackupError::Corrupt {
        path: path.clone(),
        reason,
    };
    let bytes = target
        .get(&path)
        .await?
        .ok_or_else(|| corrupt("listed but missing".into()))?;
    let json = target
        .sealer()
        .unseal(Kind::Account, &bytes)
        .map_err(corrupt)?;
    let body: Body = serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))?;
    body.files
        .into_iter()
        .map(|(name, content)| {
            let content = STANDARD
                .decode(content)
                .map_err(|e| corrupt(format!("{name}: {e}")))?;
            Ok((name, content))
        })
        .collect::<Result<_>>()
        .map(Some)
}

/// Writes `files` into `dir`, leaving alone any it already has (an operator's
/// own, or one written since); returns the names written. Each is written
/// whole and synced by `write`.
pub fn write_into(
    dir: &Path,
    files: &AccountFiles,
    write: impl Fn(&Path, &[u8]) -> std::io::Result<()>,
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for (name, content) in files {
        // Names come from the location: only plain file names are written.
        if name.contains(['/', '\\']) || name.starts_with('.') || name.is_empty() {
            return Err(BackupError::Restore(format!(
                "the account configuration names a file '{name}' outside the data dir"
            )));
        }
        let path = dir.join(name);
        if path.exists() {
            continue;
        }
        write(&path, content)?;
        written.push(name.clone());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_parse_back() {
        assert_eq!(taken_ms(&name(42)), Some(42));
        assert!(name(9) < name(10));
        assert_eq!(taken_ms("account/x.account"), None);
    }

    #[test]
    fn files_are_written_only_where_missing_and_only_inside_the_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cert.pem"), b"mine").expect("write");
        let files: AccountFiles = [
            ("keys.json".to_string(), b"{}".to_vec()),
            ("cert.pem".to_string(), b"theirs".to_vec()),
        ]
        .into();
        let written = write_into(dir.path(), &files, |p, c| std::fs::write(p, c)).expect("write");
        assert_eq!(written, vec!["keys.json".to_string()]);
        assert_eq!(
            std::fs::read(dir.path().join("cert.pem")).expect("read"),
            b"mine"
        );
        let hostile: AccountFiles = [("../x".to_string(), b"".to_vec())].into();
        assert!(write_into(dir.path(), &hostile, |p, c| std::fs::write(p, c)).is_err());
    }
}
